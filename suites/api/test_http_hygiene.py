"""The order service's HTTP edges: limits before parsing, authentication before the body, the contract's errors."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from harness.processes import stop_process, wait_until
from harness.servers import free_port
from order_service.api.app import create_app
from order_service.security.dev import dev_security_settings, dev_signer, dev_user_token
from order_service.settings import ServerSettings, Settings
from suites.fixtures.orders import LIMIT_ORDER
from suites.fixtures.redis import RealRedis

pytestmark = pytest.mark.anyio
USER = {"authorization": f"Bearer {dev_user_token()}", "x-trading-account-id": "ZX1234"}


@pytest.fixture
async def plain() -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(security=dev_security_settings(), server=ServerSettings(max_body_bytes=4096))
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://order.test") as client:
        yield client


async def test_a_declared_body_over_the_limit_is_413_before_anything_else(plain: httpx.AsyncClient) -> None:
    answer = await plain.post("/orders", content=b"x" * 5000)  # no credentials either: the size comes first
    assert answer.status_code == 413
    assert answer.json()["error"] == "payload_too_large"


async def test_a_chunked_body_over_the_limit_is_413_while_it_is_read(plain: httpx.AsyncClient) -> None:
    sent = []

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            sent.append(1)
            yield b"x" * 1000

    answer = await plain.post("/orders", content=chunks(), headers=USER)  # no Content-Length: chunked
    assert answer.status_code == 413  # the signature check reads the body; the limit stops the reading
    assert answer.json()["error"] == "payload_too_large"
    assert len(sent) < 100


async def test_headers_over_the_limit_are_431(plain: httpx.AsyncClient) -> None:
    answer = await plain.get("/health/ready", headers={"x-padding": "p" * 20_000})
    assert answer.status_code == 431
    assert answer.json()["error"] == "bad_request"


async def test_authentication_comes_before_the_body_and_in_the_documented_order(plain: httpx.AsyncClient) -> None:
    nothing = await plain.post("/orders", content=b"{not json", headers={"content-type": "application/json"})
    assert nothing.status_code == 401  # not the body's 400: nobody unauthenticated learns how it is read
    assert "Signature" in nothing.headers["www-authenticate"]
    signed_no_token = await plain.post("/orders", json=LIMIT_ORDER, auth=dev_signer("algo_engine", version=1))
    assert signed_no_token.status_code == 401
    assert signed_no_token.headers["www-authenticate"].startswith("Bearer ")
    not_allowed = await plain.post("/orders", json=LIMIT_ORDER, auth=dev_signer("risk_manager", version=1))
    assert not_allowed.status_code == 403  # the service matrix before the (missing) user token
    # v2 covers the user token: without one, the signature itself cannot be valid
    v2_no_token = await plain.post("/orders", json=LIMIT_ORDER, auth=dev_signer("risk_manager"))
    assert v2_no_token.status_code == 401
    assert v2_no_token.headers["www-authenticate"].startswith("Signature ")


async def test_a_body_that_is_not_json_is_400_and_another_type_415(plain: httpx.AsyncClient) -> None:
    algo = dev_signer("algo_engine")
    broken = await plain.post(
        "/orders", content=b"{not json", headers={**USER, "content-type": "application/json"}, auth=algo
    )
    assert broken.status_code == 400
    assert broken.json()["error"] == "bad_request"
    form = await plain.post(
        "/orders", content=b"a=b", headers={**USER, "content-type": "application/x-www-form-urlencoded"}, auth=algo
    )
    assert form.status_code == 415
    assert form.json()["error"] == "unsupported_media_type"
    invalid = await plain.post("/orders", json={**LIMIT_ORDER, "quantity": 0}, headers=USER, auth=algo)
    assert invalid.status_code == 422
    assert invalid.json()["violations"][0]["field"] == "quantity"


async def test_a_trailing_slash_is_not_redirected(plain: httpx.AsyncClient) -> None:
    answer = await plain.post("/orders/", json=LIMIT_ORDER, headers={"host": "evil.example"})
    assert answer.status_code == 404
    assert "location" not in answer.headers


# -- the real server -------------------------------------------------------------------
@pytest.fixture
def served(real_redis: RealRedis, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    env = {
        **os.environ,
        "ORDER_SERVICE_REDIS_URL": real_redis.url,
        "ORDER_SERVICE_SERVER__HEADER_TIMEOUT": "1",
        "ORDER_SERVICE_CONFIG_SERVICE_URL": "http://127.0.0.1:9",
    }
    with (tmp_path / "serve.log").open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "order_service", "serve", "--dev", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(
            lambda: httpx.get(f"http://127.0.0.1:{port}/metrics").status_code == 200, what="serve", process=process
        )
        yield f"http://127.0.0.1:{port}", process
    finally:
        stop_process(process, timeout=5)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.redis
async def test_a_100_mb_upload_is_refused_without_being_read(served: tuple[str, subprocess.Popen[bytes]]) -> None:
    url, process = served
    before = rss_mb(process.pid)

    async def hundred_mb() -> AsyncIterator[bytes]:
        chunk = b"x" * 1_048_576
        for _ in range(100):
            yield chunk

    async with httpx.AsyncClient(timeout=30) as client:
        try:
            answer = await client.post(f"{url}/orders", content=hundred_mb())
            assert answer.status_code == 413
        except httpx.TransportError:
            pass  # the server answered and closed while the upload went on: refused either way
    assert rss_mb(process.pid) - before < 30, "the server kept the upload in memory"


@pytest.mark.redis
async def test_connections_that_never_finish_their_headers_are_closed(
    served: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, _ = served
    port = int(url.rsplit(":", 1)[1])
    slow = []
    for _ in range(40):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"POST /orders HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # and never the rest
        slow.append(sock)
    started = time.monotonic()
    closed = 0
    for sock in slow:
        sock.settimeout(max(0.1, 5 - (time.monotonic() - started)))
        try:
            if sock.recv(1) == b"":
                closed += 1
        except (ConnectionResetError, TimeoutError):
            closed += isinstance(sys.exc_info()[1], ConnectionResetError)
        finally:
            sock.close()
    assert closed == 40, f"{40 - closed} of 40 slow connections were still held after 5 s (deadline 1 s)"
    async with httpx.AsyncClient() as client:  # and the server still answers everyone else
        assert (await client.get(f"{url}/metrics")).status_code == 200
    await asyncio.sleep(0)
