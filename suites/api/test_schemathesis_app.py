"""Schemathesis runs the order-service contract against the real app, every operation, valid and invalid data.

The app is the reference implementation served by uvicorn on loopback, with real Redis
(replay store, idempotency keys, rate limits, anomaly windows) and the real verifier. So that
schemathesis's valid requests pass the security checks, a test-only ASGI layer signs requests
on arrival: a request carrying the placeholder credentials below gets the signing headers of a
dev identity allowed the operation, computed over the request as it arrived, and a dev user
token for the account it names. Anything else (schemathesis's broken credentials) passes
untouched and must be refused by the app itself.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
import schemathesis
import uvicorn
from schemathesis.config import SchemathesisConfig

from order_service.api.app import create_app
from order_service.security.dev import DEV_CREDENTIALS, dev_security_settings, dev_user_token
from order_service.security.signing import signature, string_to_sign
from order_service.settings import RateLimitSettings, Settings
from suites.fixtures.mocks import free_port
from suites.fixtures.redis import RealRedis

pytestmark = [pytest.mark.schemathesis, pytest.mark.redis]

CONTRACT = "contracts/order-service.yaml"
PLACEHOLDER_TOKEN = "placeholder.user.token"
PLACEHOLDER_KEY = "placeholder-api-key-0000"
PLACEHOLDER_SIGNATURE = "0" * 64
CREDENTIALS = {
    "UserJwt": {"bearer": PLACEHOLDER_TOKEN},
    "ServiceIdentity": {"api_key": "placeholder"},
    "InternalApiKey": {"api_key": PLACEHOLDER_KEY},
    "RequestTimestamp": {"api_key": "1"},
    "RequestSignature": {"api_key": PLACEHOLDER_SIGNATURE},
}
SEED = int(os.environ.get("HARNESS_FUZZ_SEED", "20261126"))
EXAMPLES = int(os.environ.get("HARNESS_FUZZ_EXAMPLES", "25"))


def identity_for(method: str, path: str) -> str:
    """A dev identity the service matrix allows for the operation (the seed's AUTHORIZED_SERVICES)."""
    if method in ("POST", "PATCH", "DELETE"):
        return "algo_engine"
    return "risk_manager" if path == "/positions" else "user_interface"


class SignOnArrival:
    """Test-only ASGI layer: turns the placeholder credentials into real ones, as a calling service would."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.secrets = {
            name: (entry["api_keys"][0], entry["signing_secrets"][0].encode())
            for name, entry in json.loads(DEV_CREDENTIALS.read_text())["services"].items()
        }

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        headers = dict(scope.get("headers", ())) if scope["type"] == "http" else {}
        if headers.get(b"x-request-signature") != PLACEHOLDER_SIGNATURE.encode():
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        scope = {**scope, "headers": self._signed(scope, headers, body)}
        sent = False

        async def replay() -> Any:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _signed(self, scope: Any, headers: dict[bytes, bytes], body: bytes) -> list[tuple[bytes, bytes]]:
        path = scope.get("raw_path") or scope["path"].encode()
        path = path.split(b"?", 1)[0].decode("latin-1")
        identity = identity_for(scope["method"], scope["path"])
        api_key, secret = self.secrets[identity]
        nonce = headers.get(b"x-request-nonce")
        timestamp = str(int(time.time()))
        signed = string_to_sign(
            timestamp=timestamp,
            method=scope["method"],
            path=path,
            query=scope.get("query_string", b"").decode("latin-1"),
            identity=identity,
            nonce=nonce.decode("latin-1") if nonce is not None else None,
            body=body,
        )
        replaced = {
            b"x-service-identity": identity.encode(),
            b"x-internal-api-key": api_key.encode(),
            b"x-request-timestamp": timestamp.encode(),
            b"x-request-signature": signature(secret, signed).encode(),
        }
        account = headers.get(b"x-trading-account-id", b"").decode("latin-1")
        if headers.get(b"authorization") == f"Bearer {PLACEHOLDER_TOKEN}".encode():
            replaced[b"authorization"] = f"Bearer {dev_user_token(accounts=(account,))}".encode()
        return [(k, v) for k, v in scope["headers"] if k not in replaced] + list(replaced.items())


@pytest.fixture(scope="module")
def order_service_url(real_redis: RealRedis) -> Iterator[str]:
    """The app under uvicorn in a thread, so its Redis connections live in one event loop."""
    client = aioredis.Redis.from_url(real_redis.url)
    # Limits far above what the run sends: the suite checks the contract, not the limits (suites/api does).
    settings = Settings(
        security=dev_security_settings(), rate_limit=RateLimitSettings(per_account=10**6, per_service=10**6)
    )
    app = SignOnArrival(create_app(settings, redis=client))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the order service did not start")
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def order_schema(order_service_url: str) -> schemathesis.schemas.BaseSchema:
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "base-url": order_service_url,
            "generation": {"mode": "all", "max-examples": EXAMPLES},
            "auth": {"openapi": CREDENTIALS},
            "checks": {
                # Valid data carries the placeholders, so it is signed: no 401/403 expected.
                # 404: an order id nobody placed; 409: cancelling or modifying a finished order.
                "positive_data_acceptance": {"expected-statuses": ["2xx", "404", "409"]},
            },
        }
    )
    return schemathesis.openapi.from_path(CONTRACT, config=config)


lazy = schemathesis.pytest.from_fixture("order_schema")


@lazy.parametrize()
def test_the_order_service_conforms_to_its_contract(
    case: schemathesis.Case,  # type: ignore[type-arg]
    redis_client: redis.Redis,
) -> None:
    redis_client.flushdb()  # each example starts clean: no idempotency key or anomaly window carried over
    case.call_and_validate()
