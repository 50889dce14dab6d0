"""The processes a crash round breaks: Redis, PostgreSQL, the mocks and two order-service replicas.

Everything listens on free ports, in the round's own folder. Where this machine allows
network namespaces (root), Redis, PostgreSQL and the strategy service (the owner of the P&L
syncs) run on a second host of the round's own (`harness.chaos.netns`), so the nemesis can
partition them with iptables; elsewhere they listen on loopback. The order service reaches
the three through proxies the nemesis controls (latency, cuts, stalls). Redis keeps an
append-only file (fsync always), so a restart "with AOF" keeps what it acknowledged and a
restart "empty" deletes it first. Each mock
keeps a ledger of the writes it applied, so the checker can count them across the owner's
own restarts.

The replicas' command is a parameter: the planted-defect tests run a patched order service
through it, and another implementation can be started the same way.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from harness.chaos.netns import Host
from harness.chaos.proxy import TcpProxy
from harness.errors import NotReady
from harness.processes import stop_process, wait_until
from harness.servers import free_port
from mocks.postgres import PostgresServer
from mocks.registry import CONFIG_SERVICE, SERVICES

OWNER = "strategy-service"
REFERENCE_COMMAND = (sys.executable, "-m", "order_service", "serve", "--dev")
READY_S = 60.0


def _answers(url: str) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            return httpx.get(url, timeout=1.0).status_code < 500
        except httpx.HTTPError:
            return False

    return probe


@dataclass
class Proc:
    """One process of the stack: how to start it, how to know it is ready, where its output goes."""

    name: str
    command: list[str]
    log: Path
    ready: Callable[[], bool]
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and wait until it is ready (NotReady when it exits or takes too long)."""
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.command, env={**os.environ, **self.env}, stdout=out, stderr=subprocess.STDOUT
            )
        wait_until(self.ready, what=self.name, timeout=READY_S, process=self.process)

    def kill(self) -> None:
        """SIGKILL, and wait for it to be gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """Stop it gently (then by force)."""
        if self.process is not None:
            stop_process(self.process, timeout=5)


@dataclass
class Stack:
    """The round's processes and proxies, started by `start_stack`, stopped by `stop`."""

    root: Path
    redis: Proc
    redis_port: int
    postgres: PostgresServer
    mocks: dict[str, Proc]
    replicas: list[Proc]
    proxies: dict[str, TcpProxy]  # "redis", "postgres", "owner"
    host: Host | None = None  # the second host Redis, PostgreSQL and the owner run on (None: loopback)

    @property
    def redis_host(self) -> str:
        """Where Redis listens."""
        return self.host.address if self.host else "127.0.0.1"

    @property
    def ports(self) -> dict[str, int]:
        """The port of each server a partition can cut off: "redis", "postgres", "owner"."""
        owner = int(self.mocks[OWNER].env["CHAOS_URL"].rsplit(":", 1)[1])
        return {"redis": self.redis_port, "postgres": self.postgres.port, "owner": owner}

    @property
    def replica_urls(self) -> list[str]:
        """Where the clients send their calls."""
        return [p.env["CHAOS_URL"] for p in self.replicas]

    @property
    def owner_url(self) -> str:
        """The owner mock itself (its admin surface), not through the proxy."""
        return self.mocks[OWNER].env["CHAOS_URL"]

    @property
    def owner_ledger(self) -> Path:
        """The file of writes the owner applied."""
        return self.root / f"{OWNER}.ledger"

    @property
    def database_url(self) -> str:
        """PostgreSQL itself (not through the proxy): for the checker."""
        return self.postgres.url

    def redis_restart(self, *, keep_data: bool) -> None:
        """SIGKILL Redis and start it again, on its append-only file or on an empty folder."""
        self.redis.kill()
        if not keep_data:
            shutil.rmtree(self.root / "redis", ignore_errors=True)
            (self.root / "redis").mkdir()
        self.redis.start()

    def stop(self) -> None:
        """Stop everything this stack started, and its proxies."""
        for proc in [*self.replicas, *self.mocks.values(), self.redis]:
            proc.stop()
        for proxy in self.proxies.values():
            proxy.close()
        self.postgres.remove()
        if self.host is not None:
            self.host.remove()


def _redis(root: Path, host: Host | None) -> tuple[Proc, int]:
    port = free_port()
    address = host.address if host else "127.0.0.1"
    binary = shutil.which("redis-server")
    if binary is None:
        raise NotReady("redis-server is not installed (Debian: apt-get install redis-server)")
    folder = root / "redis"
    folder.mkdir(exist_ok=True)
    command = [binary, "--bind", address, "--port", str(port), "--dir", str(folder), "--save", ""]
    command += ["--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "no"]
    if host is not None:
        command = host.inside(*command)

    def ready() -> bool:
        done = subprocess.run(
            ["redis-cli", "-h", address, "-p", str(port), "ping"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        return done.stdout.strip() == "PONG"

    return Proc("redis", command, root / "redis.log", ready), port


def _mock(root: Path, name: str, port: int, registry: dict[str, str], host: Host | None = None) -> Proc:
    address = host.address if host else "127.0.0.1"
    command = [sys.executable, "-m", "mocks", "serve", name, "--host", address, "--port", str(port)]
    command += ["--ledger", str(root / f"{name}.ledger")]
    if name == CONFIG_SERVICE:
        command += [f"--registry={other}={url}" for other, url in registry.items()]
    if host is not None:
        command = host.inside(*command)
    url = f"http://{address}:{port}"
    return Proc(name, command, root / f"{name}.log", _answers(url + "/__admin/health"), {"CHAOS_URL": url})


def start_stack(
    root: Path, replica_command: Sequence[str] = REFERENCE_COMMAND, replicas: int = 2, host: Host | None = None
) -> Stack:
    """Start the round's processes in `root` (every one ready before this returns).

    `host`: the second host Redis, PostgreSQL and the owner run on (None: loopback); the
    stack removes it when it stops.
    """
    root.mkdir(parents=True, exist_ok=True)
    address = host.address if host else "127.0.0.1"
    redis, redis_port = _redis(root, host)
    postgres = PostgresServer.create(host=address, prefix=host.inside() if host else ())
    started: list[Proc] = []
    proxies: dict[str, TcpProxy] = {}
    try:
        redis.start()
        started.append(redis)
        postgres.start()
        ports = {name: free_port() for name in SERVICES if name != "order-service"}
        proxies["redis"] = TcpProxy("redis", (address, redis_port)).start()
        proxies["postgres"] = TcpProxy("postgres", (address, postgres.port)).start()
        proxies["owner"] = TcpProxy("owner", (address, ports[OWNER])).start()
        registry = {name: f"http://127.0.0.1:{port}" for name, port in ports.items() if name != CONFIG_SERVICE}
        registry[OWNER] = f"http://{proxies['owner'].address()}"
        mocks = {
            name: _mock(root, name, port, registry, host if name == OWNER else None) for name, port in ports.items()
        }
        for proc in mocks.values():
            proc.start()
            started.append(proc)
        procs = [
            _replica(root, number, replica_command, _replica_env(proxies, mocks, registry))
            for number in range(replicas)
        ]
        for proc in procs:
            proc.start()
            started.append(proc)
    except BaseException:
        for proc in started:
            proc.stop()
        for proxy in proxies.values():
            proxy.close()
        postgres.remove()
        if host is not None:
            host.remove()
        raise
    return Stack(root, redis, redis_port, postgres, mocks, procs, proxies, host)


def _replica(root: Path, number: int, command: Sequence[str], env: dict[str, str]) -> Proc:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [*command, "--host", "127.0.0.1", "--port", str(port)]
    ready = _answers(url + "/health/circuit-breaker")
    return Proc(f"replica-{number}", argv, root / f"replica-{number}.log", ready, {**env, "CHAOS_URL": url})


def _replica_env(proxies: dict[str, TcpProxy], mocks: dict[str, Proc], registry: dict[str, str]) -> dict[str, str]:
    return {
        "ORDER_SERVICE_REDIS_URL": f"redis://{proxies['redis'].address()}/0",
        "ORDER_SERVICE_DATABASE_URL": f"postgresql://postgres@{proxies['postgres'].address()}/postgres",
        "ORDER_SERVICE_CONFIG_SERVICE_URL": mocks[CONFIG_SERVICE].env["CHAOS_URL"],
        "ORDER_SERVICE_FALLBACK_URLS": json.dumps(registry),
        # limits far above the workload's pace: the round tests integrity, not the limiter
        "ORDER_SERVICE_RATE_LIMIT__PER_ACCOUNT": "100000",
        "ORDER_SERVICE_RATE_LIMIT__PER_SERVICE": "100000",
        # a killed replica's claims free their keys within the round
        "ORDER_SERVICE_IDEMPOTENCY_CLAIM_SECONDS": "5",
        # what waited in the outbox through a fault is delivered within seconds of healing
        "ORDER_SERVICE_OUTBOX_RETRY_MAX_SECONDS": "4",
        "PYTHONUNBUFFERED": "1",
    }


def wait_healed(stack: Stack, timeout: float = 60.0) -> None:
    """Every process up and answering again (after the nemesis stopped)."""
    deadline = time.monotonic() + timeout
    for proc in [stack.redis, *stack.mocks.values(), *stack.replicas]:
        if proc.process is None or proc.process.poll() is not None:
            proc.start()
        wait_until(proc.ready, what=proc.name, timeout=max(1.0, deadline - time.monotonic()))
    if not stack.postgres.accepts():
        stack.postgres.start()
