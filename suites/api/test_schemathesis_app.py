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
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import hypothesis
import pytest
import redis
import redis.asyncio as aioredis
import schemathesis
import uvicorn
from prometheus_client.parser import text_string_to_metric_families
from schemathesis.config import SchemathesisConfig

from harness.servers import free_port
from order_service.api.app import create_app
from order_service.orders.store import MemoryOrderStore
from order_service.security.dev import DEV_CREDENTIALS, dev_security_settings, dev_user_token
from order_service.security.signing import signature, string_to_sign, string_to_sign_v2
from order_service.settings import RateLimitSettings, Settings
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
    if path.startswith("/accounts/"):
        return "risk_manager"  # suspension.managed_by
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
        # A caller sends a fresh nonce with each request, so two equal requests in one second are not
        # replays; a malformed nonce is kept, for the app to refuse.
        nonce = headers.get(b"x-request-nonce")
        if nonce is None or re.fullmatch(rb"[A-Za-z0-9_-]{8,64}", nonce):
            nonce = secrets.token_urlsafe(16).encode()
        timestamp = str(int(time.time()))
        replaced = {
            b"x-service-identity": identity.encode(),
            b"x-internal-api-key": api_key.encode(),
            b"x-request-timestamp": timestamp.encode(),
            b"x-request-nonce": nonce,
        }
        account = headers.get(b"x-trading-account-id", b"").decode("latin-1")
        if headers.get(b"authorization") == f"Bearer {PLACEHOLDER_TOKEN}".encode():
            replaced[b"authorization"] = f"Bearer {dev_user_token(accounts=(account,))}".encode()
        fields = {
            "timestamp": timestamp,
            "method": scope["method"],
            "path": path,
            "query": scope.get("query_string", b"").decode("latin-1"),
            "identity": identity,
            "nonce": nonce.decode("latin-1"),
            "body": body,
        }
        if _wants_v2(headers):
            # A correct v2 signer: the list it covers is the one the endpoint requires, not the generated one
            final = {**headers, **replaced}
            names = [n for n in ("authorization", "x-trading-account-id", "idempotency-key") if n.encode() in final]
            if body and b"content-type" in final:
                names.append("content-type")
            covered = [final[n.encode()].decode("latin-1") for n in names]
            listed = ";".join(names)
            signed = string_to_sign_v2(**fields, signed_headers=listed, covered=covered)
            replaced[b"x-signature-version"] = b"2"
            replaced[b"x-signed-headers"] = listed.encode()
        else:  # v1; malformed v2 headers schemathesis made up stay, for the app to refuse (401)
            signed = string_to_sign(**fields)
        replaced[b"x-request-signature"] = signature(secret, signed).encode()
        return [(k, v) for k, v in scope["headers"] if k not in replaced] + list(replaced.items())


def _wants_v2(headers: dict[bytes, bytes]) -> bool:
    """The generated request asks for v2: version "2", or a well-formed list without a version."""
    version, listed = headers.get(b"x-signature-version"), headers.get(b"x-signed-headers")
    well_formed = listed is None or (
        len(listed) <= 512 and re.fullmatch(rb"([!#$%&'*+.^_`|~0-9a-z-]+(;[!#$%&'*+.^_`|~0-9a-z-]+)*)?", listed)
    )
    return bool(well_formed) and (version == b"2" or (version is None and listed is not None))


class FreshStore:
    """The order store of the app under test, replaced by an empty one for each example."""

    def __init__(self) -> None:
        self.inner = MemoryOrderStore()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


STORE = FreshStore()


@pytest.fixture(scope="module")
def order_service_url(real_redis: RealRedis) -> Iterator[str]:
    """The app under uvicorn in a thread, so its Redis connections live in one event loop."""
    client = aioredis.Redis.from_url(real_redis.url)
    # Limits far above what the run sends: the suite checks the contract, not the limits (suites/api does).
    settings = Settings(
        security=dev_security_settings(), rate_limit=RateLimitSettings(per_account=10**6, per_service=10**6)
    )
    inner = create_app(settings, redis=client, store=STORE)
    app = SignOnArrival(inner)
    with redis.Redis.from_url(real_redis.url) as sync:  # the replay store's epoch begins, as `serve` does
        sync.set("replay:epoch", int(time.time()), nx=True)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    loops: list[asyncio.AbstractEventLoop] = []

    async def serve() -> None:
        loops.append(asyncio.get_running_loop())
        await server.serve()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the order service did not start")
        time.sleep(0.01)
    # `serve` scans Redis usage at start; /health/redis/analytics answers from that scan
    asyncio.run_coroutine_threadsafe(inner.state.redis_monitor.scan(), loops[0]).result(10)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def contract_schema(url: str, mode: str) -> schemathesis.schemas.BaseSchema:
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "base-url": url,
            "generation": {"mode": mode, "max-examples": EXAMPLES},
            "auth": {"openapi": CREDENTIALS},
            "checks": {
                # Valid data carries the placeholders, so it is signed: no 401/403 expected.
                # 404: an order id nobody placed; 409: cancelling or modifying a finished order.
                "positive_data_acceptance": {"expected-statuses": ["2xx", "404", "409"]},
                # DELETE cancels: the order stays readable as CANCELLED, as the contract says, not gone.
                "use_after_free": {"enabled": False},
            },
            # Only the contract's own links: inferred ones (from the order list) would make a step depend on
            # every order placed before it, and Hypothesis needs the same steps to give the same answers.
            "phases": {"stateful": {"inference": {"algorithms": []}}},
            "operations": [
                {
                    # A change is checked against the order it changes (an SL order needs a trigger price),
                    # which no request schema can say: a valid body may still get the documented 422.
                    "include-operation-id": "modifyOrder",
                    "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "404", "409", "422"]}},
                }
            ],
        }
    )
    return schemathesis.openapi.from_path(CONTRACT, config=config)


@pytest.fixture(scope="module")
def order_schema(order_service_url: str) -> schemathesis.schemas.BaseSchema:
    return contract_schema(order_service_url, "all")


lazy = schemathesis.pytest.from_fixture("order_schema")


@lazy.parametrize()
def test_the_order_service_conforms_to_its_contract(
    case: schemathesis.Case,  # type: ignore[type-arg]
    redis_client: redis.Redis,
) -> None:
    redis_client.flushdb()  # each example starts clean: no anomaly window carried over,
    redis_client.set("replay:epoch", int(time.time()))  # (the replay store's epoch begins, as at start)
    STORE.inner = MemoryOrderStore()  # and no idempotency key
    case.call_and_validate()


def answered(url: str, method: str, route: str, status: str) -> float:
    """How many requests the app answered so, from its own request counter."""
    wanted = {"method": method, "route": route, "status": status}
    return sum(
        sample.value
        for family in text_string_to_metric_families(httpx.get(f"{url}/metrics").text)
        for sample in family.samples
        if sample.name == "order_service_http_requests_total" and sample.labels == wanted
    )


def test_order_lifecycles_conform_to_the_contract(order_service_url: str) -> None:
    """Stateful, valid data: place, then read, modify and cancel that order through the contract's links."""
    order_schema = contract_schema(order_service_url, "positive")
    before = {m: answered(order_service_url, m, "/orders/{order_id}", "200") for m in ("GET", "PATCH", "DELETE")}

    class Lifecycles(order_schema.as_state_machine()):  # type: ignore[misc]
        def before_call(self, case: schemathesis.Case) -> None:  # type: ignore[type-arg]
            # Each placement here is a new order: a key repeated with another body is refused (422, as
            # documented and checked above and in suites/api); a malformed key is kept, for the app to refuse.
            key = case.headers.get("Idempotency-Key") if case.headers else None
            if case.method == "POST" and key is not None and re.fullmatch(r"[A-Za-z0-9._:-]{8,128}", key):
                case.headers["Idempotency-Key"] = uuid.uuid4().hex
            super().before_call(case)

    settings = hypothesis.settings(
        max_examples=4 * EXAMPLES,
        stateful_step_count=6,
        deadline=None,
        derandomize="HARNESS_FUZZ_SEED" not in os.environ,  # repeatable in CI, fresh under `make fuzz`
    )
    Lifecycles.run(settings=settings)
    for method, count in before.items():  # the links were followed to orders that exist
        assert answered(order_service_url, method, "/orders/{order_id}", "200") > count, method
