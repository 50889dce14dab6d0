"""Mutual TLS on the order service, over real TLS sockets: `serve` with a dev CA's certificates.

Refused at the handshake: no client certificate, one from an unknown CA, an expired one
(httpx sees a transport error, nothing reaches the app). Refused with 403: a certificate
naming another service than the signed `X-Service-Identity`. A rotated server certificate
is served to new connections without a restart.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from harness.processes import stop_process, wait_until
from harness.servers import free_port
from mocks.devca import DevCA, Issued
from order_service.clients.base import tls_context
from order_service.security.dev import dev_signer, dev_user_token
from order_service.security.mtls import identity_of
from order_service.settings import HttpSettings
from suites.fixtures.orders import market_order
from suites.fixtures.redis import RealRedis

pytestmark = pytest.mark.live
USER = {"authorization": f"Bearer {dev_user_token()}", "x-trading-account-id": "ZX1234"}


@dataclass
class TlsService:
    url: str
    port: int
    ca: DevCA
    server: Issued
    process: subprocess.Popen[bytes]

    def client(self, issued: Issued | None, trust: Path | None = None) -> httpx.Client:
        context = ssl.create_default_context(cafile=str(trust or self.ca.cert_path))
        if issued is not None:
            context.load_cert_chain(issued.cert, issued.key)
        return httpx.Client(base_url=self.url, verify=context, timeout=5)

    def server_fingerprint(self) -> str:
        context = ssl.create_default_context(cafile=str(self.ca.cert_path))
        algo = self.ca.folder / "algo_engine.pem"
        context.load_cert_chain(algo, algo.with_suffix(".key"))
        with (
            socket.create_connection(("127.0.0.1", self.port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            der = tls.getpeercert(binary_form=True)
        assert der is not None
        return hashlib.sha256(der).hexdigest()


@pytest.fixture(scope="module")
def tls_service(tmp_path_factory: pytest.TempPathFactory, real_redis: RealRedis) -> Iterator[TlsService]:
    folder = tmp_path_factory.mktemp("dev-ca")
    ca = DevCA.create(folder)
    server = ca.issue("order-service")
    for identity in ("algo_engine", "risk_manager"):
        ca.issue(identity, identity=identity)
    port = free_port()
    env = {
        **os.environ,
        "ORDER_SERVICE_REDIS_URL": real_redis.url,
        "ORDER_SERVICE_CONFIG_SERVICE_URL": "http://127.0.0.1:9",
        "ORDER_SERVICE_SERVER__TLS_CERTFILE": str(server.cert),
        "ORDER_SERVICE_SERVER__TLS_KEYFILE": str(server.key),
        "ORDER_SERVICE_SERVER__TLS_CLIENT_CA": str(ca.cert_path),
        "ORDER_SERVICE_SERVER__TLS_RELOAD_SECONDS": "0.2",
    }
    with (folder / "serve.log").open("wb") as sink:
        command = [sys.executable, "-m", "order_service", "serve", "--dev", "--port", str(port)]
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    service = TlsService(f"https://127.0.0.1:{port}", port, ca, server, process)

    def answers() -> bool:
        with service.client(Issued(folder / "algo_engine.pem", folder / "algo_engine.key")) as client:
            return client.get("/metrics").status_code == 200

    try:
        wait_until(answers, what="serve over TLS", process=process)
        yield service
    finally:
        stop_process(process, timeout=5)


def issued(service: TlsService, name: str) -> Issued:
    return Issued(service.ca.folder / f"{name}.pem", service.ca.folder / f"{name}.key")


def place(client: httpx.Client, identity: str = "algo_engine") -> httpx.Response:
    return client.post("/orders", json=market_order(quantity=1), headers=USER, auth=dev_signer(identity))


def test_a_client_with_its_own_certificate_places_an_order(tls_service: TlsService) -> None:
    with tls_service.client(issued(tls_service, "algo_engine")) as client:
        answer = place(client)
    assert answer.status_code == 201, answer.text


def test_a_certificate_of_another_service_is_refused_with_403(tls_service: TlsService) -> None:
    with tls_service.client(issued(tls_service, "risk_manager")) as client:
        answer = place(client)  # signed as algo_engine over risk_manager's connection
    assert answer.status_code == 403
    assert answer.json()["message"] == "the client certificate does not name the calling service"


def test_no_client_certificate_is_refused_at_the_handshake(tls_service: TlsService) -> None:
    with tls_service.client(None) as client, pytest.raises(httpx.TransportError):
        place(client)


def test_a_certificate_from_an_unknown_ca_is_refused_at_the_handshake(tls_service: TlsService, tmp_path: Path) -> None:
    stranger = DevCA.create(tmp_path / "other-ca").issue("algo_engine", identity="algo_engine")
    with tls_service.client(stranger) as client, pytest.raises(httpx.TransportError):
        place(client)


def test_an_expired_certificate_is_refused_at_the_handshake(tls_service: TlsService) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    expired = tls_service.ca.issue(
        "algo_engine-expired", identity="algo_engine", valid_from=past, valid_until=past + dt.timedelta(days=1)
    )
    with tls_service.client(expired) as client, pytest.raises(httpx.TransportError):
        place(client)


def test_plain_http_to_the_tls_port_gets_no_answer(tls_service: TlsService) -> None:
    with httpx.Client(timeout=5) as plain, pytest.raises(httpx.TransportError):
        plain.get(f"http://127.0.0.1:{tls_service.port}/metrics")


def test_a_rotated_server_certificate_is_served_without_a_restart(tls_service: TlsService) -> None:
    before = tls_service.server_fingerprint()
    tls_service.ca.issue("order-service")  # new key and certificate in the same files
    deadline = time.monotonic() + 10
    while tls_service.server_fingerprint() == before:
        assert time.monotonic() < deadline, "the new certificate was never served"
        time.sleep(0.1)
    assert tls_service.process.poll() is None  # the same process
    with tls_service.client(issued(tls_service, "algo_engine")) as client:
        assert place(client).status_code == 201


def test_identity_comes_from_one_uri_or_one_dns_name(tmp_path: Path) -> None:
    ca = DevCA.create(tmp_path)

    def der(issued: Issued) -> bytes:
        return ssl.PEM_cert_to_DER_cert(issued.cert.read_text())

    algo = der(ca.issue("a", identity="algo_engine"))
    assert identity_of(algo) == "algo_engine"
    assert identity_of(algo, uri_prefix="spiffe://other/") is None
    dns = der(ca.issue("b", dns=("risk_manager.svc.trading",)))
    assert identity_of(dns, mode="dns", dns_suffix="svc.trading") == "risk_manager"
    assert identity_of(dns) is None  # no URI
    both = der(ca.issue("c", dns=("algo_engine.svc.trading", "risk_manager.svc.trading")))
    assert identity_of(both, mode="dns", dns_suffix="svc.trading") is None  # two names prove neither


def test_a_client_certificate_rotated_on_disk_is_presented_without_a_restart(
    tls_service: TlsService, tmp_path: Path
) -> None:
    """The clients' shared context (`tls_context`) watches its files: new connections present the new one."""
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"

    def install(name: str) -> None:
        source = issued(tls_service, name)
        for src, dst in ((source.key, key), (source.cert, cert)):
            (dst.with_suffix(".partial")).write_bytes(src.read_bytes())
            dst.with_suffix(".partial").replace(dst)

    install("algo_engine")
    context = tls_context(HttpSettings(tls_ca_file=tls_service.ca.cert_path, tls_certfile=cert, tls_keyfile=key))
    assert isinstance(context, ssl.SSLContext)

    def placed_as_algo_engine() -> int:
        with httpx.Client(base_url=tls_service.url, verify=context, timeout=5) as client:  # a new connection
            return place(client).status_code

    assert placed_as_algo_engine() == 201
    install("risk_manager")  # the certificate of another service now sits in the client's files
    deadline = time.monotonic() + 10
    while placed_as_algo_engine() != 403:
        assert time.monotonic() < deadline, "the client kept presenting the old certificate"
        time.sleep(0.2)
