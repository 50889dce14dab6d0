"""Three live instances of the strategy mock and a config service naming them (load-balancing tests and bench)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx

from harness.processes import stop_process, wait_until
from harness.servers import LiveMocks, free_port

STRATEGY = "strategy-service"


@dataclass
class Fleet:
    """Three strategy mocks and the config service naming them, as processes."""

    urls: list[str]
    processes: list[subprocess.Popen[bytes]]
    config: str

    def handles(self) -> LiveMocks:
        return LiveMocks({f"strategy-{n}": url for n, url in enumerate(self.urls)}, None, None)

    def journal(self, n: int, operation: str) -> list[dict[str, Any]]:
        return self.handles().service(f"strategy-{n}").journal(operation_id=operation)

    def calls(self, operation: str) -> list[int]:
        """Requests each instance received (0 for one that was killed)."""
        alive = [p.poll() is None for p in self.processes]
        return [len(self.journal(n, operation)) if alive[n] else 0 for n in range(len(self.urls))]

    def clear(self) -> None:
        for n, process in enumerate(self.processes):
            if process.poll() is None:
                httpx.delete(f"{self.urls[n]}/__admin/journal").raise_for_status()


def _start(name: str, port: int, *extra: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "mocks", "serve", name, "--port", str(port), *extra]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/__admin/health", timeout=0.5).status_code == 200
    except httpx.TransportError:
        return False


@contextlib.contextmanager
def running_fleet(instances: int = 3) -> Iterator[Fleet]:
    """`instances` strategy mocks and the config service, as processes, until the block ends."""
    ports = [free_port() for _ in range(instances + 1)]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    processes = [_start(STRATEGY, port) for port in ports[:instances]]  # started together: a start takes a second
    registry = (f"--registry={STRATEGY}={url}" for url in urls[:instances])
    processes.append(_start("config-service", ports[instances], *registry))
    try:
        for url, process in zip(urls, processes, strict=True):
            wait_until(partial(_answers, url), what=f"the mock on {url}", timeout=30, process=process, interval=0.05)
        yield Fleet(urls[:instances], processes[:instances], urls[instances])
    finally:
        for process in processes:
            stop_process(process)
