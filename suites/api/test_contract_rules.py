"""What schemathesis found the app doing against its contract, pinned as plain tests (no Redis needed)."""

from __future__ import annotations

import httpx
import pytest

from order_service.api.app import create_app
from order_service.security.dev import dev_security_settings, dev_signer, dev_user_token
from order_service.settings import Settings
from suites.fixtures.orders import LIMIT_ORDER

pytestmark = pytest.mark.anyio


def api(identity: str = "algo_engine", *, nonce: str = "nonce-0001", account: str = "ZX1234") -> httpx.AsyncClient:
    """A client signed as `identity` for a user who may act for `account`."""
    app = create_app(Settings(security=dev_security_settings()))
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://order.test",
        auth=dev_signer(identity, nonce=lambda: nonce),
        headers={"authorization": f"Bearer {dev_user_token(accounts=(account,))}", "x-trading-account-id": account},
    )


async def test_a_whole_number_written_as_a_float_is_an_integer() -> None:
    async with api() as client:
        response = await client.post("/orders", json={**LIMIT_ORDER, "quantity": 7.0})
    assert response.status_code == 201
    assert response.json()["quantity"] == 7
    async with api() as client:
        refused = await client.post("/orders", json={**LIMIT_ORDER, "quantity": 7.5})
    assert refused.status_code == 422


@pytest.mark.parametrize("field", ["price", "tag", "strategy_id"])
async def test_an_optional_field_sent_as_null_is_refused_by_name(field: str) -> None:
    async with api() as client:
        response = await client.post("/orders", json={**LIMIT_ORDER, field: None})
    assert response.status_code == 422
    assert field in response.json()["violations"][0]["reason"]


async def test_a_malformed_nonce_is_refused_even_when_signed() -> None:
    async with api("user_interface", nonce="has space!") as client:
        response = await client.get("/orders")
    assert response.status_code == 422
    assert response.json()["violations"][0]["field"] == "X-Request-Nonce"


async def test_a_malformed_account_header_is_refused() -> None:
    async with api("user_interface", account="zx-12") as client:  # the user may act for it; its form is wrong
        response = await client.get("/orders")
    assert response.status_code == 422
    assert response.json()["violations"][0]["field"] == "X-Trading-Account-Id"


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("short", "String should have at least 8 characters"),
        ("k" * 129, "String should have at most 128 characters"),
        ("has space 123", "String should match pattern '^[A-Za-z0-9._:-]+$'"),
    ],
)
async def test_a_malformed_idempotency_key_is_refused_by_name_and_rule(key: str, reason: str) -> None:
    async with api() as client:
        response = await client.post("/orders", json=LIMIT_ORDER, headers={"idempotency-key": key})
    assert response.status_code == 422
    assert response.json()["violations"] == [{"location": "header", "field": "Idempotency-Key", "reason": reason}]


async def test_a_malformed_header_of_an_unsigned_request_is_the_security_checks_401() -> None:
    """The headers' forms are checked after the signature: an unsigned request learns nothing more."""
    app = create_app(Settings(security=dev_security_settings()))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://order.test") as client:
        response = await client.get("/orders", headers={"x-trading-account-id": "zx-12", "x-request-nonce": "no!"})
    assert response.status_code == 401
    assert "violations" not in response.json()


@pytest.mark.parametrize(
    ("path", "allowed"), [("/orders", "GET, POST"), ("/orders/261126000000001", "DELETE, GET, PATCH")]
)
async def test_a_405_lists_every_method_of_the_path(path: str, allowed: str) -> None:
    async with api() as client:
        response = await client.put(path, json={})
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.json()["error"] == "method_not_allowed"


async def test_an_unknown_path_answers_the_contract_error_body() -> None:
    async with api() as client:
        response = await client.get("/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_a_change_that_needs_a_trigger_price_names_it() -> None:
    async with api() as client:
        placed = (await client.post("/orders", json=LIMIT_ORDER)).json()
        changed = await client.patch(f"/orders/{placed['order_id']}", json={"order_type": "SL"})
    assert placed["status"] == "OPEN"
    assert changed.status_code == 422
    assert changed.json()["violations"][0]["field"] == "trigger_price"
