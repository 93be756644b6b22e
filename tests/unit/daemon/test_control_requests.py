"""Which operator requests are still pending: each kill or reset is handled exactly once."""

from __future__ import annotations

import json

from genesis.daemon.control import (
    CLEARED,
    ENGAGED,
    KILL,
    REFUSED,
    RESET,
    kill_state,
    pending_requests,
)
from genesis.storage.repository import AuditRecord


def _row(action: str, **detail: object) -> AuditRecord:
    return AuditRecord(1, "operator", action, json.dumps(detail))


def test_engaged_cleared_and_refused_rows_mark_their_requests_handled() -> None:
    audits = [
        _row(KILL, request_id="k1", reason="a"),
        _row(ENGAGED, request_id="k1", reason="a", source="operator"),
        _row(RESET, request_id="r1", reason="b"),
        _row(REFUSED, request_id="r1", reason="venue not clean"),
        _row(RESET, request_id="r2", reason="c"),
    ]
    assert [p.request_id for p in pending_requests(audits)] == ["r2"]
    state = kill_state(audits)
    assert (state.engaged, state.source) == (True, "operator")  # a refused reset clears nothing
    audits.append(_row(CLEARED, request_id="r2", reason="c"))
    assert pending_requests(audits) == []
    assert kill_state(audits).engaged is False


def test_rows_without_an_id_or_with_bad_json_are_ignored() -> None:
    audits = [_row(KILL, reason="no id"), AuditRecord(1, "operator", KILL, "{not json")]
    assert pending_requests(audits) == []
