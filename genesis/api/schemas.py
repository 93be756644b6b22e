"""JSON schemas of the control API's answers, for the OpenAPI document (and so for
schemathesis' conformance checks). Money is a decimal string; ids are strings."""

from __future__ import annotations

from typing import Any

__all__ = ["ARRAY_OF", "HEALTH", "KILL", "ORDER", "ORDER_ACCEPTED", "POSITION", "PROMOTION", "RISK",
           "STRATEGY", "VALIDATION", "VERSION"]  # fmt: skip

_MONEY = {"type": ["string", "null"]}
_STR = {"type": "string"}


def _obj(required: dict[str, Any], **optional: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": sorted(required),
        "properties": {**required, **optional},
    }


def ARRAY_OF(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


ORDER_ACCEPTED = _obj({"client_order_id": _STR, "status": _STR})
ORDER = _obj({
    "client_order_id": _STR, "strategy_id": _STR, "instrument_id": _STR,
    "side": {"enum": ["BUY", "SELL"]}, "type": _STR, "quantity": _MONEY, "price": _MONEY,
    "filled_qty": _MONEY, "status": _STR, "ts_init": {"type": "integer"},
    "ts_last": {"type": "integer"},
})  # fmt: skip
POSITION = _obj({
    "account_id": _STR, "instrument_id": _STR, "strategy_id": _STR, "qty": _MONEY,
    "avg_open_px": _MONEY, "mark_px": _MONEY, "realized_pnl": _MONEY, "unrealized_pnl": _MONEY,
})  # fmt: skip
VALIDATION = _obj({
    "verdict": {"enum": ["APPROVED", "REFUSED"]}, "code": {"type": ["string", "null"]},
    "detail": _STR,
})  # fmt: skip
KILL = _obj(
    {"request_id": _STR, "account_id": _STR, "engaged": {"type": "boolean"},
     "reason": {"type": ["string", "null"]}},
    latency_ms={"type": "number"},
)  # fmt: skip
RISK = _obj({
    "kill_switch": _obj({"engaged": {"type": "boolean"}}),
    "accounts": {"type": "object"}, "rejections": {"type": "object"}, "limits": _STR,
    "breakers": ARRAY_OF(_obj({"scope": _STR, "code": _STR, "reason": _STR})),
    "measures": _obj({"score": {"type": "number"}, "equity": _MONEY}),
})  # fmt: skip
HEALTH = _obj({
    "status": {"enum": ["HEALTHY", "DEGRADED", "CRITICAL"]}, "reasons": ARRAY_OF(_STR),
    "mode": _STR, "events": {"type": "integer"},
})  # fmt: skip
STRATEGY = _obj({
    "id": _STR, "strategy": _STR, "running": {"type": "boolean"},
    "enabled": {"type": "boolean"}, "version": _STR, "params": {"type": "object"},
})  # fmt: skip
VERSION = _obj({"strategy_id": _STR, "sha256": _STR, "ts_ns": {"type": "integer"},
                "running": {"type": "boolean"}})  # fmt: skip
PROMOTION = _obj({
    "promotion_id": _STR, "strategy_id": _STR,
    "status": {"enum": ["proposed", "approved", "held", "completed", "rejected"]},
    "step": {"type": "integer"}, "of_steps": {"type": "integer"}, "allocation": _MONEY,
    "evidence": {"type": "object"}, "steps": ARRAY_OF({"type": "object"}),
})  # fmt: skip
