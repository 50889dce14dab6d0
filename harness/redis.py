"""Real Redis for tests, from the first source that works: a URL, a container, a throwaway process.

Sources, in order: `REDIS_URL` when set; a container through testcontainers where a
Docker-compatible engine answers (image `HARNESS_REDIS_IMAGE`, default `redis:7`); a
throwaway `redis-server` process on a free loopback port where the binary exists.
`HARNESS_REDIS_SOURCE=url|container|process` forces one.

A test may empty only a database this run owns: a container's or a process's (started for
this run, so for this pytest worker alone), or a `REDIS_URL` database that held no keys when
the run began. A URL database that holds keys is refused, never flushed: point `REDIS_URL` at
an empty database the tests may use. Under pytest-xdist each worker takes its own database
of the URL's server (`gw0` the URL's, `gw1` the next, ...).
"""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis

from harness.errors import RedisUnavailable, UsageError
from harness.processes import stop_process, wait_until
from harness.servers import free_port

SOURCES = ("url", "container", "process")
__all__ = ["SOURCES", "RealRedis", "RedisUnavailable", "open_source", "redis_server_process", "start_redis_server"]


@dataclass(frozen=True)
class RealRedis:
    """A real Redis server for this run: where it is, which source gave it, and whether it may be emptied."""

    url: str
    source: str  # url | container | process
    container_id: str | None = None

    def client(self, **kwargs: Any) -> redis.Redis:
        """A client of this server's database."""
        return redis.Redis.from_url(self.url, **kwargs)

    def empty(self) -> None:
        """Empty this run's database (FLUSHDB); every source here is this run's own (see the module doc)."""
        with self.client() as client:
            client.flushdb()


def wait_for_ping(url: str, timeout: float = 10.0, process: subprocess.Popen[Any] | None = None) -> None:
    """Return once `url` answers PING; raise `NotReady` when `process` exits first or time runs out."""
    client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    try:
        wait_until(lambda: bool(client.ping()), what=f"Redis at {url}", timeout=timeout, process=process)
    finally:
        client.close()


def start_redis_server(binary: str, port: int, *args: str) -> subprocess.Popen[bytes]:
    """A redis-server on 127.0.0.1:`port` (nothing kept on disk), returned once it answers PING."""
    process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_ping(f"redis://127.0.0.1:{port}/0", process=process)
    except BaseException:
        stop_process(process, timeout=5)
        raise
    return process


def redis_server_process(binary: str) -> Iterator[RealRedis]:
    """A throwaway redis-server on a free loopback port, answering PING; stopped when the generator ends."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="harness-redis-") as workdir:
        process = start_redis_server(binary, port, "--dir", workdir)
        try:
            yield RealRedis(f"redis://127.0.0.1:{port}/0", "process")
        finally:
            stop_process(process, timeout=5)


def docker_answers(patience: float = 0.0) -> bool:
    """Whether a Docker-compatible engine answers at DOCKER_HOST (or the default socket).

    `patience` is how long to keep asking an engine whose socket exists: a Podman service
    under load (CI's test workers starting at once) can take seconds over its first pings.
    """
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if host.startswith("unix://") and not Path(host.removeprefix("unix://")).exists():
        return False  # the common case: a docker client, no engine
    deadline = time.monotonic() + patience
    while True:
        if _pings():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)


def _pings() -> bool:
    import docker

    with warnings.catch_warnings():
        # docker-py leaves its socket to the garbage collector when the engine does not answer
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            client = docker.from_env(timeout=5)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except Exception:  # no engine, no permission, a broken socket: all mean "not this source"
            return False
        finally:
            gc.collect()


def _from_container() -> Iterator[RealRedis]:
    from testcontainers.community.redis import RedisContainer

    image = os.environ.get("HARNESS_REDIS_IMAGE", "redis:7")
    # No Ryuk reaper (its image may not be pullable): leaving the block stops and removes the container.
    with RedisContainer(image) as container:
        host = container.get_container_host_ip()
        port = container.get_exposed_port(6379)
        url = f"redis://{host}:{port}/0"
        wait_for_ping(url)
        yield RealRedis(url, "container", container.get_wrapped_container().id)


def worker_url(url: str, worker: str | None) -> str:
    """The database of one pytest-xdist worker (`gw3`: the URL's database + 3), so workers never share one."""
    if not worker or not worker.startswith("gw"):
        return url
    parts = urlsplit(url)
    database = int(parts.path.strip("/") or 0) + int(worker[2:])
    return urlunsplit(parts._replace(path=f"/{database}"))


def _from_url(url: str) -> Iterator[RealRedis]:
    url = worker_url(url, os.environ.get("PYTEST_XDIST_WORKER"))
    wait_for_ping(url)
    with redis.Redis.from_url(url) as client:
        held = int(client.dbsize())
    if held:
        raise RedisUnavailable(
            f"REDIS_URL {url} holds {held} keys: the tests empty their database, so they use only an empty one "
            "(point REDIS_URL at an empty database, e.g. redis://host:6379/15)"
        )
    yield RealRedis(url, "url")


def open_source(forced: str | None = None) -> Iterator[RealRedis]:
    """The generator of the first source that works (only `forced` when given); next() gives the server.

    Raises:
        RedisUnavailable: no source works; the message gives each one's reason.
        UsageError: `forced` is not a source.
    """
    if forced is not None and forced not in SOURCES:
        raise UsageError(f"unknown Redis source {forced!r}; one of: {', '.join(SOURCES)}")
    url = os.environ.get("REDIS_URL")
    binary = shutil.which("redis-server")
    if url and forced in (None, "url"):
        return _from_url(url)
    # A forced container source waits for a slow engine; the automatic choice does not.
    if forced in (None, "container") and docker_answers(patience=20.0 if forced == "container" else 0.0):
        return _from_container()
    if forced in (None, "process") and binary:
        return redis_server_process(binary)
    reasons = [
        "REDIS_URL is not set" if not url else f"source {forced} excludes REDIS_URL",
        "no Docker-compatible engine answers",
        "redis-server is not installed (Debian: apt-get install redis-server)"
        if not binary
        else f"source {forced} excludes it",
    ]
    raise RedisUnavailable("no real Redis: " + "; ".join(reasons))
