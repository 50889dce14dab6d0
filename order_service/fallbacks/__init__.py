"""What a client does when a service cannot be reached: the one table, and its two tools.

| service           | operation                 | when the owner is unreachable                          |
| ----------------- | ------------------------- | ------------------------------------------------------ |
| strategy-service  | validateStrategy          | last known answer, marked stale, up to stale_max_age   |
| strategy-service  | syncStrategyPnl           | kept in the outbox, replayed in order, exactly once     |
| strategy-service  | getDefaultStrategy        | last known answer, stale                               |
| strategy-service  | createDefaultStrategy     | none: the caller needs the new id (error raised)       |
| strategy-service  | getStrategyPortfolio      | last known answer, stale                               |
| account-service   | updateAccountTier         | outbox                                                 |
| account-service   | promoteAccountTier        | outbox                                                 |
| account-service   | getTierSummary            | last known answer, stale                               |
| account-service   | listAccountsByTier        | last known answer, stale                               |
| account-service   | getAccountHoldings        | last known answer, stale                               |
| analytics-service | calculatePnlMetrics       | outbox                                                 |
| analytics-service | getPnlMetrics             | last known answer, stale                               |
| analytics-service | getPnlDrawdown            | last known answer, stale                               |
| analytics-service | getPreviousCumulativePnl  | last known answer, stale                               |
| analytics-service | bulkCalculatePnlMetrics   | outbox                                                 |
| calendar-service  | getTradingDay             | last known answer, stale                               |

Only unavailability (unreachable, 5xx, 429, timeouts, an open breaker) falls back; a 404,
a refusal or an off-contract answer is raised as it is.
"""

from __future__ import annotations

from enum import Enum


class Fallback(Enum):
    NONE = "none"
    STALE_READ = "stale_read"
    OUTBOX = "outbox"


FALLBACKS: dict[tuple[str, str], Fallback] = {
    ("strategy-service", "validateStrategy"): Fallback.STALE_READ,
    ("strategy-service", "syncStrategyPnl"): Fallback.OUTBOX,
    ("strategy-service", "getDefaultStrategy"): Fallback.STALE_READ,
    ("strategy-service", "createDefaultStrategy"): Fallback.NONE,
    ("strategy-service", "getStrategyPortfolio"): Fallback.STALE_READ,
    ("account-service", "updateAccountTier"): Fallback.OUTBOX,
    ("account-service", "promoteAccountTier"): Fallback.OUTBOX,
    ("account-service", "getTierSummary"): Fallback.STALE_READ,
    ("account-service", "listAccountsByTier"): Fallback.STALE_READ,
    ("account-service", "getAccountHoldings"): Fallback.STALE_READ,
    ("analytics-service", "calculatePnlMetrics"): Fallback.OUTBOX,
    ("analytics-service", "getPnlMetrics"): Fallback.STALE_READ,
    ("analytics-service", "getPnlDrawdown"): Fallback.STALE_READ,
    ("analytics-service", "getPreviousCumulativePnl"): Fallback.STALE_READ,
    ("analytics-service", "bulkCalculatePnlMetrics"): Fallback.OUTBOX,
    ("calendar-service", "getTradingDay"): Fallback.STALE_READ,
}
