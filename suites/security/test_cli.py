"""The signing CLI against a real order service (uvicorn on loopback)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from suites.fixtures.orders import market_order
from suites.security.helpers import served_order_service

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def order_service_url() -> Iterator[str]:
    yield from served_order_service()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "order_service.security", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_place_an_order_by_hand(order_service_url: str) -> None:
    order = market_order(quantity=1)
    result = cli("POST", order_service_url + "/orders", "--data", json.dumps(order))
    assert result.returncode == 0, result.stdout + result.stderr
    status, body = result.stdout.split("\n", 1)
    assert status == "HTTP 201"
    assert json.loads(body)["status"] == "COMPLETE"


@pytest.mark.parametrize("version", ["1", "2"])
def test_either_signing_version_places_an_order(order_service_url: str, version: str) -> None:
    result = cli(
        "POST",
        order_service_url + "/orders",
        "--data",
        json.dumps(market_order(quantity=2)),
        "--signing-version",
        version,
        "-i",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("HTTP 201")


def test_a_refusal_exits_non_zero(order_service_url: str) -> None:
    result = cli("GET", order_service_url + "/positions", "--identity", "algo_engine")
    assert result.returncode == 1
    assert result.stdout.startswith("HTTP 403")


def test_query_strings_are_signed_as_sent(order_service_url: str) -> None:
    result = cli("GET", order_service_url + "/orders?status=OPEN&limit=5", "--identity", "user_interface")
    assert result.returncode == 0, result.stdout
    assert json.loads(result.stdout.split("\n", 1)[1])["items"] == []


def test_an_unknown_identity_is_a_usage_error() -> None:
    result = cli("GET", "http://127.0.0.1:9/orders", "--identity", "billing")
    assert result.returncode == 2
    assert "no dev keys" in result.stderr
