"""`make bench`: what mutual TLS costs a call, against the same run's plain TCP.

One strategy mock on plain HTTP and one on HTTPS requiring client certificates from a
throwaway dev CA (EC P-256), on loopback. Two figures each, as medians: a new connection
and one request (for TLS, the handshake with the client certificate), and one request on
a kept-alive connection.
"""

from __future__ import annotations

import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from harness.processes import stop_process
from mocks.devca import DevCA
from suites.bench.bench_mocks import HOST, free_port, start

PATH = "/strategies/42/validate"


def timed(client: httpx.Client, url: str, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        client.get(url).raise_for_status()
        times.append(time.perf_counter() - began)
    return times


def fresh_connections(url: str, verify: ssl.SSLContext | bool, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        with httpx.Client(verify=verify) as client:
            client.get(url).raise_for_status()
        times.append(time.perf_counter() - began)
    return times


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-tls-") as folder:
        ca = DevCA.create(Path(folder))
        server, client_cert = ca.issue("strategy-service"), ca.issue("order_service", identity="order_service")
        context = ssl.create_default_context(cafile=str(ca.cert_path))
        context.load_cert_chain(client_cert.cert, client_cert.key)
        plain_port, tls_port = free_port(), free_port()
        serve = [sys.executable, "-m", "mocks", "serve", "strategy-service", "--host", HOST]
        plain, _ = start([*serve, "--port", str(plain_port)], plain_port)
        tls_command = [*serve, "--port", str(tls_port), "--tls-cert", str(server.cert), "--tls-key", str(server.key)]
        tls_command += ["--tls-client-ca", str(ca.cert_path)]
        tls = _start_tls(tls_command, tls_port, context)
        try:
            plain_url, tls_url = f"http://{HOST}:{plain_port}{PATH}", f"https://{HOST}:{tls_port}{PATH}"
            new_plain = fresh_connections(plain_url, context, 300)  # the same client set-up: only TLS differs
            new_tls = fresh_connections(tls_url, context, 300)
            with httpx.Client(verify=context) as kept_plain, httpx.Client(verify=context) as kept_tls:
                timed(kept_plain, plain_url, 100)
                timed(kept_tls, tls_url, 100)
                reuse_plain = timed(kept_plain, plain_url, 3000)
                reuse_tls = timed(kept_tls, tls_url, 3000)
        finally:
            stop_process(plain)
            stop_process(tls)
    for what, tcp, mtls in (
        ("a new connection and a request", new_plain, new_tls),
        ("a request on a kept-alive connection", reuse_plain, reuse_tls),
    ):
        a, b = statistics.median(tcp), statistics.median(mtls)
        print(f"mutual TLS, {what}: median {b * 1e6:.0f} us vs {a * 1e6:.0f} us on plain TCP ({b / a:.2f}x)")
    return 0


def _start_tls(command: list[str], port: int, context: ssl.SSLContext) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"https://{HOST}:{port}/__admin/health", verify=context, timeout=0.5).raise_for_status()
            return process
        except httpx.HTTPError:
            time.sleep(0.05)
    stop_process(process)
    raise RuntimeError("the TLS mock never answered")


if __name__ == "__main__":
    raise SystemExit(main())
