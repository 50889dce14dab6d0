"""Every client method against the in-process mocks: answers, 404, 422, 409, off-contract answers."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from harness.servers import InProcessMocks
from order_service.clients import ClientHub
from order_service.clients.models import PnlInput, PnlSync
from order_service.errors import ContractViolationError, ServiceNotFoundError, ServiceRejectedError
from order_service.fallbacks.outbox import Deferred

pytestmark = pytest.mark.anyio


def sync(as_of: str, total: str) -> PnlSync:
    return PnlSync(
        as_of=datetime.fromisoformat(as_of),
        realized_pnl=Decimal(total),
        unrealized_pnl=Decimal(0),
        total_pnl=Decimal(total),
        open_positions=2,
    )


async def add_fault(mocks: InProcessMocks, service: str, **spec: Any) -> None:
    async with mocks.client(service) as admin:
        (await admin.post("/__admin/faults", json=spec)).raise_for_status()


async def test_strategy_client_round_trip(hub: ClientHub) -> None:
    strategy = hub.strategy
    assert await strategy.validate_strategy(42) is True
    assert await strategy.validate_strategy(43) is False
    stored = await strategy.sync_strategy_pnl(42, sync("2026-11-26T15:30:00+05:30", "1250.75"))
    portfolio = await strategy.get_strategy_portfolio(42)
    assert not isinstance(stored, Deferred)
    assert stored.total_pnl == Decimal("1250.75")
    assert portfolio.pnl is not None
    assert portfolio.pnl.total_pnl == Decimal("1250.75")
    assert portfolio.positions[0].tradingsymbol == "INFY"
    created = await strategy.create_default_strategy("QQ9999", name="Main")
    assert (await strategy.get_default_strategy("QQ9999")) == created
    assert created.is_default


async def test_account_client_round_trip(hub: ClientHub) -> None:
    account = hub.account
    promoted = await account.promote_account_to_hot_tier("ZX1234", 30, reason="order placed")
    updated = await account.update_account_tier("ZX1234", "cold")
    summary = await account.get_tier_summary()
    page = await account.list_accounts_by_tier("hot", limit=5)
    holdings = await account.get_account_holdings("ZX1234")
    assert not isinstance(promoted, Deferred)
    assert not isinstance(updated, Deferred)
    assert promoted.tier == "hot"
    assert (updated.tier, updated.base_tier) == ("hot", "cold")  # the promotion still runs
    assert summary.promoted == 1
    assert len(page.items) == 5
    assert page.next_cursor == page.items[-1].account_id
    assert holdings.holdings[0].average_price == Decimal("1480")


async def test_analytics_client_round_trip(hub: ClientHub) -> None:
    analytics = hub.analytics
    day = {"day_pnl": Decimal("1000.50"), "realized_pnl": Decimal("1000.50"), "unrealized_pnl": Decimal(0)}
    first = await analytics.calculate_and_store_pnl_metrics(7, date(2026, 11, 24), day)
    bulk = await analytics.bulk_calculate_pnl_metrics(
        [
            PnlInput(
                strategy_id=7,
                metric_date=date(2026, 11, 25),
                day_pnl=Decimal(-500),
                realized_pnl=Decimal(-500),
                unrealized_pnl=Decimal(0),
            ),
        ]
    )
    metrics = await analytics.get_pnl_metrics(7, from_date=date(2026, 11, 1))
    drawdown = await analytics.get_pnl_drawdown(7)
    previous = await analytics.get_previous_cumulative_pnl(7, date(2026, 11, 26))
    assert not isinstance(first, Deferred)
    assert not isinstance(bulk, Deferred)
    assert first.cumulative_pnl == Decimal("1000.5")
    assert bulk.created == 1
    assert [m.cumulative_pnl for m in metrics.items] == [Decimal("1000.5"), Decimal("500.5")]
    assert drawdown.max_drawdown == Decimal(500)
    assert previous == Decimal("500.5")


async def test_404_is_not_found(hub: ClientHub) -> None:
    with pytest.raises(ServiceNotFoundError, match="strategy 999 does not exist"):
        await hub.strategy.validate_strategy(999)
    with pytest.raises(ServiceNotFoundError):
        await hub.account.get_account_holdings("QQ0000")
    with pytest.raises(ServiceNotFoundError):
        await hub.strategy.get_default_strategy("QQ0001")


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda hub: hub.account.update_account_tier("zx-1234", "hot"), "account_id"),
        (lambda hub: hub.strategy.validate_strategy(0), "strategy_id"),
        (lambda hub: hub.analytics.get_previous_cumulative_pnl(0, date(2026, 11, 26)), "strategy_id"),
    ],
    ids=["malformed account id", "strategy id below 1", "strategy id below 1 in a query"],
)
async def test_422_is_a_refusal_carrying_the_violations(hub: ClientHub, call: Any, field: str) -> None:
    """Out-of-contract requests stay out of the pacts (a provider's contract check would refuse them)."""
    with pytest.raises(ServiceRejectedError) as caught:
        await call(hub)
    assert caught.value.status == 422
    assert [v["field"] for v in caught.value.body["violations"]] == [field]


async def test_409_is_a_refusal(hub: ClientHub) -> None:
    await hub.strategy.sync_strategy_pnl(42, sync("2026-11-26T15:30:00+05:30", "10"))
    with pytest.raises(ServiceRejectedError) as caught:
        await hub.strategy.sync_strategy_pnl(42, sync("2026-11-26T09:00:00+05:30", "5"))
    assert caught.value.status == 409


async def test_an_off_contract_answer_names_each_field(mocks: InProcessMocks, hub: ClientHub) -> None:
    drifted = {
        "strategyId": 42,
        "valid": "yes",
        "status": "active",
        "reason": None,
        "checked_at": "2026-11-26T10:15:00+05:30",
    }
    await add_fault(mocks, "strategy-service", kind="respond", status=200, body=drifted)
    with pytest.raises(ContractViolationError) as caught:
        await hub.strategy.validate_strategy(42)
    fields = {m.field for m in caught.value.mismatches}
    assert fields == {"strategy_id", "strategyId", "valid"}
    assert "strategyId" in str(caught.value)


async def test_a_money_float_is_a_contract_violation(mocks: InProcessMocks, hub: ClientHub) -> None:
    body = {"strategy_id": 42, "before_date": "2026-11-26", "metric_date": None, "cumulative_pnl": 12.5}
    await add_fault(mocks, "analytics-service", kind="respond", status=200, body=body)
    with pytest.raises(ContractViolationError) as caught:
        await hub.analytics.get_previous_cumulative_pnl(42, date(2026, 11, 26))
    assert [m.field for m in caught.value.mismatches] == ["cumulative_pnl"]


async def test_an_undocumented_status_is_a_contract_violation(mocks: InProcessMocks, hub: ClientHub) -> None:
    await add_fault(mocks, "strategy-service", kind="respond", status=202, body={})
    with pytest.raises(ContractViolationError, match="202"):
        await hub.strategy.get_strategy_portfolio(42)


async def test_a_body_that_is_not_json_is_a_contract_violation(hub: ClientHub) -> None:
    async def garbage(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"<html>gateway</html>")

    client = type(hub.strategy)(base_url="http://s", transport=httpx.MockTransport(garbage))
    async with client:
        with pytest.raises(ContractViolationError) as caught:
            await client.get_strategy_portfolio(42)
    assert "Invalid JSON" in str(caught.value)


async def test_every_contract_example_parses_into_its_model() -> None:
    """The models mirror the contracts: every 2xx example of the three services and discovery parses."""
    from mocks.registry import CONTRACTS_DIR
    from order_service.clients import models
    from suites.contracts.test_contract_lint import load, operations, resolve

    by_schema: dict[str, type[models.ContractModel]] = {
        "StrategyValidation": models.StrategyValidation,
        "PnlSnapshot": models.PnlSnapshot,
        "Strategy": models.Strategy,
        "Portfolio": models.Portfolio,
        "AccountTier": models.AccountTier,
        "TierSummary": models.TierSummary,
        "AccountPage": models.AccountPage,
        "Holdings": models.Holdings,
        "PnlMetric": models.PnlMetric,
        "PnlMetricPage": models.PnlMetricPage,
        "Drawdown": models.Drawdown,
        "PreviousCumulative": models.PreviousCumulative,
        "BulkResult": models.BulkResult,
        "ServiceEndpoint": models.ServiceEndpoint,
        "ServiceList": models.ServiceList,
    }
    parsed = 0
    for service in ("strategy-service", "account-service", "analytics-service", "config-service"):
        document = load(CONTRACTS_DIR / f"{service}.yaml")
        for _, _, op in operations(document):
            for code, raw in op["responses"].items():
                if not code.startswith("2"):
                    continue
                media = resolve(document, raw)["content"]["application/json"]
                model = by_schema[media["schema"]["$ref"].rsplit("/", 1)[1]]
                model.model_validate_json(httpx.Response(200, json=media["example"]).content)
                parsed += 1
    assert parsed == 19  # every 2xx response of the four contracts
