"""Compliance reporting at the edge: the period report and the audit-chain CLI (OP-6)."""
