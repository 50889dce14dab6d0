"""The container source is a real container: its own process namespace, gone when the fixture ends."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import redis

from harness.redis import _from_container, docker_answers
from suites.fixtures import environment

pytestmark = pytest.mark.redis


def redis_server_pids() -> list[int]:
    """Host processes named redis-server (the container's are not visible under these PIDs)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == "redis-server":
                found.append(int(entry.name))
        except OSError:
            continue  # the process ended while we looked
    return found


@pytest.fixture
def engine() -> None:
    forced = os.environ.get("HARNESS_REDIS_SOURCE") == "container"
    if not docker_answers(patience=20.0 if forced else 0.0):
        if forced:
            pytest.fail("no Docker-compatible engine answers; HARNESS_REDIS_SOURCE=container requires one")
        environment.unavailable("container", "no Docker-compatible engine answers")


@pytest.mark.usefixtures("engine")
def test_the_container_is_a_container_and_goes_away() -> None:
    import docker

    source = _from_container()
    server = next(source)
    client = docker.from_env()
    try:
        assert server.container_id is not None
        assert client.containers.get(server.container_id).status == "running"
        with redis.Redis.from_url(server.url) as conn:
            assert conn.ping()
            pid_inside = conn.info("server")["process_id"]
        host_redis_pids = set(redis_server_pids())
        assert pid_inside == 1  # the first process of its own PID namespace
        assert pid_inside not in host_redis_pids
    finally:
        next(source, None)
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(server.container_id)
    client.close()
