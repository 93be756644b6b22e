"""The promotion routes of the control API, served in-process on loopback over a real
journal: token required, the operator's decision journaled, bad requests change nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from genesis.api.app import build_app
from genesis.api.openapi import document
from genesis.api.routes import ROUTES
from genesis.paper.ledger import ALLOCATIONS_FILE, PromotionLedger
from genesis.paper.promotion import NS_PER_DAY, decide, evaluate
from genesis.portfolio.performance import TradeRecord
from genesis.storage import open_repository
from genesis.storage.factory import DEFAULT_SQLITE_NAME
from genesis.storage.repository import Repository

from .test_ledger import SID, _config, _Log

TOKEN = "t" * 40
DAY12 = (18992 + 12) * NS_PER_DAY - 1
PID = f"{SID}-{DAY12}"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def served(
    tmp_path: Path, trades: list[TradeRecord]
) -> AsyncIterator[tuple[TestClient[Any, Any], Repository]]:
    """A daemon stand-in holding a ledger with one proposal (made by ``decide``)."""
    repo = await open_repository(None, tmp_path, DEFAULT_SQLITE_NAME)
    ledger = PromotionLedger(repo, tmp_path / ALLOCATIONS_FILE)
    criteria = _config().promotion
    assert criteria is not None
    proposal = decide(SID, [], evaluate(trades, criteria, DAY12), criteria)
    await ledger.record(DAY12, "paper", proposal)
    operator: Any = SimpleNamespace(d=SimpleNamespace(promotions=ledger, log=_Log()))
    client = TestClient(TestServer(build_app(operator, TOKEN.encode(), _Log()), host="127.0.0.1"))
    await client.start_server()
    try:
        yield client, repo
    finally:
        await client.close()
        await repo.close()


async def test_every_promotion_route_needs_the_token(served: Any) -> None:
    """No token: 401 on list, approve and reject, and no decision row is written."""
    client, repo = served
    before = len(await repo.audit_log(0))

    answers = [
        (await client.get("/api/v1/promotions")).status,
        (await client.post(f"/api/v1/promotions/{PID}/approve?reason=x")).status,
        (await client.post(f"/api/v1/promotions/{PID}/reject?reason=x")).status,
    ]

    assert answers == [401, 401, 401]
    assert len(await repo.audit_log(0)) == before


async def test_approve_grants_step_one_and_journals_actor_api(served: Any, tmp_path: Path) -> None:
    """POST approve: 200, status approved, 2,000 allocated in the file, an api audit row."""
    client, repo = served

    response = await client.post(f"/api/v1/promotions/{PID}/approve?reason=ok", headers=AUTH)
    body = await response.json()

    assert response.status == 200
    assert (body["status"], body["step"], body["allocation"]) == ("approved", 1, "2000.00")
    assert json.loads((tmp_path / ALLOCATIONS_FILE).read_text())[SID]["amount"] == "2000.00"
    last = (await repo.audit_log(0))[-1]
    assert (last.actor, last.action) == ("api", "promotion_approved")


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        (f"/api/v1/promotions/{PID}/approve", 422, "reason_required"),
        (f"/api/v1/promotions/{PID}/reject?reason=%20", 422, "reason_required"),
        ("/api/v1/promotions/nope/approve?reason=x", 404, "unknown_promotion"),
    ],
)
async def test_bad_requests_are_refused_and_change_nothing(
    served: Any, tmp_path: Path, path: str, status: int, code: str
) -> None:
    """Missing reason or unknown id: the documented error body; no row, no allocation."""
    client, repo = served
    before = len(await repo.audit_log(0))

    response = await client.post(path, headers=AUTH)

    assert (response.status, (await response.json())["error"]) == (status, code)
    assert len(await repo.audit_log(0)) == before
    assert not (tmp_path / ALLOCATIONS_FILE).exists()


async def test_list_shows_the_proposal_and_its_evidence(served: Any) -> None:
    """GET lists the proposal: 330 trades, four steps, nothing allocated."""
    client, _ = served

    body = await (await client.get("/api/v1/promotions", headers=AUTH)).json()

    assert [(p["promotion_id"], p["status"], p["allocation"]) for p in body] == [
        (PID, "proposed", None)]  # fmt: skip
    assert (body[0]["evidence"]["trades"], body[0]["of_steps"]) == (330, 4)


def test_openapi_documents_the_promotion_routes() -> None:
    """The three routes are in the document, approve and reject with a required reason."""
    paths = document(ROUTES)["paths"]

    approve = paths["/api/v1/promotions/{id}/approve"]["post"]
    assert "get" in paths["/api/v1/promotions"]
    assert "post" in paths["/api/v1/promotions/{id}/reject"]
    assert [(p["name"], p["required"]) for p in approve["parameters"]] == [
        ("id", True), ("reason", True)]  # fmt: skip
