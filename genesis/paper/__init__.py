"""Paper to live (SPEC PT-2, PT-3): promotion criteria and schedules, A/B comparison,
regression detection. The pure parts (``criteria``, ``promotion``, ``stats``) are
deterministic and clock-free; ``ledger`` and ``monitor`` are the edge that reads and
writes the journal; ``cli`` is ``genesis promotion`` and ``genesis ab``."""
