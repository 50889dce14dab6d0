"""The clients over mutual TLS: a mock serving HTTPS that requires client certificates from a dev CA.

The client presents its certificate (`http.tls_certfile`) and trusts the CA
(`http.tls_ca_file`); without a certificate, or trusting another CA, the call fails as the
owner being unreachable (`ServiceUnavailableError`), so the fallbacks apply.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.processes import stop_process, wait_until
from harness.servers import free_port
from mocks.devca import DevCA
from order_service.clients.strategy import StrategyServiceClient
from order_service.errors import ServiceUnavailableError
from order_service.settings import Settings

pytestmark = [pytest.mark.anyio, pytest.mark.live]


@pytest.fixture(scope="module")
def tls_mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, DevCA]]:
    ca = DevCA.create(tmp_path_factory.mktemp("dev-ca"))
    server = ca.issue("strategy-service", identity="strategy-service")
    ca.issue("order_service", identity="order_service")
    port = free_port()
    command = [sys.executable, "-m", "mocks", "serve", "strategy-service", "--port", str(port)]
    command += ["--tls-cert", str(server.cert), "--tls-key", str(server.key), "--tls-client-ca", str(ca.cert_path)]
    process = subprocess.Popen(command)
    url = f"https://127.0.0.1:{port}"
    client_cert = (str(ca.folder / "order_service.pem"), str(ca.folder / "order_service.key"))

    def answers() -> bool:
        import ssl

        context = ssl.create_default_context(cafile=str(ca.cert_path))
        context.load_cert_chain(*client_cert)
        return httpx.get(url + "/__admin/health", verify=context, timeout=1).status_code == 200

    try:
        wait_until(answers, what="the strategy mock over TLS", process=process)
        yield url, ca
    finally:
        stop_process(process)


def client_of(url: str, ca_file: Path, cert: Path | None) -> StrategyServiceClient:
    http = {"tls_ca_file": ca_file}
    if cert is not None:
        http |= {"tls_certfile": cert, "tls_keyfile": cert.with_suffix(".key")}
    settings = Settings.model_validate({"http": http, "retry": {"max_attempts": 1}})
    return StrategyServiceClient(base_url=url, settings=settings)


async def test_the_client_presents_its_certificate(tls_mock: tuple[str, DevCA]) -> None:
    url, ca = tls_mock
    async with client_of(url, ca.cert_path, ca.folder / "order_service.pem") as client:
        assert await client.validate_strategy(42) is True


async def test_without_a_certificate_the_owner_is_unreachable(tls_mock: tuple[str, DevCA]) -> None:
    url, ca = tls_mock
    async with client_of(url, ca.cert_path, None) as client:
        with pytest.raises(ServiceUnavailableError):
            await client.validate_strategy(42)


async def test_a_server_signed_by_another_ca_is_not_trusted(tls_mock: tuple[str, DevCA], tmp_path: Path) -> None:
    url, ca = tls_mock
    other = DevCA.create(tmp_path)
    async with client_of(url, other.cert_path, ca.folder / "order_service.pem") as client:
        with pytest.raises(ServiceUnavailableError):
            await client.validate_strategy(42)
