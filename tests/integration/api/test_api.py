"""The control API against a real paper daemon on loopback (OP-1, RK-2, R20, R21)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, cast

import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from genesis.api.app import MAX_BODY, build_app
from genesis.api.auth import authorized
from genesis.api.openapi import document
from genesis.api.routes import ROUTES
from genesis.daemon.operator import Operator

from .conftest import TOKEN, VENUE_KEY, VENUE_SECRET, LiveDaemon

STRATEGY = "sniper-breakout-btc"  # tests/data/strategies
# an order risk refuses under the sniper tier: no signal confidence
UNCONFIDENT = {"instrument_id": "BTCUSDT", "side": "BUY", "type": "LIMIT",
               "quantity": "0.0004", "price": "30000"}  # fmt: skip
# one risk passes: small, confident, with its stop loss, far below the market (rests)
RESTING = {**UNCONFIDENT, "confidence": 0.9, "stop_loss": "29000"}


def _audit(data_dir: Path) -> list[tuple[str, str, str]]:
    """The journal's audit rows (actor, action, detail), read-only."""
    with sqlite3.connect(f"file:{data_dir / 'genesis.db'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT actor, action, detail_json FROM audit_log ORDER BY id")
        return [(str(a), str(b), str(c)) for a, b, c in rows]


def _operator_state(d: LiveDaemon) -> dict[str, Any]:
    """What the operator can change: manual orders, kill switches, strategies."""
    risk = d.call("GET", "/api/v1/risk/status")[1]
    return {
        "orders": d.call("GET", "/api/v1/orders?strategy=operator&limit=1000")[1],
        "kill": risk["kill_switch"],
        "accounts": risk["accounts"],
        "strategies": d.call("GET", "/api/v1/strategies")[1],
        "api_rows": [r for r in _audit(d.data_dir) if r[0] == "api"],
    }


def test_every_registered_route_is_documented_and_vice_versa() -> None:
    """The app's routes and the OpenAPI document's operations are the same set."""
    app = build_app(cast(Operator, None), b"x" * 32, structlog.get_logger())
    registered = {
        (r.method, r.resource.canonical)
        for r in app.router.routes()
        if r.resource is not None and r.method != "HEAD"
    }
    doc = document(ROUTES)
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert registered == documented
    assert len(documented) == len(ROUTES)


def test_token_compare_needs_the_exact_bearer_token() -> None:
    """Only 'Bearer <token>' passes: no prefix, suffix, other scheme or missing header."""
    token = b"t" * 32
    assert authorized("Bearer " + "t" * 32, token)
    assert authorized("bearer " + "t" * 32, token)
    assert not authorized(None, token)
    assert not authorized("Bearer " + "t" * 31, token)
    assert not authorized("Bearer " + "t" * 33, token)
    assert not authorized("Basic " + "t" * 32, token)
    assert not authorized("t" * 32, token)


@settings(max_examples=300, deadline=None)
@given(presented=st.text(st.characters(codec=None, exclude_categories=()), max_size=80))
def test_no_other_header_passes_the_token_check(presented: str) -> None:
    """Any header but 'Bearer <token>' (scheme in any case) is refused."""
    token = "k" * 40
    expected = presented.partition(" ")[0].lower() == "bearer" and (
        presented.partition(" ")[2].strip() == token
    )
    assert authorized(presented, token.encode()) is expected


def test_manual_order_is_placed_listed_and_cancelled(daemon: LiveDaemon) -> None:
    """A resting manual order: 201 SUBMITTED, listed under operator, cancel moves it on."""
    status, placed = daemon.call("POST", "/api/v1/orders", RESTING)
    assert status == 201, placed
    cid = placed["client_order_id"]
    assert cid.startswith("operator-")
    assert placed["status"] == "SUBMITTED"
    listed = daemon.call("GET", "/api/v1/orders?strategy=operator")[1]
    assert cid in [o["client_order_id"] for o in listed]
    mine = next(o for o in listed if o["client_order_id"] == cid)
    assert (mine["price"], mine["quantity"], mine["side"]) == ("30000", "0.0004", "BUY")
    status, cancelled = daemon.call("PUT", f"/api/v1/orders/{cid}/cancel")
    assert status == 200, cancelled
    assert cancelled["status"] in ("PENDING_CANCEL", "CANCELED")
    rows = [r for r in _audit(daemon.data_dir) if r[0] == "api" and cid in r[2]]
    assert [r[1] for r in rows] == ["api_order", "api_cancel"]


def test_risk_refusal_is_422_with_code_and_sentence(daemon: LiveDaemon) -> None:
    """An order without confidence under the sniper tier: 422 CONFIDENCE_MISSING, DENIED."""
    status, body = daemon.call("POST", "/api/v1/orders", UNCONFIDENT)
    assert status == 422
    assert body["error"] == "CONFIDENCE_MISSING"
    assert "0.6" in body["detail"]
    assert body["status"] == "DENIED"


def test_validate_is_a_dry_run(daemon: LiveDaemon) -> None:
    """POST /risk/validate gives the verdict and places nothing, counts nothing."""
    before = _operator_state(daemon)
    rejections = daemon.call("GET", "/api/v1/risk/status")[1]["rejections"]
    refused = daemon.call("POST", "/api/v1/risk/validate", UNCONFIDENT)
    approved = daemon.call("POST", "/api/v1/risk/validate", RESTING)
    assert refused == (200, {"verdict": "REFUSED", "code": "CONFIDENCE_MISSING",
                             "detail": refused[1]["detail"]})  # fmt: skip
    assert approved[1]["verdict"] == "APPROVED"
    assert _operator_state(daemon) == before
    assert daemon.call("GET", "/api/v1/risk/status")[1]["rejections"] == rejections


def test_bad_requests_are_4xx_json_and_change_nothing(daemon: LiveDaemon) -> None:
    """Malformed JSON, oversize body, bad fields, unknown ids/routes, token in the URL."""
    before = _operator_state(daemon)
    cases = [
        (daemon.call("POST", "/api/v1/orders", raw=b"{not json"), 400, "malformed_json"),
        (daemon.call("POST", "/api/v1/orders", raw=b"[1]"), 400, "body_not_object"),
        (daemon.call("POST", "/api/v1/orders", raw=b"x" * (MAX_BODY + 1)), 413, "body_too_large"),
        (daemon.call("POST", "/api/v1/orders", {**RESTING, "quantity": "-1"}), 422,
         "invalid_body"),
        (daemon.call("POST", "/api/v1/orders", {**RESTING, "price": "NaN"}), 422, "invalid_body"),
        (daemon.call("POST", "/api/v1/orders", {**RESTING, "quantity": "1e29"}), 422,
         "InvalidOrder"),
        (daemon.call("POST", "/api/v1/risk/validate", {**RESTING, "price": "1e29"}), 422,
         "InvalidOrder"),
        (daemon.call("POST", "/api/v1/orders", {**RESTING, "instrument_id": "ETHUSDT"}), 422,
         "unknown_instrument"),
        (daemon.call("POST", "/api/v1/orders", {**RESTING, "strategy_id": "nobody"}), 404,
         "unknown_strategy"),
        (daemon.call("PUT", "/api/v1/orders/nope/cancel"), 404, "unknown_order"),
        (daemon.call("GET", "/api/v1/orders?limit=0"), 400, "bad_query"),
        (daemon.call("GET", "/api/v1/orders?status=LOST"), 400, "bad_status"),
        (daemon.call("GET", "/no/such/route"), 404, "not_found"),
        (daemon.call("DELETE", "/api/v1/orders"), 405, "method_not_allowed"),
        (daemon.call("GET", f"/health?token={TOKEN}", token=None), 400, "token_in_query"),
        (daemon.call("POST", "/api/v1/risk/nowhere/kill-switch?reason=x"), 404,
         "unknown_account"),
        (daemon.call("POST", "/api/v1/risk/binance/kill-switch?reason=x&flatten=true"), 422,
         "flatten_global_only"),
        (daemon.call("POST", "/api/v1/risk/global/kill-switch?reason=x&flatten=maybe"), 400,
         "bad_query"),
        (daemon.call("PUT", f"/api/v1/strategies/{STRATEGY}/params",
                     {"params": {"lookback": -3}}), 422, "invalid_params"),
    ]  # fmt: skip
    for (status, body), want_status, want_code in cases:
        assert (status, body["error"]) == (want_status, want_code), body
        assert isinstance(body["detail"], str)
        assert body["detail"]
    assert _operator_state(daemon) == before


def test_params_change_is_validated_applied_and_journaled(daemon: LiveDaemon) -> None:
    """PUT params merges, the strategy runs the new version, config_applied is journaled."""
    old = daemon.call("GET", f"/api/v1/strategies/{STRATEGY}/params")[1]
    status, done = daemon.call("PUT", f"/api/v1/strategies/{STRATEGY}/params",
                               {"params": {"lookback": 21}})  # fmt: skip
    assert status == 200, done
    new = daemon.call("GET", f"/api/v1/strategies/{STRATEGY}/params")[1]
    assert new["params"] == {**old["params"], "lookback": 21}
    assert new["version"] == done["version"] != old["version"]
    applied = [r for r in _audit(daemon.data_dir) if r[1] == "config_applied"]
    assert done["version"] in applied[-1][2]
    versions = daemon.call("GET", f"/api/v1/config/versions?strategy_id={STRATEGY}")[1]
    assert done["version"] in [v["sha256"] for v in versions]


def test_disable_and_enable_a_strategy(daemon: LiveDaemon) -> None:
    """Disable: enabled false with the reason, its orders cancelled; enable undoes it."""
    status, _ = daemon.call("POST", f"/api/v1/strategies/{STRATEGY}/disable?reason=test")
    assert status == 200
    listed = {s["id"]: s for s in daemon.call("GET", "/api/v1/strategies")[1]}
    assert (listed[STRATEGY]["enabled"], listed[STRATEGY]["disabled_reason"]) == (False, "test")
    assert daemon.call("POST", f"/api/v1/strategies/{STRATEGY}/enable")[0] == 200
    listed = {s["id"]: s for s in daemon.call("GET", "/api/v1/strategies")[1]}
    assert listed[STRATEGY]["enabled"] is True


def test_reads_answer_with_their_shapes(daemon: LiveDaemon) -> None:
    """Health, positions, performance (with attribution and risk), alerts and metrics."""
    health = daemon.call("GET", "/health")[1]
    assert health["status"] in ("HEALTHY", "DEGRADED", "CRITICAL")
    assert health["mode"] == "paper"
    assert [(c["table"], c["ok"]) for c in health["audit_chain"]] == [
        ("order_events", True),
        ("audit_log", True),
    ]
    perf = daemon.call("GET", "/api/v1/performance/metrics")[1]
    assert STRATEGY in perf["strategies"]
    assert "equity" in perf
    assert {"attribution", "correlation", "capacity", "execution_quality", "risk"} <= set(perf)
    assert 0 <= perf["risk"]["score"] <= 100
    assert daemon.call("GET", "/api/v1/positions?account_id=binance")[0] == 200
    assert daemon.call("GET", "/api/v1/alerts")[1] == []
    assert daemon.call("GET", "/metrics")[0] == 200
    status, body = daemon.call("PUT", "/api/v1/orders/x/modify", {"price": "1"})
    assert status == 404, body


def test_modify_moves_a_resting_order_and_a_refused_one_changes_nothing(
    daemon: LiveDaemon,
) -> None:
    """EX-2 through the API: a new price is sent (PENDING_UPDATE, then the venue's price);
    a quantity risk refuses is a 422 with its code, the order keeps its terms."""
    cid = daemon.call("POST", "/api/v1/orders", RESTING)[1]["client_order_id"]

    status, moved = daemon.call("PUT", f"/api/v1/orders/{cid}/modify", {"price": "30100"})
    refused = daemon.call("PUT", f"/api/v1/orders/{cid}/modify", {"quantity": "50"})

    assert status == 200, moved
    assert moved["status"] in ("PENDING_UPDATE", "ACCEPTED")
    mine = next(o for o in daemon.call("GET", "/api/v1/orders")[1]
                if o["client_order_id"] == cid)  # fmt: skip
    assert (mine["price"], mine["quantity"]) == ("30100", "0.0004")
    assert refused[0] == 422, refused
    assert refused[1]["error"] in ("MAX_POSITION_SIZE", "INSUFFICIENT_CASH", "MAX_LEVERAGE")
    daemon.call("PUT", f"/api/v1/orders/{cid}/cancel")


def test_r20_every_documented_route_without_token_is_401(daemon: LiveDaemon) -> None:
    """R20: no token or a wrong one on every documented route: 401, no data, no change."""
    doc = daemon.call("GET", "/openapi.json")[1]
    before = _operator_state(daemon)
    probed = 0
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if op.get("x-public"):
                continue  # the dashboard's static files: no data
            url = path.replace("{id}", "x").replace("{account_id}", "global")
            for token in (None, "wrong-" + TOKEN, TOKEN[:-1]):
                status, body = daemon.call(method.upper(), url, {}, token=token)
                assert (status, body["error"]) == (401, "unauthorized"), (method, path)
                probed += 1
            preflight = daemon.call("OPTIONS", url, token=None,
                                    headers={"Origin": "https://evil.example",
                                             "Access-Control-Request-Method": "POST"})  # fmt: skip
            assert preflight[0] in (401, 405)
    assert probed == 3 * sum(1 for r in ROUTES if not r.public)
    assert _operator_state(daemon) == before


def test_r21_no_secret_anywhere(daemon: LiveDaemon) -> None:
    """R21: the token and the venue key/secret are in no log, DB row, response or metric."""
    answers = [
        daemon.call("GET", "/health", token="wrong")[1],
        daemon.call("POST", "/api/v1/orders", raw=b"{bad")[1],
        daemon.call("POST", "/api/v1/orders", UNCONFIDENT)[1],
        daemon.call("GET", "/openapi.json")[1],
        daemon.call("GET", "/api/v1/risk/status")[1],
        daemon.call("GET", "/api/v1/strategies")[1],
        daemon.call("GET", "/metrics")[1],
        daemon.call("GET", f"/health?token={TOKEN}", token=None)[1],
    ]
    db = b"".join(p.read_bytes() for p in daemon.data_dir.glob("genesis.db*"))
    places = {"logs": daemon.logs(), "answers": repr(answers), "db": db.decode("latin-1")}
    for secret in (TOKEN, VENUE_KEY, VENUE_SECRET):
        for name, text in places.items():
            assert secret not in text, f"a secret leaked into {name}"
