"""Typed results and requests of the strategy, account, analytics and config services.

They mirror the contracts in `contracts/` (a suite checks every contract example parses
here). Answers are parsed strictly from JSON: a missing, extra or mistyped field is a
contract violation, never silently coerced. Money is `Decimal`, sent and read as the
contracts' decimal strings.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, PrivateAttr

_MONEY = re.compile(r"-?(0|[1-9][0-9]{0,17})(\.[0-9]{1,4})?")
_PERCENT = re.compile(r"(0|[1-9][0-9]{0,5})\.[0-9]{4}")


def _decimal(pattern: re.Pattern[str], what: str) -> BeforeValidator:
    def parse(value: object) -> Decimal:
        if isinstance(value, Decimal):
            return value
        if isinstance(value, str) and pattern.fullmatch(value):
            return Decimal(value)
        raise ValueError(f"{value!r} is not a {what} (a decimal string)")

    return BeforeValidator(parse)


_AS_TEXT = PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json")
Money = Annotated[Decimal, _decimal(_MONEY, "money amount"), _AS_TEXT]
Percent = Annotated[Decimal, _decimal(_PERCENT, "percentage"), _AS_TEXT]
AccountId = Annotated[str, Field(pattern=r"^[A-Z]{2}[0-9]{4,6}$")]
Tier = Literal["hot", "warm", "cold"]


class ContractModel(BaseModel):
    """A contract payload; `stale_since` is set when it was served from the last-known value."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    _stale_since: datetime | None = PrivateAttr(default=None)

    @property
    def is_stale(self) -> bool:
        """Whether the value was served from the stale cache, not by the owner just now."""
        return self._stale_since is not None

    @property
    def stale_since(self) -> datetime | None:
        """When the owner last answered with this value, if it was served stale."""
        return self._stale_since

    def as_stale(self, since: datetime) -> ContractModel:
        """A copy marked as served stale, last answered at `since`."""
        copy = self.model_copy()
        copy._stale_since = since
        return copy


# -- strategy-service ---------------------------------------------------------------------
class StrategyValidation(ContractModel):
    """`validateStrategy`'s answer: may the strategy trade, and why not."""

    strategy_id: int
    valid: bool
    status: Literal["active", "paused", "archived"]
    reason: str | None
    checked_at: AwareDatetime


class PnlSync(ContractModel):
    """The body of `sync_strategy_pnl`."""

    model_config = ConfigDict(strict=False)  # built by callers from Decimals, datetimes, ints

    as_of: AwareDatetime
    realized_pnl: Money
    unrealized_pnl: Money
    total_pnl: Money
    open_positions: int = Field(0, ge=0, le=100_000)


class PnlSnapshot(ContractModel):
    """A stored P&L snapshot of a strategy (`syncStrategyPnl`)."""

    strategy_id: int
    as_of: AwareDatetime
    realized_pnl: Money
    unrealized_pnl: Money
    total_pnl: Money
    open_positions: int
    version: int
    synced_at: AwareDatetime


class Strategy(ContractModel):
    """A strategy of an account."""

    strategy_id: int
    name: str
    account_id: AccountId
    is_default: bool
    status: Literal["active", "paused", "archived"]
    created_at: AwareDatetime


class Position(ContractModel):
    """One position of a strategy's portfolio."""

    tradingsymbol: str
    exchange: Literal["NSE", "BSE", "NFO", "BFO", "CDS", "MCX"]
    product: Literal["CNC", "MIS", "NRML"]
    quantity: int
    average_price: Money
    last_price: Money
    pnl: Money


class Portfolio(ContractModel):
    """A strategy's positions and its last P&L snapshot."""

    strategy_id: int
    account_id: AccountId
    positions: tuple[Position, ...]
    pnl: PnlSnapshot | None
    as_of: AwareDatetime


# -- account-service ----------------------------------------------------------------------
class AccountTier(ContractModel):
    """An account's tier: base, effective, and when a promotion ends."""

    account_id: AccountId
    tier: Tier
    base_tier: Tier
    promoted_until: AwareDatetime | None
    updated_at: AwareDatetime


class TierCounts(ContractModel):
    """How many accounts are hot, warm and cold."""

    hot: int
    warm: int
    cold: int


class TierSummary(ContractModel):
    """The tier counts, base and effective."""

    counts: TierCounts
    promoted: int
    total: int
    as_of: AwareDatetime


class AccountPage(ContractModel):
    """One page of accounts of a tier."""

    items: tuple[AccountTier, ...]
    next_cursor: str | None
    total: int


class Holding(ContractModel):
    """One holding of an account."""

    tradingsymbol: str
    exchange: Literal["NSE", "BSE"]
    isin: str
    quantity: int
    t1_quantity: int
    average_price: Money
    last_price: Money
    pnl: Money


class Holdings(ContractModel):
    """An account's holdings."""

    account_id: AccountId
    holdings: tuple[Holding, ...]
    as_of: AwareDatetime


# -- analytics-service --------------------------------------------------------------------
class PnlInput(ContractModel):
    """One strategy-day for `calculate_and_store_pnl_metrics` and the bulk call."""

    model_config = ConfigDict(strict=False)

    strategy_id: int = Field(ge=1)
    metric_date: date
    day_pnl: Money
    realized_pnl: Money
    unrealized_pnl: Money
    trades_count: int = Field(0, ge=0)


class PnlMetric(ContractModel):
    """One stored metric day of a strategy, with its derived figures."""

    strategy_id: int
    metric_date: date
    day_pnl: Money
    realized_pnl: Money
    unrealized_pnl: Money
    trades_count: int
    cumulative_pnl: Money
    high_water_mark: Money
    drawdown: Money
    drawdown_pct: Percent
    version: int
    updated_at: AwareDatetime


class PnlMetricPage(ContractModel):
    """One page of metric days."""

    items: tuple[PnlMetric, ...]
    next_cursor: str | None


class Drawdown(ContractModel):
    """The largest drawdown of a strategy in a date range."""

    strategy_id: int
    max_drawdown: Money
    max_drawdown_pct: Percent
    peak_date: date | None
    trough_date: date | None
    current_drawdown: Money
    high_water_mark: Money
    days: int


class PreviousCumulative(ContractModel):
    """The cumulative P&L of the last stored day before a date."""

    strategy_id: int
    before_date: date
    metric_date: date | None
    cumulative_pnl: Money


class BulkItemResult(ContractModel):
    """One item's outcome of a bulk upsert."""

    status: Literal["created", "updated"]
    metric: PnlMetric


class BulkResult(ContractModel):
    """A bulk upsert's outcome, item by item."""

    created: int
    updated: int
    results: tuple[BulkItemResult, ...]


# -- config-service -----------------------------------------------------------------------
class ServiceInstance(ContractModel):
    """One instance of a service that runs several."""

    base_url: str
    weight: int = Field(default=1, ge=1, le=1000)


class ServiceEndpoint(ContractModel):
    """Where one service is (`instances`, when it runs several), and how long that answer may be cached."""

    name: str
    scheme: Literal["http", "https"]
    host: str
    port: int = Field(ge=1, le=65535)
    base_url: str
    ttl_seconds: int = Field(ge=0)
    instances: tuple[ServiceInstance, ...] | None = None

    def all_instances(self) -> list[tuple[str, int]]:
        """(base URL, weight) of every instance: `instances`, or `base_url` alone."""
        if self.instances:
            return [(i.base_url, i.weight) for i in self.instances]
        return [(self.base_url, 1)]


class ServiceList(ContractModel):
    """Every registered service."""

    items: tuple[ServiceEndpoint, ...]


# -- calendar-service ---------------------------------------------------------------------
class Session(ContractModel):
    """One trading session of an exchange day."""

    kind: Literal["pre_open", "normal", "post_close", "evening", "special", "muhurat"]
    start: str
    end: str


class Holiday(ContractModel):
    """A holiday of an exchange."""

    date: date
    name: str


class TradingDay(ContractModel):
    """One exchange day: whether it trades, and its sessions."""

    exchange: Literal["NSE", "BSE", "NFO", "BFO", "CDS", "MCX"]
    date: date
    is_trading_day: bool
    holiday: Holiday | None
    timezone: Literal["Asia/Kolkata"]
    sessions: tuple[Session, ...]
