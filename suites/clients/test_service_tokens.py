"""Service tokens in the clients: cached, refreshed once for many calls, one retry after a 401, never logged.

Against the auth-service mock (its clock expires tokens) and owner mocks that require a
token (`engine.token_check`, in process; `PUT /__admin/token-check` over real sockets).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal

import httpx
import pytest

from harness.servers import InProcessMocks, LiveMocks, in_process_url
from mocks.behaviours.auth import DEV_CLIENTS, AuthBehaviour
from order_service.clients import ClientHub
from order_service.clients.models import PnlSync
from order_service.clients.strategy import StrategyServiceClient
from order_service.clients.tokens import ServiceTokenAuth, ServiceTokens, TokenUnavailableError
from order_service.errors import ServiceRejectedError, ServiceUnavailableError
from order_service.fallbacks.outbox import Deferred
from suites.fixtures.clients import FakeTime, RoutingTransport, build_hub, hub_settings

pytestmark = pytest.mark.anyio
SECRET = "dev-order-service-client-secret-0001"  # mocks/dev_oauth_clients.json
TOKEN_URL = in_process_url("auth-service") + "/oauth/token"
SYNC = PnlSync(
    as_of=datetime.fromisoformat("2026-11-26T15:30:00+05:30"),
    realized_pnl=Decimal("10"),
    unrealized_pnl=Decimal(0),
    total_pnl=Decimal("10"),
    open_positions=1,
)


def auth(mocks: InProcessMocks) -> AuthBehaviour:
    behaviour = mocks.app("auth-service").engine.behaviour
    assert isinstance(behaviour, AuthBehaviour)
    return behaviour


def require_tokens(mocks: InProcessMocks, *owners: str) -> None:
    """The owners refuse requests without a token the auth mock calls active."""
    issuer = auth(mocks)

    async def active(token: str) -> bool:
        return issuer.is_active(token)

    for owner in owners:
        mocks.app(owner).engine.token_check = active


def tokens(mocks: InProcessMocks, time_: FakeTime, **options: object) -> ServiceTokens:
    return ServiceTokens(
        TOKEN_URL,
        "order-service",
        SECRET,
        transport=RoutingTransport(mocks.apps),
        clock=time_,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
async def token_hub(mocks: InProcessMocks, fake_time: FakeTime) -> AsyncIterator[ClientHub]:
    settings = hub_settings(
        service_tokens={"enabled": True, "client_secret": SECRET},
        fallback_urls={
            name: in_process_url(name) for name in ("strategy-service", "account-service", "analytics-service")
        },
    )
    built = build_hub(mocks, fake_time, settings)
    try:
        yield built
    finally:
        await built.aclose()


def test_the_dev_client_secret_is_the_one_the_mock_knows() -> None:
    import json

    from order_service.security.dev import dev_service_token_client

    assert json.loads(DEV_CLIENTS.read_text())["clients"]["order-service"]["secret"] == SECRET
    assert dev_service_token_client() == ("order-service", SECRET)


async def test_a_token_is_kept_until_shortly_before_it_expires(mocks: InProcessMocks, fake_time: FakeTime) -> None:
    source = tokens(mocks, fake_time, refresh_margin=30)
    try:
        first = await source.token()
        fake_time.now += 300 - 30 - 0.001  # the mock's tokens last 300 s
        assert await source.token() == first
        fake_time.now += 0.001
        second = await source.token()
        assert second != first
        assert source.fetches == 2
        assert auth(mocks).snapshot()["issued"] == 2
    finally:
        await source.aclose()


async def test_many_calls_needing_a_token_at_once_share_one_fetch(mocks: InProcessMocks, fake_time: FakeTime) -> None:
    source = tokens(mocks, fake_time)
    try:
        got = await asyncio.gather(*(source.token() for _ in range(50)))
        assert len(set(got)) == 1
        assert source.fetches == 1
        assert auth(mocks).snapshot()["issued"] == 1
    finally:
        await source.aclose()


async def test_owner_calls_carry_the_token_and_add_no_fetch_per_call(
    mocks: InProcessMocks, token_hub: ClientHub
) -> None:
    require_tokens(mocks, "strategy-service")
    for _ in range(5):
        assert await token_hub.strategy.validate_strategy(42) is True
    assert token_hub.tokens is not None
    assert token_hub.tokens.fetches == 1


async def test_a_revoked_token_is_refreshed_once_and_the_call_sent_once_more(
    mocks: InProcessMocks, token_hub: ClientHub
) -> None:
    require_tokens(mocks, "strategy-service")
    assert token_hub.tokens is not None
    await token_hub.strategy.validate_strategy(42)
    issuer = auth(mocks)
    for token in issuer.tokens.values():
        token["revoked"] = True  # as POST /oauth/revoke does
    assert await token_hub.strategy.validate_strategy(42) is True
    assert token_hub.tokens.fetches == 2
    statuses = [e["status"] for e in mocks.service("strategy-service").journal(operation_id="validateStrategy")]
    assert statuses == [200, 401, 200]


async def test_a_token_expired_on_the_auth_service_clock_is_refreshed(
    mocks: InProcessMocks, token_hub: ClientHub
) -> None:
    require_tokens(mocks, "strategy-service")
    await token_hub.strategy.validate_strategy(42)
    auth(mocks).clock.advance(301)  # the client's clock has not moved: only the owner's 401 tells it
    assert await token_hub.strategy.validate_strategy(42) is True
    assert token_hub.tokens is not None
    assert token_hub.tokens.fetches == 2


async def test_a_401_for_a_fresh_token_is_not_retried_in_a_loop(mocks: InProcessMocks, token_hub: ClientHub) -> None:
    async def never(token: str) -> bool:
        return False

    mocks.app("strategy-service").engine.token_check = never
    with pytest.raises(ServiceRejectedError) as refused:
        await token_hub.strategy.validate_strategy(42)
    assert refused.value.status == 401
    assert len(mocks.service("strategy-service").journal(operation_id="validateStrategy")) == 2  # one retry


async def test_with_the_token_service_down_reads_serve_stale_and_writes_wait_in_the_outbox(
    mocks: InProcessMocks, token_hub: ClientHub, fake_time: FakeTime
) -> None:
    require_tokens(mocks, "strategy-service")
    fresh = await token_hub.strategy.get_strategy_portfolio(42)
    fake_time.now += 280  # past the token's refresh time (300 - 30 s): the next call must fetch
    with mocks.service("auth-service").outage(kind="status", status=503):
        served = await token_hub.strategy.get_strategy_portfolio(42)
        assert served.is_stale
        assert served.model_dump() == fresh.model_dump()
        assert isinstance(await token_hub.strategy.sync_strategy_pnl(42, SYNC), Deferred)
        with pytest.raises(TokenUnavailableError):
            await token_hub.strategy.validate_strategy(43)  # nothing known: the outage shows
    assert token_hub.strategy.breaker.state == "closed"  # the owner was never at fault
    delivered = await token_hub.relay.drain("strategy-service")
    assert delivered
    mocks.service("strategy-service").assert_called("syncStrategyPnl", times=1)


async def test_no_token_and_no_secret_is_ever_logged(
    mocks: InProcessMocks, token_hub: ClientHub, caplog: pytest.LogCaptureFixture
) -> None:
    require_tokens(mocks, "strategy-service")
    caplog.set_level(logging.DEBUG)
    await token_hub.strategy.validate_strategy(42)
    for token in auth(mocks).tokens.values():
        token["revoked"] = True
    await token_hub.strategy.validate_strategy(42)
    with mocks.service("auth-service").outage(kind="status", status=503):
        for token in auth(mocks).tokens.values():
            token["revoked"] = True
        with pytest.raises(ServiceUnavailableError):
            await token_hub.strategy.validate_strategy(43)
    text = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    issued = list(auth(mocks).tokens)
    assert len(issued) == 2
    assert caplog.records
    assert not [t for t in issued if t in text]
    assert SECRET not in text
    assert "SERVICE_TOKEN_FETCHED" in text


async def test_an_owner_that_requires_tokens_refuses_a_call_without_one(mocks: InProcessMocks, hub: ClientHub) -> None:
    require_tokens(mocks, "strategy-service")
    with pytest.raises(ServiceRejectedError) as refused:
        await hub.strategy.validate_strategy(42)
    assert refused.value.status == 401
    entry = mocks.service("strategy-service").journal(operation_id="validateStrategy")[-1]
    assert entry["status"] == 401


@pytest.mark.live
async def test_over_real_sockets_an_owner_checks_tokens_with_the_auth_service(live_mocks: LiveMocks) -> None:
    strategy, issuer = live_mocks.url("strategy-service"), live_mocks.url("auth-service")
    admin = live_mocks.admin("strategy-service")
    async with httpx.AsyncClient(timeout=5) as plain:
        (
            await plain.put(admin + "/token-check", json={"introspect_url": issuer + "/oauth/introspect"})
        ).raise_for_status()
        try:
            assert (await plain.get(strategy + "/strategies/42/validate")).status_code == 401
            source = ServiceTokens(issuer + "/oauth/token", "order-service", SECRET)
            client = StrategyServiceClient(base_url=strategy, auth=ServiceTokenAuth(source))
            try:
                assert await client.validate_strategy(42) is True
                token = await source.token()
                (await plain.post(issuer + "/oauth/revoke", data={"token": token})).raise_for_status()
                assert await client.validate_strategy(42) is True  # refreshed after the owner's 401
                assert source.fetches == 2
            finally:
                await client.aclose()
                await source.aclose()
        finally:
            (await plain.delete(admin + "/token-check")).raise_for_status()
