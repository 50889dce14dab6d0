"""Consumer pacts with the strategy service, driven through the real StrategyServiceClient."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

import pytest
from pact import Pact, match

from order_service.clients.models import PnlSync
from order_service.clients.strategy import StrategyServiceClient
from order_service.errors import ServiceNotFoundError, ServiceRejectedError
from suites.pact.matchers import JSON, account, error_body, idempotency_key, money, timestamp

pytestmark = [pytest.mark.anyio, pytest.mark.pact]
PROVIDER = "strategy-service"
NewPact = Callable[[str], Pact]


def validation(strategy_id: int, valid: bool, status: str) -> dict[str, object]:
    return {
        "strategy_id": match.int(strategy_id),
        "valid": valid,
        "status": status,
        "reason": None if valid else match.str(f"strategy is {status}"),
        "checked_at": timestamp(),
    }


def snapshot(total: str, version: int) -> dict[str, object]:
    return {
        "strategy_id": match.int(42),
        "as_of": timestamp("2026-11-26T15:30:00+05:30"),
        "realized_pnl": money(total),
        "unrealized_pnl": money("0"),
        "total_pnl": money(total),
        "open_positions": match.int(2),
        "version": match.int(version),
        "synced_at": timestamp(),
    }


def strategy(strategy_id: int, account_id: str) -> dict[str, object]:
    return {
        "strategy_id": match.int(strategy_id),
        "name": match.str("Default"),
        "account_id": account_id,
        "is_default": True,
        "status": "active",
        "created_at": timestamp(),
    }


SYNC = PnlSync(
    as_of=datetime.fromisoformat("2026-11-26T15:30:00+05:30"),
    realized_pnl=Decimal("1250.75"),
    unrealized_pnl=Decimal(0),
    total_pnl=Decimal("1250.75"),
    open_positions=2,
)


async def test_validate_an_active_strategy(new_pact: NewPact) -> None:
    pact = new_pact(PROVIDER)
    (
        pact.upon_receiving("a validation of an active strategy")
        .given("strategy 42 exists")
        .with_request("GET", "/strategies/42/validate")
        .will_respond_with(200)
        .with_body(validation(42, True, "active"), content_type=JSON)
    )
    with pact.serve() as server:
        async with StrategyServiceClient(base_url=str(server.url)) as client:
            assert await client.validate_strategy(42) is True


async def test_validate_a_paused_strategy(new_pact: NewPact) -> None:
    pact = new_pact(PROVIDER)
    (
        pact.upon_receiving("a validation of a paused strategy")
        .given("strategy 43 is paused")
        .with_request("GET", "/strategies/43/validate")
        .will_respond_with(200)
        .with_body(validation(43, False, "paused"), content_type=JSON)
    )
    with pact.serve() as server:
        async with StrategyServiceClient(base_url=str(server.url)) as client:
            assert await client.validate_strategy(43) is False


async def test_validate_an_unknown_strategy(new_pact: NewPact) -> None:
    pact = new_pact(PROVIDER)
    (
        pact.upon_receiving("a validation of a strategy that does not exist")
        .given("strategy 999 does not exist")
        .with_request("GET", "/strategies/999/validate")
        .will_respond_with(404)
        .with_body(error_body("not_found"), content_type=JSON)
    )
    with pact.serve() as server:
        async with StrategyServiceClient(base_url=str(server.url)) as client:
            with pytest.raises(ServiceNotFoundError):
                await client.validate_strategy(999)


async def test_sync_pnl(new_pact: NewPact) -> None:
    pact = new_pact(PROVIDER)
    (
        pact.upon_receiving("a P&L sync")
        .given("strategy 42 exists")
        .with_request("POST", "/strategies/42/sync-pnl")
        .with_header("Idempotency-Key", idempotency_key("sync-pnl", 6))
        .with_body(
            {
                "as_of": "2026-11-26T15:30:00+05:30",
                "realized_pnl": money("1250.75"),
                "unrealized_pnl": money("0"),
                "total_pnl": money("1250.75"),
                "open_positions": match.int(2),
            },
            content_type=JSON,
        )
        .will_respond_with(200)
        .with_body(snapshot("1250.75", 1), content_type=JSON)
    )
    with pact.serve() as server:
        async with StrategyServiceClient(base_url=str(server.url)) as client:
            stored = await client.sync_strategy_pnl(42, SYNC)
    assert not isinstance(stored, type(None))
    assert getattr(stored, "total_pnl", None) == Decimal("1250.75")


async def test_sync_pnl_older_than_the_stored_snapshot(new_pact: NewPact) -> None:
    pact = new_pact(PROVIDER)
    (
        pact.upon_receiving("a P&L sync older than the stored snapshot")
        .given("strategy 42 has a P&L snapshot as of 2026-11-26T16:00:00+05:30")
        .with_request("POST", "/strategies/42/sync-pnl")
        .with_header("Idempotency-Key", idempotency_key("sync-pnl", 7))
        .with_body(
            {
                "as_of": "2026-11-26T15:30:00+05:30",
                "realized_pnl": money("1250.75"),
                "unrealized_pnl": money("0"),
                "total_pnl": money("1250.75"),
                "open_positions": match.int(2),
            },
            content_type=JSON,
        )
        .will_respond_with(409)
        .with_body(error_body("conflict"), content_type=JSON)
    )
    with pact.serve() as server:
        async with StrategyServiceClient(base_url=str(server.url)) as client:
            with pytest.raises(ServiceRejectedError) as caught:
                await client.sync_strategy_pnl(42, SYNC)
    assert caught.value.status == 409


async def test_get_the_default_strategy(new_pact: NewPact) -> None:
    pact = new_pact(PROVIDER)
    (
        pact.upon_receiving("a request for an account's default strategy")
        .given("account ZX1234 has a default strategy")
        .with_request("GET", "/strategies/default/ZX1234")
        .will_respond_with(200)
        .with_body(strategy(7, "ZX1234"), content_type=JSON)
    )
    with pact.serve() as server:
        async with StrategyServiceClient(base_url=str(server.url)) as client:
            found = await client.get_default_strategy("ZX1234")
    assert found.is_default


async def test_get_a_missing_default_strategy(new_pact: NewPact) -> None:
    pact = new_pact(PROVIDER)
    (
        pact.upon_receiving("a request for the default strategy of an account without one")
        .given("account QQ9999 has no default strategy")
        .with_request("GET", "/strategies/default/QQ9999")
        .will_respond_with(404)
        .with_body(error_body("not_found"), content_type=JSON)
    )
    with pact.serve() as server:
        async with StrategyServiceClient(base_url=str(server.url)) as client:
            with pytest.raises(ServiceNotFoundError):
                await client.get_default_strategy("QQ9999")


async def test_create_a_default_strategy(new_pact: NewPact) -> None:
    pact = new_pact(PROVIDER)
    (
        pact.upon_receiving("a default strategy creation")
        .given("account QQ9999 has no default strategy")
        .with_request("POST", "/strategies/default")
        .with_body({"account_id": "QQ9999", "name": "Main"}, content_type=JSON)
        .will_respond_with(201)
        .with_body({**strategy(1001, "QQ9999"), "name": "Main"}, content_type=JSON)
    )
    with pact.serve() as server:
        async with StrategyServiceClient(base_url=str(server.url)) as client:
            created = await client.create_default_strategy("QQ9999", name="Main")
    assert created.account_id == "QQ9999"


async def test_create_a_default_strategy_that_exists(new_pact: NewPact) -> None:
    pact = new_pact(PROVIDER)
    (
        pact.upon_receiving("a default strategy creation for an account that has one")
        .given("account ZX1234 has a default strategy")
        .with_request("POST", "/strategies/default")
        .with_body({"account_id": "ZX1234"}, content_type=JSON)
        .will_respond_with(200)
        .with_body(strategy(7, "ZX1234"), content_type=JSON)
    )
    with pact.serve() as server:
        async with StrategyServiceClient(base_url=str(server.url)) as client:
            existing = await client.create_default_strategy("ZX1234")
    assert existing.strategy_id == 7


async def test_get_a_portfolio(new_pact: NewPact) -> None:
    pact = new_pact(PROVIDER)
    position = {
        "tradingsymbol": match.str("INFY"),
        "exchange": match.str("NSE"),
        "product": match.str("MIS"),
        "quantity": match.int(100),
        "average_price": money("1520.4"),
        "last_price": money("1532.1"),
        "pnl": money("1170"),
    }
    (
        pact.upon_receiving("a request for a strategy's portfolio")
        .given("strategy 42 exists")
        .with_request("GET", "/strategies/42/portfolio")
        .will_respond_with(200)
        .with_body(
            {
                "strategy_id": match.int(42),
                "account_id": account(),
                "positions": match.each_like(position),
                "pnl": None,
                "as_of": timestamp(),
            },
            content_type=JSON,
        )
    )
    with pact.serve() as server:
        async with StrategyServiceClient(base_url=str(server.url)) as client:
            portfolio = await client.get_strategy_portfolio(42)
    assert portfolio.positions[0].tradingsymbol == "INFY"


async def test_get_the_portfolio_of_an_unknown_strategy(new_pact: NewPact) -> None:
    pact = new_pact(PROVIDER)
    (
        pact.upon_receiving("a request for the portfolio of a strategy that does not exist")
        .given("strategy 999 does not exist")
        .with_request("GET", "/strategies/999/portfolio")
        .will_respond_with(404)
        .with_body(error_body("not_found"), content_type=JSON)
    )
    with pact.serve() as server:
        async with StrategyServiceClient(base_url=str(server.url)) as client:
            with pytest.raises(ServiceNotFoundError):
                await client.get_strategy_portfolio(999)
