"""Signing v2 on the order endpoints of a real order service (uvicorn on loopback).

The attack that v2 closes: with a user token valid for two accounts, a request signed for
one account was sent with the other account's header and placed the order there (201).
Under v2 the account and the token are covered; v1 stays accepted while `accept_v1` is on,
and is refused when it is off. A duplicated account header is refused either way.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.processes import stop_process
from harness.servers import free_port
from order_service.security.dev import dev_signer, dev_user_token
from suites.fixtures.orders import market_order
from suites.fixtures.processes import start_answering
from suites.fixtures.redis import RealRedis
from suites.security.helpers import served_order_service

pytestmark = pytest.mark.live
TWO_ACCOUNTS = {"authorization": "Bearer " + dev_user_token("user-2", ("ZX1234", "AB1234"))}


@pytest.fixture(scope="module")
def service() -> Iterator[str]:
    yield from served_order_service()


@pytest.fixture(scope="module")
def v2_only() -> Iterator[str]:
    yield from served_order_service(accept_v1=False)


def signed_order(url: str, version: int, account: str = "ZX1234") -> httpx.Request:
    request = httpx.Request(
        "POST",
        url + "/orders",
        json=market_order(quantity=1),
        headers={**TWO_ACCOUNTS, "x-trading-account-id": account},
    )
    dev_signer("algo_engine", version=version).sign(request)
    return request


def send(request: httpx.Request, headers: list[tuple[str, str]] | None = None) -> httpx.Response:
    if headers is not None:
        request = httpx.Request(request.method, request.url, content=request.content, headers=headers)
    with httpx.Client(timeout=10) as client:
        return client.send(request)


def swapped(request: httpx.Request, name: str, value: str) -> list[tuple[str, str]]:
    return [(k, value if k == name else v) for k, v in request.headers.multi_items()]


def test_v2_places_an_order_for_the_signed_account(service: str) -> None:
    answer = send(signed_order(service, 2, account="AB1234"))
    assert answer.status_code == 201, answer.text
    assert answer.json()["trading_account_id"] == "AB1234"


def test_v2_refuses_the_account_changed_after_signing(service: str) -> None:
    request = signed_order(service, 2)
    answer = send(request, swapped(request, "x-trading-account-id", "AB1234"))
    assert answer.status_code == 401
    assert answer.json() == {"error": "unauthorized", "message": "invalid request credentials"}
    assert answer.headers["www-authenticate"].startswith("Signature ")


def test_v2_refuses_a_token_swapped_after_signing(service: str) -> None:
    request = signed_order(service, 2)
    other = "Bearer " + dev_user_token("user-3", ("ZX1234",))
    answer = send(request, swapped(request, "authorization", other))
    assert answer.status_code == 401


def test_v1_is_still_open_to_the_swap_while_accept_v1_is_on(service: str) -> None:
    """The reason to turn `accept_v1` off: v1 does not cover the account."""
    request = signed_order(service, 1)
    answer = send(request, swapped(request, "x-trading-account-id", "AB1234"))
    assert answer.status_code == 201
    assert answer.json()["trading_account_id"] == "AB1234"


@pytest.mark.parametrize("version", [1, 2])
def test_a_duplicated_account_header_is_refused(service: str, version: int) -> None:
    request = signed_order(service, version)
    answer = send(request, [*request.headers.multi_items(), ("x-trading-account-id", "AB1234")])
    assert answer.status_code == 401
    assert answer.json()["message"] == "missing or duplicated request credentials"


@pytest.mark.parametrize("version", [1, 2])
def test_a_duplicated_user_token_is_refused(service: str, version: int) -> None:
    request = signed_order(service, version)
    other = "Bearer " + dev_user_token("user-3", ("ZX1234",))
    answer = send(request, [*request.headers.multi_items(), ("authorization", other)])
    assert answer.status_code == 401


def test_with_accept_v1_off_v1_is_refused_and_v2_accepted(v2_only: str) -> None:
    refused = send(signed_order(v2_only, 1))
    assert refused.status_code == 401
    assert refused.json()["message"] == "request signing version 1 is no longer accepted; sign with version 2"
    assert send(signed_order(v2_only, 2)).status_code == 201


def test_a_v2_request_without_a_user_token_fails_at_the_signature(service: str) -> None:
    """The token must be covered, so a request without one cannot carry a valid v2 signature."""
    request = httpx.Request(
        "POST", service + "/orders", json=market_order(), headers={"x-trading-account-id": "ZX1234"}
    )
    dev_signer("algo_engine").sign(request)
    answer = send(request)
    assert answer.status_code == 401
    assert answer.json()["message"].startswith("X-Signed-Headers is malformed or does not cover")
    assert answer.headers["www-authenticate"].startswith("Signature ")


@pytest.mark.redis
def test_serve_dev_keeps_the_environment_s_security_settings(real_redis: RealRedis, tmp_path: Path) -> None:
    """`serve --dev` replaced the whole security block with the dev one: ACCEPT_V1=false was lost and v1 passed."""
    port = free_port()
    env = {
        **os.environ,
        "ORDER_SERVICE_REDIS_URL": real_redis.url,
        "ORDER_SERVICE_CONFIG_SERVICE_URL": "http://127.0.0.1:9",
        "ORDER_SERVICE_SECURITY__ACCEPT_V1": "false",
    }
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "order_service", "serve", "--dev", "--port", str(port)]
    process = start_answering(command, url + "/metrics", tmp_path / "serve.log", env=env)
    try:
        refused = send(signed_order(url, 1))
        assert refused.status_code == 401
        assert refused.json()["message"] == "request signing version 1 is no longer accepted; sign with version 2"
        assert send(signed_order(url, 2)).status_code == 201  # the dev keys are in place
    finally:
        stop_process(process)


def test_an_invalid_setting_is_a_clear_error_not_a_traceback() -> None:
    env = {**os.environ, "ORDER_SERVICE_SUSPENSION__CRITICAL_LIMIT": "-1"}
    result = subprocess.run(
        [sys.executable, "-m", "order_service", "serve", "--dev", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: the ORDER_SERVICE_* settings are invalid")
    assert "suspension.critical_limit" in result.stderr
    assert "Traceback" not in result.stderr
