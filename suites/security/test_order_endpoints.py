"""The order endpoints wired with the security dependencies, through HTTP."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from order_service.api.app import create_app
from order_service.security.dev import dev_security_settings, dev_signer, dev_user_token
from order_service.settings import Settings
from suites.fixtures import orders

pytestmark = pytest.mark.anyio
LIMIT_ORDER = {**orders.LIMIT_ORDER, "price": "1500.25"}
MARKET_ORDER = orders.market_order()


@pytest.fixture
def app() -> FastAPI:
    return create_app(Settings(security=dev_security_settings()))


def user_headers(token: str | None = None, account: str = "ZX1234") -> dict[str, str]:
    return {"authorization": f"Bearer {token or dev_user_token()}", "x-trading-account-id": account}


@pytest.fixture
async def as_service(app: FastAPI) -> AsyncIterator[Any]:
    clients: list[httpx.AsyncClient] = []

    def make(identity: str, **headers: str) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://order.test",
            auth=dev_signer(identity),
            headers={**user_headers(), **headers},
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


def failures(app: FastAPI, reason: str) -> float:
    value = app.state.registry.get_sample_value("order_service_auth_failures_total", {"reason": reason})
    return value or 0.0


async def test_each_identity_can_do_its_row_of_the_matrix(as_service: Any) -> None:
    algo, ui, risk, strategy = (
        as_service(i) for i in ("algo_engine", "user_interface", "risk_manager", "strategy_service")
    )
    placed = (await algo.post("/orders", json=LIMIT_ORDER)).json()
    assert placed["placed_by"] == "algo_engine"
    order = f"/orders/{placed['order_id']}"
    assert (await strategy.patch(order, json={"quantity": 20})).json()["quantity"] == 20
    assert [o["order_id"] for o in (await ui.get("/orders", params={"status": "OPEN"})).json()["items"]] == [
        placed["order_id"]
    ]
    assert (await risk.delete(order)).json()["status"] == "CANCELLED"
    await algo.post("/orders", json=MARKET_ORDER)
    assert (await risk.get("/positions")).json()["net"][0]["quantity"] == 10


@pytest.mark.parametrize(
    ("identity", "method", "path"),
    [
        ("algo_engine", "GET", "/orders"),
        ("algo_engine", "GET", "/positions"),
        ("user_interface", "PATCH", "/orders/261126000000001"),
        ("risk_manager", "POST", "/orders"),
        ("strategy_service", "DELETE", "/orders/261126000000001"),
    ],
)
async def test_an_identity_outside_its_row_is_403(
    app: FastAPI, as_service: Any, identity: str, method: str, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="order_service.audit")
    body = LIMIT_ORDER if method == "POST" else {"quantity": 5} if method == "PATCH" else None
    response = await as_service(identity).request(method, path, json=body)
    assert response.status_code == 403
    assert response.json() == {"error": "forbidden", "message": "the calling service may not perform this operation"}
    audit = [json.loads(r.getMessage().removeprefix("AUDIT_EVENT ")) for r in caplog.records]
    assert audit[-1]["reason"] == "operation_not_allowed"
    assert audit[-1]["identity"] == identity
    assert failures(app, "operation_not_allowed") == 1


async def send_tampered(client: httpx.AsyncClient, header: str, value: str) -> httpx.Response:
    """Sign a placement properly, then change one signing header before sending it."""
    request = client.build_request("POST", "/orders", json=LIMIT_ORDER)
    dev_signer("algo_engine").sign(request)
    request.headers[header] = value
    return await client.send(request, auth=None)  # None: no auth flow, send as built


async def test_bad_signature_and_unknown_key_look_the_same(as_service: Any) -> None:
    client = as_service("algo_engine")
    bad_key = await send_tampered(client, "x-internal-api-key", "not-a-key-0000001")
    bad_signature = await send_tampered(client, "x-request-signature", "0" * 64)
    unknown = await send_tampered(client, "x-service-identity", "billing_service")
    assert bad_key.status_code == bad_signature.status_code == unknown.status_code == 401
    assert (
        bad_key.json()
        == bad_signature.json()
        == unknown.json()
        == {"error": "unauthorized", "message": "invalid request credentials"}
    )


async def test_a_replayed_request_is_refused(as_service: Any) -> None:
    client = as_service("algo_engine")
    request = client.build_request("POST", "/orders", json=LIMIT_ORDER)
    dev_signer("algo_engine").sign(request)
    first = await client.send(request, auth=None)
    again = await client.send(request, auth=None)
    assert first.status_code == 201
    assert again.status_code == 401
    assert again.json()["message"] == "request already seen"


async def test_header_names_are_case_insensitive(app: FastAPI) -> None:
    request = httpx.Request("POST", "http://order.test/orders", json=LIMIT_ORDER, headers=user_headers())
    dev_signer("algo_engine").sign(request)
    shouted = [(k.upper(), v) for k, v in request.headers.items()]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        response = await client.post("http://order.test/orders", content=request.content, headers=shouted)
    assert response.status_code == 201


async def test_a_duplicated_signing_header_is_refused(app: FastAPI) -> None:
    request = httpx.Request("POST", "http://order.test/orders", json=LIMIT_ORDER)
    dev_signer("algo_engine").sign(request)
    headers = [*request.headers.multi_items(), ("x-service-identity", "risk_manager"), *user_headers().items()]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        response = await client.post("http://order.test/orders", content=request.content, headers=headers)
    assert response.status_code == 401
    assert response.json()["message"] == "missing or duplicated request credentials"
    assert failures(app, "duplicate_header") == 1


def token(**claims: Any) -> str:
    now = int(time.time())
    base = {"sub": "user-1", "aud": "order-service", "exp": now + 60, "trading_accounts": ["ZX1234"]}
    secret = dev_security_settings().jwt_secret
    assert secret
    return jwt.encode({**base, **claims}, secret, algorithm="HS256")


def unsigned_token() -> str:
    import base64

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    now = int(time.time())
    claims = {"sub": "user-1", "aud": "order-service", "exp": now + 60, "trading_accounts": ["ZX1234"]}
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@pytest.mark.parametrize(
    ("label", "value"),
    [
        ("expired", lambda: token(exp=int(time.time()) - 1)),
        ("wrong audience", lambda: token(aud="billing")),
        ("alg none", unsigned_token),
        (
            "no expiry",
            lambda: jwt.encode(
                {"sub": "u", "aud": "order-service", "trading_accounts": ["ZX1234"]},
                dev_security_settings().jwt_secret or "",
                algorithm="HS256",
            ),
        ),
        (
            "other key",
            lambda: jwt.encode(
                {"sub": "u", "aud": "order-service", "exp": int(time.time()) + 60},
                "not-the-key-but-long-enough-for-hs256",
                algorithm="HS256",
            ),
        ),
        ("garbage", lambda: "not.a.jwt"),
    ],
)
async def test_a_bad_user_token_is_401(app: FastAPI, as_service: Any, label: str, value: Any) -> None:
    response = await as_service("algo_engine", authorization=f"Bearer {value()}").post("/orders", json=LIMIT_ORDER)
    assert response.status_code == 401, label
    assert response.json()["message"] == "invalid or expired user token"
    assert failures(app, "bad_token") == 1


async def test_a_user_may_act_only_for_their_accounts(as_service: Any) -> None:
    response = await as_service("algo_engine", **{"x-trading-account-id": "AB1001"}).post("/orders", json=LIMIT_ORDER)
    assert response.status_code == 403
    assert response.json()["message"] == "the user may not act for this trading account"


async def test_every_order_is_audited(as_service: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="order_service.audit")
    placed = (await as_service("algo_engine").post("/orders", json=LIMIT_ORDER)).json()
    events = [
        json.loads(r.getMessage().removeprefix("AUDIT_EVENT "))
        for r in caplog.records
        if r.getMessage().startswith("AUDIT_EVENT ")
    ]
    assert events == [
        {
            "event": "order_placed",
            "order_id": placed["order_id"],
            "account": "ZX1234",
            "identity": "algo_engine",
            "status": "OPEN",
        }
    ]


async def test_bad_order_bodies_are_422_naming_the_field(as_service: Any) -> None:
    client = as_service("algo_engine")
    no_price = await client.post("/orders", json={**LIMIT_ORDER, "price": None})
    float_price = await client.post("/orders", json={**LIMIT_ORDER, "price": 1500.25})
    assert no_price.status_code == float_price.status_code == 422
    assert {v["field"] for v in float_price.json()["violations"]} == {"price"}
