"""Monitoring: Prometheus metrics (OP-2) and rule-based alerts (OP-3) of the daemon.

``metrics.Metrics.render()`` is what ``/metrics`` serves; ``alerts.Alerts.recent(limit)``
is what the API and the dashboard show. Both are built by the daemon (``daemon.metrics``,
``daemon.alerts``) and fed from its callbacks and its health tick (``watch``). This
package file imports nothing, so the settings can use ``urls`` without loading apprise
or prometheus-client.
"""
