"""Consumer pacts with the account service, driven through the real AccountServiceClient."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pact import Pact, match

from order_service.clients.account import AccountServiceClient
from order_service.errors import ServiceNotFoundError
from order_service.fallbacks.outbox import Deferred
from suites.pact.matchers import JSON, account, error_body, idempotency_key, money, timestamp

pytestmark = [pytest.mark.anyio, pytest.mark.pact]
PROVIDER = "account-service"
NewPact = Callable[[str], Pact]


def tier(account_id: str, effective: str, base: str, promoted: bool) -> dict[str, object]:
    return {
        "account_id": account_id,
        "tier": effective,
        "base_tier": base,
        "promoted_until": timestamp("2026-11-26T10:45:00+05:30") if promoted else None,
        "updated_at": timestamp(),
    }


async def test_update_the_tier(new_pact: NewPact) -> None:
    pact = new_pact(PROVIDER)
    (
        pact.upon_receiving("a tier update")
        .given("account ZX1234 is in tier warm")
        .with_request("PUT", "/accounts/ZX1234/tier")
        .with_body({"tier": "cold"}, content_type=JSON)
        .will_respond_with(200)
        .with_body(tier("ZX1234", "cold", "cold", promoted=False), content_type=JSON)
    )
    with pact.serve() as server:
        async with AccountServiceClient(base_url=str(server.url)) as client:
            updated = await client.update_account_tier("ZX1234", "cold")
    assert not isinstance(updated, Deferred)
    assert updated.base_tier == "cold"


async def test_update_the_tier_of_an_unknown_account(new_pact: NewPact) -> None:
    pact = new_pact(PROVIDER)
    (
        pact.upon_receiving("a tier update of an account that does not exist")
        .given("account QQ0000 does not exist")
        .with_request("PUT", "/accounts/QQ0000/tier")
        .with_body({"tier": "hot"}, content_type=JSON)
        .will_respond_with(404)
        .with_body(error_body("not_found"), content_type=JSON)
    )
    with pact.serve() as server:
        async with AccountServiceClient(base_url=str(server.url)) as client:
            with pytest.raises(ServiceNotFoundError):
                await client.update_account_tier("QQ0000", "hot")


async def test_promote_to_the_hot_tier(new_pact: NewPact) -> None:
    pact = new_pact(PROVIDER)
    (
        pact.upon_receiving("a promotion to the hot tier")
        .given("account ZX1234 is in tier warm")
        .with_request("POST", "/accounts/ZX1234/promote-tier")
        .with_header("Idempotency-Key", idempotency_key("promote", 1))
        .with_body({"duration_minutes": 30, "reason": "order placed"}, content_type=JSON)
        .will_respond_with(200)
        .with_body(tier("ZX1234", "hot", "warm", promoted=True), content_type=JSON)
    )
    with pact.serve() as server:
        async with AccountServiceClient(base_url=str(server.url)) as client:
            promoted = await client.promote_account_to_hot_tier("ZX1234", 30, reason="order placed")
    assert not isinstance(promoted, Deferred)
    assert promoted.tier == "hot"
    assert promoted.promoted_until is not None


async def test_promote_an_unknown_account(new_pact: NewPact) -> None:
    pact = new_pact(PROVIDER)
    (
        pact.upon_receiving("a promotion of an account that does not exist")
        .given("account QQ0000 does not exist")
        .with_request("POST", "/accounts/QQ0000/promote-tier")
        .with_header("Idempotency-Key", idempotency_key("promote", 2))
        .with_body({"duration_minutes": 30}, content_type=JSON)
        .will_respond_with(404)
        .with_body(error_body("not_found"), content_type=JSON)
    )
    with pact.serve() as server:
        async with AccountServiceClient(base_url=str(server.url)) as client:
            with pytest.raises(ServiceNotFoundError):
                await client.promote_account_to_hot_tier("QQ0000", 30)


async def test_tier_summary(new_pact: NewPact) -> None:
    pact = new_pact(PROVIDER)
    (
        pact.upon_receiving("a tier summary")
        .given("account ZX1234 is in tier warm")
        .with_request("GET", "/accounts/tier-summary")
        .will_respond_with(200)
        .with_body(
            {
                "counts": {"hot": match.int(10), "warm": match.int(11), "cold": match.int(10)},
                "promoted": match.int(0),
                "total": match.int(31),
                "as_of": timestamp(),
            },
            content_type=JSON,
        )
    )
    with pact.serve() as server:
        async with AccountServiceClient(base_url=str(server.url)) as client:
            summary = await client.get_tier_summary()
    assert summary.total == 31


async def test_accounts_by_tier(new_pact: NewPact) -> None:
    pact = new_pact(PROVIDER)
    (
        pact.upon_receiving("a page of accounts on the warm tier")
        .given("account ZX1234 is in tier warm")
        .with_request("GET", "/accounts/by-tier/warm")
        .with_query_parameter("limit", "5")
        .will_respond_with(200)
        .with_body(
            {
                "items": match.each_like(
                    tier("AB1011", "warm", "warm", promoted=False) | {"account_id": account("AB1011")}
                ),
                "next_cursor": match.regex("AB1015", regex=r"^[A-Za-z0-9_-]+$"),
                "total": match.int(11),
            },
            content_type=JSON,
        )
    )
    with pact.serve() as server:
        async with AccountServiceClient(base_url=str(server.url)) as client:
            page = await client.list_accounts_by_tier("warm", limit=5)
    assert page.items[0].tier == "warm"


async def test_holdings(new_pact: NewPact) -> None:
    pact = new_pact(PROVIDER)
    holding = {
        "tradingsymbol": match.str("INFY"),
        "exchange": match.str("NSE"),
        "isin": match.regex("INE009A01021", regex=r"^IN[A-Z0-9]{9}[0-9]$"),
        "quantity": match.int(50),
        "t1_quantity": match.int(0),
        "average_price": money("1480"),
        "last_price": money("1532.1"),
        "pnl": money("2605"),
    }
    (
        pact.upon_receiving("a request for an account's holdings")
        .given("account ZX1234 has holdings")
        .with_request("GET", "/accounts/ZX1234/holdings")
        .will_respond_with(200)
        .with_body(
            {"account_id": "ZX1234", "holdings": match.each_like(holding), "as_of": timestamp()}, content_type=JSON
        )
    )
    with pact.serve() as server:
        async with AccountServiceClient(base_url=str(server.url)) as client:
            holdings = await client.get_account_holdings("ZX1234")
    assert holdings.holdings[0].isin == "INE009A01021"


async def test_holdings_of_an_unknown_account(new_pact: NewPact) -> None:
    pact = new_pact(PROVIDER)
    (
        pact.upon_receiving("a request for the holdings of an account that does not exist")
        .given("account QQ0000 does not exist")
        .with_request("GET", "/accounts/QQ0000/holdings")
        .will_respond_with(404)
        .with_body(error_body("not_found"), content_type=JSON)
    )
    with pact.serve() as server:
        async with AccountServiceClient(base_url=str(server.url)) as client:
            with pytest.raises(ServiceNotFoundError):
                await client.get_account_holdings("QQ0000")
