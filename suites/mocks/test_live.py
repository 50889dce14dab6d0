"""`python -m mocks up` (what `make mocks` runs): real servers, discovery end to end, clean stop."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from harness.servers import LiveMocks, free_port, start_mock_servers, stop_mock_servers
from mocks.registry import SERVICES
from suites.fixtures import environment
from suites.fixtures.postgres import server_binaries
from suites.fixtures.processes import processes

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
    server_binaries()  # and PostgreSQL where its server is installed
    redis_port, order_port, postgres_port = free_port(), free_port(), free_port()
    live = start_mock_servers(
        tmp_path / "up.log",
        extra=(
            *("--redis-port", str(redis_port), "--order-service-port", str(order_port)),
            *("--postgres-port", str(postgres_port)),
        ),
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
            "database": f"postgresql://postgres@127.0.0.1:{postgres_port}/postgres",
            "tls": None,  # the dev CA's folder under --tls
        }
        assert redis_ping(redis_port).startswith(b"+PONG")
        with httpx.Client(timeout=5) as client:
            ready = client.get(f"http://127.0.0.1:{order_port}/health/ready")
            assert ready.status_code == 200
            assert ready.json()["checks"]["order_store"]["detail"] == "PostgreSQL"
    finally:
        status = stop_mock_servers(live)
    assert status == 0
    assert "stopping" in live.output()
    assert "Traceback" not in live.output()
    assert not ready_file.exists()  # a stopped stack leaves no stale addresses behind
    ports = [int(url.rsplit(":", 1)[1]) for url in live.urls.values()] + [redis_port, order_port, postgres_port]
    assert all(port_is_free(port) for port in ports)


def test_up_starts_a_child_that_died_again_on_its_port_and_the_others_keep_running(tmp_path: Path) -> None:
    live = start_mock_servers(tmp_path / "up.log")  # mocks only
    try:
        strategy, account = live.url("strategy-service"), live.url("account-service")
        with httpx.Client(timeout=5) as client:
            victim = next(p for p in mock_pids(live) if p[1] == "strategy-service")[0]
            os.kill(victim, signal.SIGKILL)
            deadline = time.monotonic() + 20
            while True:
                try:
                    if client.get(f"{strategy}/__admin/health").status_code == 200 and victim not in [
                        p for p, _ in mock_pids(live)
                    ]:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the strategy mock was not started again"
                time.sleep(0.1)
            assert client.get(f"{account}/__admin/health").status_code == 200
        assert "strategy-service exited with status -9; starting it again" in live.output()
    finally:
        assert stop_mock_servers(live) == 0


def mock_pids(live: LiveMocks) -> list[tuple[int, str]]:
    """(pid, name) of each `python -m mocks serve NAME` child of this stack's `up` (read from /proc)."""
    assert live.process is not None
    return [
        (pid, argv[argv.index("serve") + 1])
        for pid, parent, argv in processes()
        if parent == live.process.pid and "serve" in argv
    ]


def test_up_without_redis_says_so_in_its_ready_file(live_mocks: LiveMocks) -> None:
    assert live_mocks.ready["mocks"] == live_mocks.urls
    assert live_mocks.ready["redis"] is None
    assert live_mocks.ready["order_service"] is None


def mocks_up_refused(*args: str) -> subprocess.CompletedProcess[str]:
    """`mocks up ARGS` expected to stop at once (a usage error); its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "mocks", "up", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_a_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = mocks_up_refused("--no-redis", f"--port=strategy-service={port}")
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


def test_a_mock_stopped_on_request_refuses_until_started_again(tmp_path: Path) -> None:
    live = start_mock_servers(tmp_path / "up.log")
    try:
        strategy = live.url("strategy-service")
        live.stop_child("strategy-service")
        with httpx.Client(timeout=2) as client:
            with pytest.raises(httpx.ConnectError):  # down as a stopped service is: the port refuses
                client.get(f"{strategy}/__admin/health")
            time.sleep(1.0)  # and it stays down: `up` does not restart what was stopped on purpose
            with pytest.raises(httpx.ConnectError):
                client.get(f"{strategy}/__admin/health")
            assert client.get(f"{live.url('account-service')}/__admin/health").status_code == 200
            live.start_child("strategy-service")
            deadline = time.monotonic() + 20
            while True:
                try:
                    if client.get(f"{strategy}/__admin/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the strategy mock did not come back on its port"
                time.sleep(0.1)
        assert "exited with status" not in live.output()  # a stop on request is not a crash
    finally:
        assert stop_mock_servers(live) == 0


async def settings_of(database: str, *names: str) -> list[str]:
    connection = await asyncpg.connect(database)
    try:
        return [await connection.fetchval(f"SHOW {name}") for name in names]
    finally:
        await connection.close()


def test_up_hands_postgres_settings_to_its_throwaway_server(tmp_path: Path) -> None:
    environment.binary("redis-server")
    server_binaries()
    extra = [
        *("--redis-port", str(free_port()), "--order-service-port", str(free_port())),
        *("--postgres-port", str(free_port())),
        *("--postgres-setting", "fsync=on", "--postgres-setting", "work_mem=7MB"),
    ]
    live = start_mock_servers(tmp_path / "up.log", extra=extra)
    try:
        shown = asyncio.run(settings_of(live.ready["database"], "fsync", "work_mem"))
        assert shown == ["on", "7MB"]  # the server's own default is fsync off (a throwaway)
    finally:
        assert stop_mock_servers(live) == 0


@pytest.mark.parametrize("setting", ["fsync", "fsync=on; DROP", "work mem=1MB", "work_mem='1 MB'"])
def test_a_postgres_setting_that_is_not_name_value_is_refused_before_anything_starts(setting: str) -> None:
    result = mocks_up_refused("--postgres-setting", setting)
    assert result.returncode == 2
    assert f"{setting!r} is not NAME=VALUE" in result.stderr


def test_the_stop_command_needs_a_running_up(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mocks", "stop", "strategy-service", "--control-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert f"no `mocks up` runs with the control folder {tmp_path}" in result.stderr
