"""Every documented error response of every owner endpoint the seed names, through the order service's client.

The mock answers each documented 4xx and 5xx with the contract's own example body for it, and
the client must do what the README's error and fallback tables say: 404 is "not found", any
other 4xx a refusal naming its status, 429 and 5xx an outage (retried where the call may be
repeated); an outage of a write with the outbox fallback is deferred, not lost.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from harness.servers import InProcessMocks
from mocks.registry import CONTRACTS_DIR
from order_service.clients import ClientHub
from order_service.clients.models import PnlInput, PnlSync
from order_service.errors import ServiceNotFoundError, ServiceRejectedError, ServiceUnavailableError
from order_service.fallbacks import FALLBACKS, Fallback
from order_service.fallbacks.outbox import Deferred
from suites.fixtures.yaml_contracts import documented_errors

pytestmark = pytest.mark.anyio

SYNC = PnlSync(
    as_of=datetime.fromisoformat("2026-11-26T15:30:00+05:30"),
    realized_pnl=Decimal("1250.75"),
    unrealized_pnl=Decimal(0),
    total_pnl=Decimal("1250.75"),
    open_positions=2,
)
DAY = {"day_pnl": Decimal("10"), "realized_pnl": Decimal("10"), "unrealized_pnl": Decimal(0)}
ITEM = PnlInput(
    strategy_id=7,
    metric_date=date(2026, 11, 25),
    day_pnl=Decimal(1),
    realized_pnl=Decimal(1),
    unrealized_pnl=Decimal(0),
)
Calling = Callable[[ClientHub], Awaitable[Any]]
# each seed operation of an owner, called the way the order service calls it
CALLS: dict[tuple[str, str], Calling] = {
    ("strategy-service", "validateStrategy"): lambda hub: hub.strategy.validate_strategy(42),
    ("strategy-service", "syncStrategyPnl"): lambda hub: hub.strategy.sync_strategy_pnl(42, SYNC),
    ("strategy-service", "getDefaultStrategy"): lambda hub: hub.strategy.get_default_strategy("ZX1234"),
    ("strategy-service", "createDefaultStrategy"): lambda hub: hub.strategy.create_default_strategy("QQ9999"),
    ("strategy-service", "getStrategyPortfolio"): lambda hub: hub.strategy.get_strategy_portfolio(42),
    ("account-service", "updateAccountTier"): lambda hub: hub.account.update_account_tier("ZX1234", "cold"),
    ("account-service", "promoteAccountTier"): lambda hub: hub.account.promote_account_to_hot_tier("ZX1234", 30),
    ("account-service", "getTierSummary"): lambda hub: hub.account.get_tier_summary(),
    ("account-service", "listAccountsByTier"): lambda hub: hub.account.list_accounts_by_tier("hot", limit=5),
    ("account-service", "getAccountHoldings"): lambda hub: hub.account.get_account_holdings("ZX1234"),
    ("analytics-service", "calculatePnlMetrics"): lambda hub: hub.analytics.calculate_and_store_pnl_metrics(
        7, date(2026, 11, 24), DAY
    ),
    ("analytics-service", "getPnlMetrics"): lambda hub: hub.analytics.get_pnl_metrics(7),
    ("analytics-service", "getPnlDrawdown"): lambda hub: hub.analytics.get_pnl_drawdown(7),
    ("analytics-service", "getPreviousCumulativePnl"): lambda hub: hub.analytics.get_previous_cumulative_pnl(
        7, date(2026, 11, 25)
    ),
    ("analytics-service", "bulkCalculatePnlMetrics"): lambda hub: hub.analytics.bulk_calculate_pnl_metrics([ITEM]),
}
CASES = [
    (service, operation, status)
    for service, operation in CALLS
    for status in documented_errors(CONTRACTS_DIR / f"{service}.yaml", operation)
]


def test_every_seed_operation_of_an_owner_is_called() -> None:
    """The table covers each operation marked x-seed in the owners' contracts, and nothing else."""
    from suites.fixtures.yaml_contracts import seed_operations

    owners = ("strategy-service", "account-service", "analytics-service")
    assert set(CALLS) == {(s, op) for s in owners for op in seed_operations(CONTRACTS_DIR / f"{s}.yaml")}


@pytest.mark.parametrize(("service", "operation", "status"), CASES, ids=lambda v: str(v))
async def test_a_documented_error_answer_gets_its_documented_handling(
    mocks: InProcessMocks, hub: ClientHub, service: str, operation: str, status: int
) -> None:
    mock = mocks.service(service)
    documented = mocks.app(service).engine.contract.operations[operation].responses[status]
    headers = {k: v for k, v in documented.headers if k.lower() == "retry-after"} or (
        {"Retry-After": "1"} if status in (429, 503) else {}
    )
    mock.fault("respond", operation_id=operation, status=status, body=documented.example, headers=headers)
    call = CALLS[(service, operation)](hub)
    fallback = FALLBACKS[(service, operation)]
    if status == 404:
        with pytest.raises(ServiceNotFoundError):
            await call
    elif status < 500 and status != 429:
        with pytest.raises(ServiceRejectedError) as refused:
            await call
        assert refused.value.status == status
    elif fallback is Fallback.OUTBOX:
        assert isinstance(await call, Deferred)  # kept for its owner, not lost
    else:
        with pytest.raises(ServiceUnavailableError):
            await call
    answered = [e["status"] for e in mock.journal(operation_id=operation)]
    assert answered, "the client never reached the mock"
    assert set(answered) == {status}  # the mock gave the documented answer, every time
