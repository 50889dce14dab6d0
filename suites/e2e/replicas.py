"""Order service replicas as real processes, and the clients the end-to-end suites call them with."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from harness.processes import stop_process
from harness.servers import LiveMocks, free_port
from order_service.security.dev import dev_signer, dev_user_token

PINNED = "2026-11-26T11:00:00+05:30"  # a trading Thursday: no off-hours finding


def client(url: str, identity: str = "algo_engine", timeout: float = 10.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=url,
        auth=dev_signer(identity),
        timeout=timeout,
        headers={"authorization": f"Bearer {dev_user_token()}", "x-trading-account-id": "ZX1234"},
    )


async def eventually(check: Any, timeout: float = 20.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"{what} never held"
        await asyncio.sleep(0.1)


async def ready(url: str) -> bool:
    async with httpx.AsyncClient() as plain:
        try:
            return (await plain.get(f"{url}/health/ready")).status_code == 200
        except httpx.TransportError:
            return False


class Replicas:
    """Two `python -m order_service serve` processes on one PostgreSQL and one Redis, behind the mocks."""

    def __init__(
        self,
        live: LiveMocks,
        database_url: str,
        logs: Path,
        *,
        redis_url: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.live = live
        self.env = {
            **os.environ,
            "ORDER_SERVICE_DATABASE_URL": database_url,
            "ORDER_SERVICE_REDIS_URL": redis_url or live.ready["redis"],
            "ORDER_SERVICE_CONFIG_SERVICE_URL": live.urls["config-service"],
            "ORDER_SERVICE_TEST_CLOCK_START": PINNED,
            "ORDER_SERVICE_OUTBOX_RELAY_INTERVAL": "0.2",
            "ORDER_SERVICE_RETRY__MAX_ATTEMPTS": "1",
            "ORDER_SERVICE_HTTP__READ_TIMEOUT": "10",
            "ORDER_SERVICE_RATE_LIMIT__PER_ACCOUNT": "1000",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.logs = logs
        self.ports = [free_port(), free_port()]
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        for n, port in enumerate(self.ports):
            with (self.logs / f"replica-{n}.log").open("ab") as sink:
                command = [sys.executable, "-m", "order_service", "serve", "--dev", "--port", str(port)]
                self.processes.append(subprocess.Popen(command, env=self.env, stdout=sink, stderr=subprocess.STDOUT))

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    def audit_events(self) -> list[dict[str, Any]]:
        """The `AUDIT_EVENT` lines both replicas wrote (JSON lines on their stdout)."""
        events = []
        for n in range(len(self.ports)):
            for line in (self.logs / f"replica-{n}.log").read_text().splitlines():
                if line.startswith("{") and '"event":"AUDIT_EVENT"' in line:
                    events.append(json.loads(line)["fields"])
        return events

    def stop(self) -> None:
        for process in self.processes:
            stop_process(process, timeout=5)
