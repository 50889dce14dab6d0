"""Account service mock: sync tiers with expiring promotions, and holdings."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from typing_extensions import override

from mocks.behaviour import Behaviour, ProviderState, Reply, not_found
from mocks.behaviours.common import timestamp
from mocks.clock import MockClock, iso
from mocks.validation import MockRequest

ACCOUNT = r"(?P<account_id>[A-Z]{2}[0-9]{4,6})"
TIERS = ("hot", "warm", "cold")


def _initial() -> dict[str, Any]:
    accounts = [{"account_id": "ZX1234", "tier": "warm"}]
    accounts += [{"account_id": f"AB{1000 + n}", "tier": TIERS[(n - 1) // 10]} for n in range(1, 31)]
    holdings = {
        "ZX1234": [
            {
                "tradingsymbol": "INFY",
                "exchange": "NSE",
                "isin": "INE009A01021",
                "quantity": 50,
                "t1_quantity": 0,
                "average_price": "1480",
                "last_price": "1532.1",
                "pnl": "2605",
            },
            {
                "tradingsymbol": "TCS",
                "exchange": "BSE",
                "isin": "INE467B01029",
                "quantity": 10,
                "t1_quantity": 2,
                "average_price": "3900.5",
                "last_price": "3875",
                "pnl": "-255",
            },
        ]
    }
    return {"accounts": accounts, "holdings": holdings}


class AccountBehaviour(Behaviour):
    """The account service: tiers with promotion expiry, tier summaries and listings, holdings."""

    def __init__(self, clock: MockClock) -> None:
        super().__init__(clock)
        self.handlers = {
            "updateAccountTier": self.update_tier,
            "promoteAccountTier": self.promote,
            "getTierSummary": self.summary,
            "listAccountsByTier": self.by_tier,
            "getAccountHoldings": self.holdings_of,
        }
        self.states = [
            ProviderState(
                f"account {ACCOUNT} exists", "the account exists (on tier warm unless it did)", self._state_exists
            ),
            ProviderState(
                f"account {ACCOUNT} is in tier (?P<tier>hot|warm|cold)", "base tier set, no promotion", self._state_tier
            ),
            ProviderState(
                f"account {ACCOUNT} is promoted until (?P<until>\\S+)", "an active promotion", self._state_promoted
            ),
            ProviderState(f"account {ACCOUNT} does not exist", "no such account", self._state_absent),
            ProviderState(
                f"account {ACCOUNT} has holdings", "the account holds INFY (params: holdings)", self._state_holdings
            ),
        ]
        self.reset()

    # -- state -------------------------------------------------------------------------
    @override
    def reset(self) -> None:
        self.accounts: dict[str, dict[str, Any]] = {}
        self.holdings: dict[str, list[dict[str, Any]]] = {}
        self.seed(copy.deepcopy(_initial()))

    @override
    def seed(self, data: Mapping[str, Any]) -> None:
        unknown = set(data) - {"accounts", "holdings"}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}; expected accounts, holdings")
        for item in data.get("accounts", []):
            if not isinstance(item, dict) or "account_id" not in item:
                raise ValueError("each account needs an account_id")
            if item.get("tier", "warm") not in TIERS:
                raise ValueError(f"tier of {item['account_id']} must be one of {', '.join(TIERS)}")
            until = item.get("promoted_until")
            self._put(item["account_id"], item.get("tier", "warm"), timestamp(until) if until else None)
        for account_id, rows in data.get("holdings", {}).items():
            self._put(account_id, self.accounts.get(account_id, {}).get("base_tier", "warm"))
            self.holdings[account_id] = list(rows)

    @override
    def snapshot(self) -> dict[str, Any]:
        return {"accounts": [self._view(a) for a in sorted(self.accounts)], "holdings": self.holdings}

    def _put(self, account_id: str, base_tier: str, promoted_until: datetime | None = None) -> dict[str, Any]:
        account = self.accounts.setdefault(account_id, {"account_id": account_id})
        account.update(base_tier=base_tier, promoted_until=promoted_until, updated_at=self.clock.now())
        return account

    def _account(self, account_id: str) -> dict[str, Any]:
        account = self.accounts.get(account_id)
        if account is None:
            raise not_found(f"account {account_id} does not exist")
        return account

    def _view(self, account_id: str) -> dict[str, Any]:
        """The account as the contract shows it; an expired promotion is simply gone."""
        account = self.accounts[account_id]
        until = account["promoted_until"]
        active = until is not None and self.clock.now() < until
        return {
            "account_id": account_id,
            "tier": "hot" if active else account["base_tier"],
            "base_tier": account["base_tier"],
            "promoted_until": iso(until) if active else None,
            "updated_at": iso(account["updated_at"]),
        }

    # -- handlers ------------------------------------------------------------------------
    def update_tier(self, request: MockRequest) -> Reply:
        """`updateAccountTier`: set an account's base tier."""
        account = self._account(request.path_params["account_id"])
        account.update(base_tier=request.body["tier"], updated_at=self.clock.now())
        return Reply(200, self._view(account["account_id"]))

    def promote(self, request: MockRequest) -> Reply:
        """`promoteAccountTier`: make an account hot for a number of minutes."""
        account = self._account(request.path_params["account_id"])
        now = self.clock.now()
        until = now + timedelta(minutes=request.body["duration_minutes"])
        current = account["promoted_until"]
        if current is not None and current > until:  # never shorten a longer promotion
            until = current
        account.update(promoted_until=until, updated_at=now)
        return Reply(200, self._view(account["account_id"]))

    def summary(self, request: MockRequest) -> Reply:
        """`getTierSummary`: how many accounts each effective tier has."""
        views = [self._view(a) for a in self.accounts]
        counts = {tier: sum(1 for v in views if v["tier"] == tier) for tier in TIERS}
        promoted = sum(1 for v in views if v["promoted_until"] is not None)
        return Reply(200, {"counts": counts, "promoted": promoted, "total": len(views), "as_of": iso(self.clock.now())})

    def by_tier(self, request: MockRequest) -> Reply:
        """`listAccountsByTier`: the accounts of one effective tier, a page at a time."""
        tier = request.path_params["tier"]
        limit = request.query.get("limit", 100)
        after = request.query.get("cursor")
        matching = [v for v in (self._view(a) for a in sorted(self.accounts)) if v["tier"] == tier]
        remaining = [v for v in matching if after is None or v["account_id"] > after]
        page = remaining[:limit]
        next_cursor = page[-1]["account_id"] if len(remaining) > limit else None
        return Reply(200, {"items": page, "next_cursor": next_cursor, "total": len(matching)})

    def holdings_of(self, request: MockRequest) -> Reply:
        """`getAccountHoldings`: an account's holdings."""
        account_id = self._account(request.path_params["account_id"])["account_id"]
        return Reply(
            200,
            {"account_id": account_id, "holdings": self.holdings.get(account_id, []), "as_of": iso(self.clock.now())},
        )

    # -- provider states -----------------------------------------------------------------
    def _state_exists(self, params: Mapping[str, Any]) -> None:
        if params["account_id"] not in self.accounts:
            self._put(params["account_id"], "warm")

    def _state_tier(self, params: Mapping[str, Any]) -> None:
        self._put(params["account_id"], params["tier"])

    def _state_promoted(self, params: Mapping[str, Any]) -> None:
        base = self.accounts.get(params["account_id"], {}).get("base_tier", "warm")
        self._put(params["account_id"], base, timestamp(params["until"]))

    def _state_absent(self, params: Mapping[str, Any]) -> None:
        self.accounts.pop(params["account_id"], None)
        self.holdings.pop(params["account_id"], None)

    def _state_holdings(self, params: Mapping[str, Any]) -> None:
        rows = params.get("holdings") or _initial()["holdings"]["ZX1234"][:1]
        self.seed({"holdings": {params["account_id"]: rows}})
