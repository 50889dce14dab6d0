"""The order-service mock and the reference order service keep one order lifecycle.

Two implementations of the same contract (the mock, for the order service's callers; the
reference, under test) would drift apart unseen. The same scripts of calls go to both;
every answer must match in status and in every field that does not name the moment or
the instance (ids, times, who placed it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from harness.servers import InProcessMocks
from order_service.api.app import create_app
from order_service.security.dev import dev_security_settings, dev_signer, dev_user_token
from order_service.settings import Settings
from suites.fixtures.orders import LIMIT_ORDER, market_order

pytestmark = pytest.mark.anyio
VARYING = {"order_id", "placed_at", "updated_at", "placed_by", "exchange_timestamp", "anomalies"}
ACCOUNT = "ZX1234"


def comparable(answer: httpx.Response) -> tuple[int, Any]:
    """Status and body without what names the moment or the instance."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in VARYING and k != "next_cursor"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    body = answer.json() if answer.content else None
    if isinstance(body, dict) and "message" in body and "error" in body:
        body = {"error": body["error"]}  # the wording of refusals may differ; the code may not
    return answer.status_code, strip(body)


@pytest.fixture
async def both(mocks: InProcessMocks) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    headers = {"authorization": f"Bearer {dev_user_token(accounts=(ACCOUNT,))}", "x-trading-account-id": ACCOUNT}
    reference = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(Settings(security=dev_security_settings()))),
        base_url="http://order.test",
        headers=headers,
    )
    mock = mocks.client("order-service", headers=headers)
    async with reference, mock:
        yield mock, reference


async def run(client: httpx.AsyncClient, script: list[tuple[str, str, Any]]) -> list[tuple[int, Any]]:
    """Each step's answer; `{id:N}` in a path is the id of the order step N placed."""
    answers: list[tuple[int, Any]] = []
    ids: list[str] = []
    for method, path, body in script:
        for n, order_id in enumerate(ids):
            path = path.replace(f"{{id:{n}}}", order_id)
        response = await client.request(method, path, json=body, auth=dev_signer(caller(method, path)))
        if method == "POST" and response.status_code == 201:
            ids.append(response.json()["order_id"])
        answers.append(comparable(response))
    return answers


def caller(method: str, path: str) -> str:
    """A service the seed's matrix allows the step (the mock checks the credentials' form, not the matrix)."""
    if method == "GET":
        return "risk_manager" if path.startswith("/positions") else "user_interface"
    return "algo_engine"


SCRIPTS = {
    "limit order modified then cancelled": [
        ("POST", "/orders", LIMIT_ORDER),
        ("PATCH", "/orders/{id:0}", {"price": "1490.5", "quantity": 12}),
        ("GET", "/orders/{id:0}", None),
        ("DELETE", "/orders/{id:0}", None),
        ("DELETE", "/orders/{id:0}", None),
        ("PATCH", "/orders/{id:0}", {"quantity": 5}),
    ],
    "market order filled, then positions": [
        ("POST", "/orders", market_order(quantity=3)),
        ("POST", "/orders", market_order(tradingsymbol="TCS", transaction_type="SELL", quantity=2)),
        ("DELETE", "/orders/{id:0}", None),
        ("GET", "/positions", None),
        ("GET", "/orders?status=COMPLETE", None),
    ],
    "stop orders and after-market orders": [
        ("POST", "/orders", {**LIMIT_ORDER, "order_type": "SL", "trigger_price": "1495"}),
        ("POST", "/orders", {**market_order(), "variety": "amo"}),
        ("PATCH", "/orders/{id:0}", {"order_type": "LIMIT"}),
        ("GET", "/orders", None),
    ],
    "orders that do not exist": [
        ("GET", "/orders/261126000000999", None),
        ("DELETE", "/orders/261126000000999", None),
        ("PATCH", "/orders/261126000000999", {"quantity": 1}),
    ],
}


@pytest.mark.parametrize("script", SCRIPTS.values(), ids=SCRIPTS.keys())
async def test_the_mock_answers_as_the_reference_does(
    both: tuple[httpx.AsyncClient, httpx.AsyncClient], script: list[tuple[str, str, Any]]
) -> None:
    mock, reference = both
    assert await run(mock, script) == await run(reference, script)


def test_the_comparison_sees_a_difference() -> None:
    """A changed status or a changed field is a difference; an id or a time is not."""
    base = {"order_id": "1", "placed_at": "t1", "status": "OPEN", "quantity": 10}
    same = httpx.Response(201, json={**base, "order_id": "2", "placed_at": "t2"})
    assert comparable(httpx.Response(201, json=base)) == comparable(same)
    assert comparable(httpx.Response(201, json=base)) != comparable(httpx.Response(201, json={**base, "quantity": 11}))
    assert comparable(httpx.Response(201, json=base)) != comparable(httpx.Response(200, json=base))
