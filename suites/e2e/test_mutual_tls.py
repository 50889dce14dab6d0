"""`mocks up --tls`: every mock and the reference order service on mutual TLS, with a throwaway dev CA.

An order under a strategy goes caller -> order service -> config and strategy mocks, each
hop over TLS with a client certificate; a caller without a certificate is refused at the
handshake, and one whose certificate names another service than it signs as gets 403.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.servers import LiveMocks, free_port, start_mock_servers, stop_mock_servers
from order_service.security.dev import dev_signer, dev_user_token
from suites.e2e.replicas import PINNED
from suites.fixtures import environment
from suites.fixtures.orders import market_order

pytestmark = [pytest.mark.live]
USER = {"authorization": f"Bearer {dev_user_token()}", "x-trading-account-id": "ZX1234"}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LiveMocks]:
    environment.binary("redis-server")
    live = start_mock_servers(
        tmp_path / "stack.log",
        extra=(
            *("--redis-port", str(free_port()), "--no-postgres"),
            *("--order-service-port", str(free_port()), "--tls"),
        ),
        env={"ORDER_SERVICE_TEST_CLOCK_START": PINNED},
    )
    try:
        yield live
    finally:
        assert stop_mock_servers(live) == 0


def caller(folder: Path, identity: str | None) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(folder / "ca.pem"))
    if identity is not None:
        context.load_cert_chain(folder / f"{identity}.pem", folder / f"{identity}.key")
    return httpx.Client(verify=context, timeout=10)


def test_an_order_crosses_every_hop_on_mutual_tls(stack: LiveMocks) -> None:
    folder, url = Path(stack.ready["tls"]), stack.ready["order_service"]
    assert url.startswith("https://")
    order = market_order(quantity=1, strategy_id=42)
    with caller(folder, "algo_engine") as algo:
        placed = algo.post(url + "/orders", json=order, headers=USER, auth=dev_signer("algo_engine"))
        assert placed.status_code == 201, placed.text
    with caller(folder, "order_service") as mocks_side:  # the owner mocks want a certificate too
        journal = mocks_side.get(stack.urls["strategy-service"] + "/__admin/journal?operation_id=validateStrategy")
    assert [e["status"] for e in journal.json()["entries"]] == [200]  # the order service's call, over mTLS
    with caller(folder, "risk_manager") as risk:
        wrong = risk.post(url + "/orders", json=order, headers=USER, auth=dev_signer("algo_engine"))
    assert wrong.status_code == 403
    with caller(folder, None) as anonymous, pytest.raises(httpx.TransportError):
        anonymous.post(url + "/orders", json=order, headers=USER, auth=dev_signer("algo_engine"))
    with caller(folder, None) as anonymous, pytest.raises(httpx.TransportError):
        anonymous.get(stack.urls["strategy-service"] + "/strategies/42/validate")
