"""`python -m mocks up` (what `make mocks` runs): real servers, discovery end to end, clean stop."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from harness.servers import LiveMocks, free_port, start_mock_servers, stop_mock_servers
from mocks.registry import SERVICES
from suites.fixtures import environment

pytestmark = pytest.mark.live


def test_discovery_through_the_config_mock_reaches_the_real_servers(live_mocks: LiveMocks) -> None:
    with httpx.Client(base_url=live_mocks.url("config-service"), timeout=5) as config:
        listed = {s["name"]: s for s in config.get("/services").json()["items"]}
        strategy = config.get("/services/strategy-service").json()
    assert set(listed) == set(SERVICES)
    assert strategy["base_url"] == live_mocks.url("strategy-service")
    with httpx.Client(base_url=strategy["base_url"], timeout=5) as client:
        assert client.get("/strategies/42/validate").json()["valid"] is True


def test_every_live_mock_answers_its_admin_health(live_mocks: LiveMocks) -> None:
    with httpx.Client(timeout=5) as client:
        for name in SERVICES:
            health = client.get(live_mocks.admin(name) + "/health").json()
            assert health["status"] == "ok"


def redis_ping(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16)


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_up_prints_the_table_starts_redis_and_stops_everything_on_sigterm(tmp_path: Path) -> None:
    environment.binary("redis-server")  # `up` starts Redis and the order service only where it exists
    redis_port = free_port()
    order_port = free_port()
    live = start_mock_servers(
        tmp_path / "up.log", extra=("--redis-port", str(redis_port), "--order-service-port", str(order_port))
    )
    ready_file = tmp_path / "up.log.ready.json"
    try:
        output = live.output()
        for name, url in live.urls.items():
            row = next(line for line in output.splitlines() if line.startswith(name + " "))
            assert url in row
            assert f"contracts/{name}.yaml" in row
            assert url + "/__admin" in row
        assert live.process is not None
        assert live.ready == {
            "pid": live.process.pid,
            "mocks": live.urls,
            "redis": f"redis://127.0.0.1:{redis_port}/0",
            "order_service": f"http://127.0.0.1:{order_port}",
        }
        assert redis_ping(redis_port).startswith(b"+PONG")
        with httpx.Client(timeout=5) as client:
            assert client.get(f"http://127.0.0.1:{order_port}/health/ready").status_code == 200
    finally:
        status = stop_mock_servers(live)
    assert status == 0
    assert "stopping" in live.output()
    assert "Traceback" not in live.output()
    assert not ready_file.exists()  # a stopped stack leaves no stale addresses behind
    ports = [int(url.rsplit(":", 1)[1]) for url in live.urls.values()] + [redis_port, order_port]
    assert all(port_is_free(port) for port in ports)


def test_up_without_redis_says_so_in_its_ready_file(live_mocks: LiveMocks) -> None:
    assert live_mocks.ready["mocks"] == live_mocks.urls
    assert live_mocks.ready["redis"] is None
    assert live_mocks.ready["order_service"] is None


def test_a_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "mocks", "up", "--no-redis", f"--port=strategy-service={port}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2
    assert f"ports already in use: strategy-service ({port})" in result.stderr


def test_an_invalid_contract_stops_the_mock_with_the_file_named(tmp_path: Path) -> None:
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    for name in SERVICES:
        source = Path(SERVICES[name].contract_path())
        (contracts / source.name).write_text(source.read_text())
    (contracts / "analytics-service.yaml").write_text("openapi: 3.1.0\ninfo: [")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mocks",
            "serve",
            "analytics-service",
            f"--port={free_port()}",
            f"--contracts-dir={contracts}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "analytics-service.yaml: not valid YAML" in result.stderr
    assert "Traceback" not in result.stderr
