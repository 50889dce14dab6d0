"""Both order stores behind one fixture: every store test runs on memory and on real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from order_service.orders import book
from order_service.orders.models import PlaceOrderRequest
from order_service.orders.postgres import PostgresOrderStore
from order_service.orders.store import MemoryOrderStore, OrderStore
from order_service.services.order_anomaly_detector import IST
from suites.fixtures.orders import LIMIT_ORDER, market_order

BROKER = book.SimulatedBroker({"INFY": Decimal("1532.10")})
AT = datetime(2026, 11, 26, 11, 0, tzinfo=IST)
CLAIM_SECONDS = 1.0  # short, so the expiry tests wait only a second


class Clock:
    """A clock the memory store's tests move by hand (PostgreSQL's tests wait for real)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, clock: Clock) -> AsyncIterator[OrderStore]:
    if request.param == "memory":
        yield MemoryOrderStore(claim_seconds=CLAIM_SECONDS, keep_seconds=3600, clock=clock)
        return
    url = request.getfixturevalue("database_url")
    opened = await PostgresOrderStore.connect(url, claim_seconds=CLAIM_SECONDS, keep_seconds=3600)
    try:
        yield opened
    finally:
        await opened.close()


async def wait_claim_out(store: OrderStore, clock: Clock) -> None:
    """Let a claim expire: move the memory store's clock, or wait on PostgreSQL's."""
    if isinstance(store, MemoryOrderStore):
        clock.now += CLAIM_SECONDS + 0.1
    else:
        import asyncio

        await asyncio.sleep(CLAIM_SECONDS + 0.2)


def limit(**changes: Any) -> dict[str, Any]:
    """A LIMIT order document (not filled), as the desk builds it."""
    request = PlaceOrderRequest.model_validate({**LIMIT_ORDER, **changes}, strict=False)
    return book.new_order(BROKER, "ZX1234", request, "algo_engine", AT)


def market(**changes: Any) -> dict[str, Any]:
    """A MARKET order document, filled at once by the simulated broker."""
    request = PlaceOrderRequest.model_validate(market_order(**changes), strict=False)
    return book.new_order(BROKER, "ZX1234", request, "algo_engine", AT)
