"""Strategy service mock: strategies, default strategies, portfolios and P&L snapshots."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from typing_extensions import override

from mocks.behaviour import Behaviour, ProviderState, Reply, conflict, not_found
from mocks.behaviours.common import record_id, timestamp
from mocks.clock import MockClock, iso
from mocks.validation import MockRequest

ACCOUNT = r"(?P<account_id>[A-Z]{2}[0-9]{4,6})"
STRATEGY = r"(?P<strategy_id>[0-9]+)"

INITIAL: dict[str, Any] = {
    "strategies": [
        {"strategy_id": 42, "name": "Momentum NIFTY", "account_id": "ZX1234", "status": "active"},
        {"strategy_id": 43, "name": "Mean reversion BANKNIFTY", "account_id": "ZX1234", "status": "paused"},
        {"strategy_id": 7, "name": "Default", "account_id": "ZX1234", "is_default": True},
    ],
    "positions": {
        "42": [
            {
                "tradingsymbol": "INFY",
                "exchange": "NSE",
                "product": "MIS",
                "quantity": 100,
                "average_price": "1520.40",
                "last_price": "1532.10",
                "pnl": "1170",
            },
        ]
    },
}


class StrategyBehaviour(Behaviour):
    """The strategy service: strategies, default strategies per account, P&L snapshots, portfolios."""

    def __init__(self, clock: MockClock) -> None:
        super().__init__(clock)
        self.handlers = {
            "validateStrategy": self.validate,
            "syncStrategyPnl": self.sync_pnl,
            "getDefaultStrategy": self.get_default,
            "createDefaultStrategy": self.create_default,
            "getStrategyPortfolio": self.portfolio,
        }
        self.states = [
            ProviderState(
                f"strategy {STRATEGY} exists",
                "an active strategy with positions and no P&L snapshot (params: account_id, name)",
                self._state_exists_unsynced,
            ),
            ProviderState(
                f"strategy {STRATEGY} is (?P<status>active|paused|archived)",
                "a strategy in that status",
                self._state_exists,
            ),
            ProviderState(f"strategy {STRATEGY} does not exist", "no such strategy", self._state_absent),
            ProviderState(
                f"account {ACCOUNT} has a default strategy",
                "the account's default strategy exists (params: strategy_id)",
                self._state_default,
            ),
            ProviderState(f"account {ACCOUNT} has no default strategy", "no default strategy", self._state_no_default),
            ProviderState(
                f"strategy {STRATEGY} has a P&L snapshot as of (?P<as_of>\\S+)",
                "a stored snapshot (params: total_pnl)",
                self._state_snapshot,
            ),
        ]
        self.reset()

    # -- state -------------------------------------------------------------------------
    @override
    def reset(self) -> None:
        self.strategies: dict[int, dict[str, Any]] = {}
        self.snapshots: dict[int, dict[str, Any]] = {}
        self.positions: dict[int, list[dict[str, Any]]] = {}
        self.next_id = 1001
        self.seed(copy.deepcopy(INITIAL))

    @override
    def seed(self, data: Mapping[str, Any]) -> None:
        unknown = set(data) - {"strategies", "positions", "snapshots"}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}; expected strategies, positions, snapshots")
        for item in data.get("strategies", []):
            if not isinstance(item, dict) or not {"strategy_id", "account_id"} <= item.keys():
                raise ValueError("each strategy needs strategy_id and account_id")
            self._put_strategy(record_id(item["strategy_id"], "strategy_id"), item)
        for key, rows in data.get("positions", {}).items():
            self.positions[record_id(key, "strategy_id")] = [
                self.conform("Position", row, f"positions.{key}.{i}") for i, row in enumerate(rows)
            ]
        for key, snapshot in data.get("snapshots", {}).items():
            self.snapshots[record_id(key, "strategy_id")] = self.conform("PnlSnapshot", snapshot, f"snapshots.{key}")

    @override
    def snapshot(self) -> dict[str, Any]:
        return {
            "strategies": sorted(self.strategies.values(), key=lambda s: s["strategy_id"]),
            "snapshots": {str(k): v for k, v in self.snapshots.items()},
            "positions": {str(k): v for k, v in self.positions.items()},
        }

    def _put_strategy(self, strategy_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        strategy = {
            "strategy_id": strategy_id,
            "name": fields.get("name", f"Strategy {strategy_id}"),
            "account_id": fields["account_id"],
            "is_default": bool(fields.get("is_default", False)),
            "status": fields.get("status", "active"),
            "created_at": fields.get("created_at", iso(self.clock.now())),
        }
        self.conform("Strategy", strategy, f"strategy {strategy_id}")
        if strategy["is_default"]:  # an account has one default strategy
            for other in self.strategies.values():
                if other["account_id"] == strategy["account_id"]:
                    other["is_default"] = False
        self.strategies[strategy_id] = strategy
        self.next_id = max(self.next_id, strategy_id + 1)
        return strategy

    def _strategy(self, strategy_id: int) -> dict[str, Any]:
        strategy = self.strategies.get(strategy_id)
        if strategy is None:
            raise not_found(f"strategy {strategy_id} does not exist")
        return strategy

    def _default_of(self, account_id: str) -> dict[str, Any] | None:
        return next((s for s in self.strategies.values() if s["account_id"] == account_id and s["is_default"]), None)

    # -- handlers ------------------------------------------------------------------------
    def validate(self, request: MockRequest) -> Reply:
        """`validateStrategy`: whether a strategy may trade, and why not."""
        strategy = self._strategy(request.path_params["strategy_id"])
        status = strategy["status"]
        return Reply(
            200,
            {
                "strategy_id": strategy["strategy_id"],
                "valid": status == "active",
                "status": status,
                "reason": None if status == "active" else f"strategy is {status}",
                "checked_at": iso(self.clock.now()),
            },
        )

    def sync_pnl(self, request: MockRequest) -> Reply:
        """`syncStrategyPnl`: store a P&L snapshot (newer than the last, by `as_of`)."""
        strategy_id = request.path_params["strategy_id"]
        self._strategy(strategy_id)
        body = request.body
        stored = self.snapshots.get(strategy_id)
        if stored is not None and timestamp(body["as_of"]) < timestamp(stored["as_of"]):
            raise conflict(f"as_of {body['as_of']} is older than the stored snapshot ({stored['as_of']})")
        snapshot = {
            "strategy_id": strategy_id,
            "as_of": body["as_of"],
            "realized_pnl": body["realized_pnl"],
            "unrealized_pnl": body["unrealized_pnl"],
            "total_pnl": body["total_pnl"],
            "open_positions": body.get("open_positions", 0),
            "version": (stored["version"] + 1) if stored else 1,
            "synced_at": iso(self.clock.now()),
        }
        self.snapshots[strategy_id] = snapshot
        return Reply(200, snapshot)

    def get_default(self, request: MockRequest) -> Reply:
        """`getDefaultStrategy`: an account's default strategy."""
        account_id = request.path_params["account_id"]
        strategy = self._default_of(account_id)
        if strategy is None:
            raise not_found(f"account {account_id} has no default strategy")
        return Reply(200, strategy)

    def create_default(self, request: MockRequest) -> Reply:
        """`createDefaultStrategy`: get or create an account's default strategy."""
        account_id = request.body["account_id"]
        existing = self._default_of(account_id)
        if existing is not None:
            return Reply(200, existing)
        name = request.body.get("name", "Default")
        created = self._put_strategy(self.next_id, {"account_id": account_id, "name": name, "is_default": True})
        return Reply(201, created)

    def portfolio(self, request: MockRequest) -> Reply:
        """`getStrategyPortfolio`: a strategy's positions and its last P&L snapshot."""
        strategy = self._strategy(request.path_params["strategy_id"])
        strategy_id = strategy["strategy_id"]
        return Reply(
            200,
            {
                "strategy_id": strategy_id,
                "account_id": strategy["account_id"],
                "positions": self.positions.get(strategy_id, []),
                "pnl": self.snapshots.get(strategy_id),
                "as_of": iso(self.clock.now()),
            },
        )

    # -- provider states -----------------------------------------------------------------
    def _state_exists(self, params: Mapping[str, Any]) -> None:
        strategy_id = record_id(params["strategy_id"], "strategy_id")
        self._put_strategy(
            strategy_id,
            {"account_id": "ZX1234", **self.strategies.get(strategy_id, {}), **params, "strategy_id": strategy_id},
        )

    def _state_exists_unsynced(self, params: Mapping[str, Any]) -> None:
        self._state_exists({"status": "active", **params})
        strategy_id = record_id(params["strategy_id"], "strategy_id")
        self.snapshots.pop(strategy_id, None)  # a sync from an earlier session must not decide the next one
        if not self.positions.get(strategy_id):
            self.positions[strategy_id] = copy.deepcopy(INITIAL["positions"]["42"])  # the state promises positions

    def _state_absent(self, params: Mapping[str, Any]) -> None:
        strategy_id = record_id(params["strategy_id"], "strategy_id")
        self.strategies.pop(strategy_id, None)
        self.snapshots.pop(strategy_id, None)
        self.positions.pop(strategy_id, None)

    def _state_default(self, params: Mapping[str, Any]) -> None:
        strategy_id = record_id(params.get("strategy_id", 7), "strategy_id")
        self._put_strategy(strategy_id, {"name": "Default", **params, "strategy_id": strategy_id, "is_default": True})

    def _state_no_default(self, params: Mapping[str, Any]) -> None:
        for strategy in self.strategies.values():
            if strategy["account_id"] == params["account_id"]:
                strategy["is_default"] = False

    def _state_snapshot(self, params: Mapping[str, Any]) -> None:
        strategy_id = record_id(params["strategy_id"], "strategy_id")
        self._state_exists({"strategy_id": strategy_id})
        total = str(params.get("total_pnl", "1000"))
        self.snapshots[strategy_id] = {
            "strategy_id": strategy_id,
            "as_of": params["as_of"],
            "realized_pnl": total,
            "unrealized_pnl": "0",
            "total_pnl": total,
            "open_positions": 0,
            "version": 1,
            "synced_at": params["as_of"],
        }
