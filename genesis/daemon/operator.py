"""The operator's facade over a running daemon: what the control API reads and asks.

Reads look at the daemon's state directly. That is safe without locks: the API
handlers run on the daemon's event loop, and the kernel is only ever changed
synchronously inside one step of the trading loop, so between two awaits it is
never half-way through an event.

Every mutation (an order, a cancel, a kill, a parameter change...) is a
coroutine put on the daemon's ``operator_lane``: the trading loop runs it
between two market events, ahead of the market data already queued (the
kernel is single-threaded), carries the commands it produced to the venues
(intents committed first, as for any order), and the awaiting request gets the
outcome. A request that is not applied within ``timeout_s`` is withdrawn (it
will not run later) and answered 503: nothing changed.

Each accepted mutation leaves an audit row (actor ``api``) in the journal.
Operator orders use the strategy id ``operator`` unless they name a running
strategy; their positions are that strategy's. Decisions recorded here:

* a kill switch request is written to the journal exactly as ``genesis kill``
  writes it (plus ``account`` for one venue), durable before it is applied,
  and marked as seen so the poller does not apply it again;
* a venue's kill refuses new exposure on that venue only (orders that reduce
  the owning strategy's position still pass) and cancels its entry orders;
* strategy parameters given in a PUT are merged into the running ones (a field
  not given keeps its value), validated by the strategy's own model;
* enabling a strategy the guard disabled after an exception is refused (its
  state is unknown: restart it), only an operator's disable can be undone;
* operator orders, enable/disable and venue kills are not replayed by a paper
  rebuild after a restart (the journal has them; the global kill is replayed).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar, cast

from pydantic import ValidationError

from genesis.api.errors import ApiError
from genesis.api.models import ModifyRequest, OrderRequest
from genesis.config.models import StrategyConfig
from genesis.core.enums import OrderStatus, Side
from genesis.core.events import StrategyErrored
from genesis.core.instruments import split_instrument_id
from genesis.core.orders import Order
from genesis.daemon.control import KILL, RESET, ControlRequest
from genesis.daemon.reload import ConfigChange, refusal
from genesis.errors import GenesisError
from genesis.execution.factory import OrderFactory
from genesis.portfolio.attribution import performance_report as kernel_performance_report
from genesis.storage.repository import AuditRecord
from genesis.strategies import registry

if TYPE_CHECKING:
    from genesis.daemon.daemon import Daemon

__all__ = ["OPERATOR", "Operator", "performance_report"]

OPERATOR = "operator"  # the strategy id of manual orders
GLOBAL = "global"  # the account id of the global kill switch
T = TypeVar("T")


def _plain(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def order_json(order: Order) -> dict[str, Any]:
    """One order as JSON: money as decimal strings."""
    return {
        "client_order_id": order.client_order_id,
        "strategy_id": order.strategy_id,
        "instrument_id": order.instrument_id,
        "side": order.side.value,
        "type": order.order_type.value,
        "quantity": _plain(order.quantity),
        "price": _plain(order.price),
        "filled_qty": _plain(order.filled_qty),
        "status": order.status.value,
        "ts_init": order.ts_init,
        "ts_last": order.ts_last,
    }


def build_order(d: Daemon, req: OrderRequest, factory: OrderFactory | None = None) -> Order:
    """The order an API request asks for, from the factory whose ids it uses up (the
    operator's, a strategy's, or a dry run's own): the API and a rebuild's replay both.

    Raises:
        ApiError: unknown instrument or strategy, a price where none belongs or missing.
    """
    instrument_id = req.instrument_id
    if instrument_id not in d.config.instrument_ids:
        known = ", ".join(d.config.instrument_ids)
        raise ApiError(
            422, "unknown_instrument", f"instrument_id {instrument_id!r} is not traded by"
            f" this daemon (it has market data for: {known})",
        )  # fmt: skip
    if factory is not None:
        pass  # a dry run's own factory: no id of the real ones is used up
    elif req.strategy_id == OPERATOR:
        factory = d.operator_orders
    elif req.strategy_id in d.kernel.strategies:
        factory = d.kernel.strategies[req.strategy_id].ctx.orders
    else:
        raise ApiError(404, "unknown_strategy", f"strategy_id {req.strategy_id!r} is not running")
    side = Side.BUY if req.side == "BUY" else Side.SELL
    extra = {"stop_loss": req.stop_loss, "take_profit": req.take_profit}
    kw: dict[str, Any] = {k: v for k, v in extra.items() if v is not None}
    if req.confidence is not None:
        kw["confidence"] = req.confidence
    if req.type == "MARKET":
        if req.price is not None:
            raise ApiError(422, "price_not_allowed", "a MARKET order takes no price")
        return factory.market(instrument_id, side, req.quantity, **kw)
    if req.price is None:
        raise ApiError(422, "price_required", "a LIMIT order needs a price > 0")
    return factory.limit(instrument_id, side, req.quantity, req.price, **kw)


def performance_report(daemon: Daemon) -> dict[str, Any]:
    """Equity, balances and each strategy's figures from the kernel's PerformanceBook.

    The one place the API's performance document is assembled: extend it here
    (attribution, risk measures) and the route and dashboard follow.
    """
    kernel = daemon.kernel
    book = kernel.performance
    ids = sorted(set(book.strategies()) | set(kernel.strategies))
    strategies = {}
    for sid in ids:
        unrealized = sum((p.unrealized_pnl for p in kernel.portfolio.positions(sid)), Decimal(0))
        strategies[sid] = {**book.of(sid).as_fields(), "unrealized_pnl": _plain(unrealized)}
    trades = [
        {"strategy_id": t.strategy_id, "closed_ns": t.closed_ns, "net_pnl": _plain(t.net_pnl)}
        for t in book.completed[-500:]
    ]
    report = kernel_performance_report(kernel)  # attribution, correlation, capacity, EX-6
    return {
        **report,
        "equity": _plain(kernel.portfolio.equity()),
        "balances": {a: _plain(v) for a, v in sorted(kernel.portfolio.balances().items())},
        "strategies": strategies,
        "trades": trades,  # the last 500 round trips: the dashboard's P&L curve
        "risk": kernel.risk_report(),  # RK-4
    }


class Operator:
    """See the module docstring. ``timeout_s``: how long a mutation may wait its turn."""

    def __init__(self, daemon: Daemon, timeout_s: float = 5.0) -> None:
        self.d = daemon
        self.timeout_s = timeout_s
        self._factory = daemon.operator_orders  # shared with a rebuild's replay

    # --- the lane -------------------------------------------------------------

    async def apply(
        self, name: str, work: Callable[[], Awaitable[T]], *, withdraw: bool = True
    ) -> T:
        """Run ``work`` in the trading loop between two events; return its result.

        Raises:
            ApiError: what ``work`` raised (nothing changed), or 503 when the daemon did
                not take the request within ``timeout_s``: withdrawn (it never runs), or
                with ``withdraw=False`` (a durable kill) left queued, code ``pending``.
        """
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        taken = False

        async def run() -> None:
            nonlocal taken
            if done.done():
                return  # withdrawn after the timeout
            taken = True  # from here the caller waits for the outcome, however long
            result, refused = await self._outcome(name, work)
            await self.d.send()  # whatever it produced (nothing, when refused early)
            if self.d.journal is not None:
                await self.d.journal.commit()  # its audit row is durable before the answer
            if done.done():
                return
            if refused is not None:
                done.set_exception(refused)
            else:
                done.set_result(cast(T, result))

        self.d.operator_lane.append(run)
        self.d.wake()
        try:
            return await asyncio.wait_for(asyncio.shield(done), self.timeout_s)
        except TimeoutError:
            if taken:  # running: its effects are (being) sent; say what they were
                return await done
            if not withdraw:
                raise ApiError(
                    503, "pending", f"{name}: recorded in the journal; the trading loop did not"
                    f" take it within {self.timeout_s} s: it applies it when it does, or at the"
                    " next start",
                ) from None  # fmt: skip
            done.cancel()
            raise ApiError(
                503, "daemon_busy", f"{name}: the trading loop did not take the request within"
                f" {self.timeout_s} s (it is stopping or blocked); nothing changed",
            ) from None  # fmt: skip

    async def _outcome(
        self, name: str, work: Callable[[], Awaitable[T]]
    ) -> tuple[T | None, ApiError | None]:
        """``work``'s result, or why it was refused; a bug in it fails the request only."""
        try:
            return await work(), None
        except ApiError as exc:
            return None, exc
        except GenesisError as exc:  # a refusal from the domain: say what it was
            return None, ApiError(422, type(exc).__name__, str(exc))
        except Exception as exc:  # a bug: the request fails, the daemon goes on
            self.d.log.error("api_request_failed", request=name, error=type(exc).__name__,
                             detail=str(exc)[:300])  # fmt: skip
            return None, ApiError(500, "internal_error", f"{name} failed: {type(exc).__name__}")

    def _audit(self, action: str, detail: dict[str, Any]) -> None:
        """The journal row of an operator action, at its event index: a paper rebuild
        replays it there (``recovery.PaperRecovery``)."""
        if self.d.journal is not None:
            detail = {**detail, "event_index": self.d.operator_index()}
            self.d.journal.audit(action, detail, self.d.kernel.clock.now_ns(), actor="api")

    # --- orders ---------------------------------------------------------------

    def orders(self, status: str | None, strategy: str | None, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` orders the OMS holds, optionally filtered."""
        if status is not None and status not in OrderStatus.__members__:
            known = ", ".join(OrderStatus.__members__)
            raise ApiError(400, "bad_status", f"status {status!r} is not one of {known}")
        picked = [
            o
            for o in self.d.kernel.oms
            if (status is None or o.status.value == status)
            and (strategy is None or o.strategy_id == strategy)
        ]
        picked.sort(key=lambda o: (o.ts_init, o.client_order_id), reverse=True)
        return [order_json(o) for o in picked[:limit]]

    def _build(self, req: OrderRequest, factory: OrderFactory | None = None) -> Order:
        return build_order(self.d, req, factory)

    async def submit(self, req: OrderRequest) -> dict[str, Any]:
        """Place a manual order under the risk checks; its id and status, or the refusal.

        Raises:
            ApiError: 422 with the risk code and sentence when risk refuses it.
        """

        async def work() -> dict[str, Any]:
            order = self._build(req)
            denied, commands = self.d.kernel.submit(order)
            self.d.driver.send(commands)
            detail = {**order_json(order), "code": denied.code if denied else None,
                      "request": req.model_dump(mode="json")}  # fmt: skip
            self._audit("api_order", detail)
            if denied is not None:
                raise ApiError(
                    422, denied.code, denied.reason,
                    client_order_id=order.client_order_id, status=order.status.value,
                )  # fmt: skip
            return {"client_order_id": order.client_order_id, "status": order.status.value}

        return await self.apply("submit", work)

    def validate(self, req: OrderRequest) -> dict[str, Any]:
        """Dry run of the risk checks: the verdict, no state change (no id is used up)."""
        kernel = self.d.kernel
        if req.strategy_id != OPERATOR and req.strategy_id not in kernel.strategies:
            raise ApiError(
                404, "unknown_strategy", f"strategy_id {req.strategy_id!r} is not running"
            )
        probe = OrderFactory(req.strategy_id, kernel.clock, kernel.instruments)
        try:
            order = self._build(req, probe)
        except GenesisError as exc:  # terms no order can have: what, and why
            raise ApiError(422, type(exc).__name__, str(exc)) from None
        verdict = kernel.refusal(order)
        if verdict is None:
            return {"verdict": "APPROVED", "code": None, "detail": "every risk check passes"}
        return {"verdict": "REFUSED", "code": verdict[0], "detail": verdict[1]}

    def _working(self, client_order_id: str) -> Order:
        order = self.d.kernel.oms.get(client_order_id)
        if order is None:
            raise ApiError(404, "unknown_order", f"no order {client_order_id!r}")
        if not order.is_open:
            raise ApiError(
                409, "order_not_open", f"order {client_order_id!r} is {order.status.value}"
            )
        return order

    async def cancel(self, client_order_id: str) -> dict[str, Any]:
        """Ask the venue to cancel a working order; its status after the request."""

        async def work() -> dict[str, Any]:
            order = self._working(client_order_id)
            self.d.driver.send(self.d.kernel.cancel(client_order_id))
            self._audit("api_cancel", {"client_order_id": client_order_id})
            return {"client_order_id": client_order_id, "status": order.status.value}

        return await self.apply("cancel", work)

    async def modify(self, client_order_id: str, req: ModifyRequest) -> dict[str, Any]:
        """New price and/or total quantity of a working order (``Kernel.modify``, EX-2).

        Risk's refusal of the new terms is a 422 with its code, and changes nothing;
        otherwise the order goes PENDING_UPDATE and the venue's answer follows.
        """
        if req.price is None and req.quantity is None:
            raise ApiError(422, "nothing_to_modify", "give a new price, a new quantity or both")
        kernel = self.d.kernel

        async def work() -> dict[str, Any]:
            order = self._working(client_order_id)
            refusal = kernel.modify_refusal(client_order_id, req.price, req.quantity)
            if refusal is not None:
                raise ApiError(422, refusal[0], refusal[1])
            self.d.driver.send(kernel.modify(client_order_id, req.price, req.quantity))
            self._audit("api_modify", {"client_order_id": client_order_id, **req.model_dump()})
            return {"client_order_id": client_order_id, "status": order.status.value}

        return await self.apply("modify", work)

    # --- positions ----------------------------------------------------------------

    def positions(self, account_id: str | None) -> list[dict[str, Any]]:
        """Every open position per strategy, optionally of one venue (account)."""
        out: list[dict[str, Any]] = []
        for p in self.d.kernel.portfolio.positions(None):
            if p.qty == 0:
                continue
            venue = split_instrument_id(p.instrument_id)[0]
            if account_id is not None and venue != account_id:
                continue
            views = self._by_strategy(p.instrument_id)
            out.extend({"account_id": venue, **_position_json(v)} for v in views)
        return out

    def _by_strategy(self, instrument_id: str) -> list[Any]:
        kernel = self.d.kernel
        ids = sorted(set(kernel.strategies) | {OPERATOR})
        views = [kernel.portfolio.position(instrument_id, sid) for sid in ids]
        return [v for v in views if v.qty != 0]

    async def close_position(self, instrument_id: str, strategy_id: str) -> dict[str, Any]:
        """Close one strategy's position in one instrument with a reduce-only market order."""

        async def work() -> dict[str, Any]:
            qty = self.d.kernel.portfolio.position_qty(instrument_id, strategy_id)
            if qty == 0:
                raise ApiError(
                    404, "no_position", f"strategy {strategy_id!r} holds no {instrument_id}"
                )
            side = "SELL" if qty > 0 else "BUY"
            req = OrderRequest(
                instrument_id=instrument_id, side=side, type="MARKET", quantity=abs(qty),
                strategy_id=strategy_id,
            )  # fmt: skip
            order = self._build(req)
            denied, commands = self.d.kernel.submit(order)
            self.d.driver.send(commands)
            self._audit(
                "api_close_position", {**order_json(order), "request": req.model_dump(mode="json")}
            )
            if denied is not None:
                raise ApiError(422, denied.code, denied.reason)
            return {"client_order_id": order.client_order_id, "status": order.status.value}

        return await self.apply("close position", work)

    # --- risk ---------------------------------------------------------------------

    def risk_status(self) -> dict[str, Any]:
        """The global switch, each venue's, the refusal counts and any breakers."""
        kernel = self.d.kernel
        switch = kernel.risk.switch
        breakers = kernel.risk.breakers  # None without a tier
        return {
            "kill_switch": {
                "engaged": switch.reason is not None,
                "reason": switch.reason,
                "source": getattr(switch, "source", None),
            },
            "accounts": {
                v: {"engaged": True, "reason": r} for v, r in sorted(kernel.venue_kills.items())
            },
            "rejections": dict(sorted(kernel.risk.rejections.items())),
            "breakers": [] if breakers is None else breakers.status(),
            "limits": kernel.risk.limits_for(kernel.portfolio.equity()),
            "measures": kernel.risk_report(),  # RK-4: exposure, VaR/CVaR, beta, drawdown, score
        }

    def _account(self, account_id: str) -> str:
        if account_id == GLOBAL:
            return ""
        venues = {split_instrument_id(i)[0] for i in self.d.config.instrument_ids}
        if account_id not in venues:
            raise ApiError(
                404, "unknown_account", f"account_id {account_id!r} is not {GLOBAL!r} or a venue"
                f" this daemon trades ({', '.join(sorted(venues))})",
            )  # fmt: skip
        return account_id

    async def kill(
        self, account_id: str, reason: str, engage: bool = True, flatten: bool = False
    ) -> dict[str, Any]:
        """Engage (or reset) a kill switch: journaled as the CLI writes it, applied at once.

        The request row is committed first (durable: a crash before it is applied
        leaves it pending for the next start); the poller is told it is seen.
        ``flatten`` (global only) also closes every strategy's position at market.
        """
        account = self._account(account_id)
        if not reason.strip():
            raise ApiError(422, "reason_required", "a kill or reset needs a non-empty reason")
        if flatten and account:
            raise ApiError(422, "flatten_global_only", "flatten=true is for the global switch")
        request_id = f"{'kill' if engage else 'reset'}-{time.time_ns()}-{secrets.token_hex(3)}"
        request = ControlRequest(
            KILL if engage else RESET, request_id, reason.strip(), flatten, account=account
        )
        await self._record_request(request)

        async def work() -> dict[str, Any]:
            await self.d.apply_control(request)
            return {"request_id": request_id, "account_id": account_id, **self._engaged(account)}

        # never withdrawn: the request is durable, so it must not wait for a restart
        return await self.apply("kill switch", work, withdraw=False)

    def _engaged(self, account: str) -> dict[str, Any]:
        kernel = self.d.kernel
        reason = kernel.venue_kills.get(account) if account else kernel.risk.switch.reason
        return {"engaged": reason is not None, "reason": reason}

    async def _record_request(self, request: ControlRequest) -> None:
        if self.d.poller is not None:
            self.d.poller.seen.add(request.request_id)  # applied here, not by the poller
        if self.d.journal is None:
            return
        detail: dict[str, Any] = {"request_id": request.request_id, "reason": request.reason}
        if request.action == KILL:
            detail["flatten"] = request.flatten
        if request.account:
            detail["account"] = request.account
        record = AuditRecord(
            time.time_ns(), "api", request.action, json.dumps(detail, sort_keys=True)
        )
        await self.d.journal.repo.write_batch([record])

    # --- strategies and configuration ------------------------------------------------

    def strategies(self) -> list[dict[str, Any]]:
        """Every configured strategy: running or not, enabled, its version and params."""
        kernel = self.d.kernel
        out = []
        for sid, config in sorted(self.d.versions.items()):
            fault = kernel.guard.disabled.get(sid)
            out.append({
                "id": sid, "strategy": config.strategy, "instruments": list(config.instruments),
                "running": sid in kernel.strategies, "enabled": fault is None,
                "disabled_reason": None if fault is None else fault.message,
                "version": config.version_id(), "params": config.params,
            })  # fmt: skip
        return out

    def _config(self, strategy_id: str) -> StrategyConfig:
        config = self.d.versions.get(strategy_id)
        if config is None or strategy_id not in self.d.kernel.strategies:
            raise ApiError(404, "unknown_strategy", f"strategy_id {strategy_id!r} is not running")
        return config

    def params(self, strategy_id: str) -> dict[str, Any]:
        """The running parameters, all of them (defaults filled in by the model)."""
        config = self._config(strategy_id)
        params = self.d.kernel.strategies[strategy_id].params
        dumped = params.model_dump(mode="json") if hasattr(params, "model_dump") else {}
        return {"strategy_id": strategy_id, "version": config.version_id(), "params": dumped}

    async def enable(self, strategy_id: str, on: bool, reason: str = "") -> dict[str, Any]:
        """Enable or disable a strategy; disabling cancels its working orders."""
        self._config(strategy_id)

        async def work() -> dict[str, Any]:
            guard = self.d.kernel.guard
            fault = guard.disabled.get(strategy_id)
            if on and fault is not None and fault.hook != OPERATOR:
                raise ApiError(
                    409, "strategy_errored", f"strategy {strategy_id!r} was disabled after"
                    f" {fault.error_type}: {fault.message}; restart the daemon to run it again",
                )  # fmt: skip
            if on:
                guard.disabled.pop(strategy_id, None)
            elif fault is None:
                now = self.d.kernel.clock.now_ns()
                guard.disabled[strategy_id] = StrategyErrored(
                    ts_event=now, ts_init=now, strategy_id=strategy_id, hook=OPERATOR,
                    error_type="Disabled", message=reason or "disabled by the operator",
                )  # fmt: skip
                self.d.driver.send(self.d.kernel.cancel_all(strategy_id))
            action = "api_strategy_enabled" if on else "api_strategy_disabled"
            self._audit(action, {"strategy_id": strategy_id, "reason": reason})
            return {"strategy_id": strategy_id, "enabled": on}

        return await self.apply("enable" if on else "disable", work)

    async def set_params(self, strategy_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Merge ``changes`` into the running params, validate, apply like a hot reload.

        Raises:
            ApiError: 422 naming the field and the reason; nothing changes.
        """
        old = self._config(strategy_id)
        merged = {**self.params(strategy_id)["params"], **changes}
        spec = registry.get(old.strategy)
        try:
            spec.params.model_validate(merged)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err.get("loc", ())) or "params"
            raise ApiError(422, "invalid_params", f"{field}: {err['msg']}", field=field) from None
        new = StrategyConfig.model_validate({**old.model_dump(mode="json"), "params": merged})
        return await self._apply_config(old, new, "api:params")

    async def _apply_config(
        self, old: StrategyConfig, new: StrategyConfig, source: str
    ) -> dict[str, Any]:
        why = refusal(old, new)
        if why is not None:
            raise ApiError(422, "config_refused", why["reason"], field=why["field"])

        async def work() -> dict[str, Any]:
            if self.d.versions.get(new.id) == new:
                return {"strategy_id": new.id, "version": new.version_id(), "changed": False}
            self.d.apply_config(ConfigChange(new, source))
            return {"strategy_id": new.id, "version": new.version_id(), "changed": True}

        return await self.apply("config", work)

    async def config_versions(self, strategy_id: str | None) -> list[dict[str, Any]]:
        """Every stored version (newest first) of one strategy, or of all of them."""
        if self.d.journal is None:
            return []
        names = [strategy_id] if strategy_id else sorted(self.d.versions)
        running = {sid: c.version_id() for sid, c in self.d.versions.items()}
        out = []
        for name in names:
            for v in reversed(await self.d.journal.repo.config_versions(name)):
                item = {"strategy_id": v.name, "sha256": v.sha256, "ts_ns": v.ts_ns}
                out.append({**item, "running": running.get(v.name) == v.sha256})
        return out

    async def rollback(self, strategy_id: str, sha256: str) -> dict[str, Any]:
        """Run a stored version of ``strategy_id`` again (a unique prefix of its hash)."""
        old = self._config(strategy_id)
        stored = [] if self.d.journal is None else await self.d.journal.repo.config_versions(
            strategy_id
        )  # fmt: skip
        found = {v.sha256: v for v in stored if v.sha256.startswith(sha256)}
        if len(found) != 1:
            what = "no stored version" if not found else f"{len(found)} stored versions"
            raise ApiError(404, "unknown_version", f"{what} of {strategy_id!r} match {sha256!r}")
        body = next(iter(found.values())).body
        new = StrategyConfig.model_validate(json.loads(body))
        return await self._apply_config(old, new, f"api:rollback:{new.version_id()[:12]}")

    # --- health, metrics, alerts -----------------------------------------------------

    def health(self) -> dict[str, Any]:
        """HEALTHY / DEGRADED / CRITICAL with the reasons, from the HealthMonitor."""
        snap = self.d.health.snapshot()
        return {
            "status": snap.status,
            "reasons": list(snap.reasons),
            "mode": self.d.venues.mode,
            "events": self.d.events,
            "halted": self.d.halted,
            "venue_kills": venue_kills_json(self.d.kernel.venue_kills),
            "audit_chain": [s.as_fields() for s in self.d.audit_chain],
        }

    def metrics(self) -> tuple[bytes, str]:
        """The Prometheus exposition and its content type."""
        return self.d.metrics.render()

    def alerts(self, limit: int) -> list[dict[str, Any]]:
        """The newest alerts, at most ``limit``."""
        return self.d.alerts.recent(limit)


def venue_kills_json(kills: dict[str, str]) -> dict[str, str]:
    return dict(sorted(kills.items()))


def _position_json(view: Any) -> dict[str, Any]:
    return {
        "instrument_id": view.instrument_id,
        "strategy_id": view.strategy_id,
        "qty": _plain(view.qty),
        "avg_open_px": _plain(view.avg_open_px),
        "mark_px": _plain(view.mark_px),
        "realized_pnl": _plain(view.realized_pnl),
        "unrealized_pnl": _plain(view.unrealized_pnl),
    }


def _plain_obj(value: Any) -> Any:
    """Breakers (when present) as JSON: their ``snapshot()`` or ``as_dict()``, else None."""
    for name in ("snapshot", "as_dict"):
        method = getattr(value, name, None)
        if callable(method):
            return json.loads(json.dumps(method(), default=str))
    return None
