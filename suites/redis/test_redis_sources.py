"""The Redis fixture: a real server from the first source that works, fakeredis for units."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import fakeredis
import pytest
import redis

from suites.fixtures.processes import child_pytest
from suites.fixtures.redis import RealRedis

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.redis
def test_real_redis_is_a_real_server(real_redis: RealRedis, redis_client: redis.Redis) -> None:
    info = redis_client.info("server")
    assert int(info["redis_version"].split(".")[0]) >= 6
    assert real_redis.source in ("url", "container", "process")
    # MEMORY USAGE is what the usage monitor needs; fakeredis does not have it.
    redis_client.set("caching:probe", "x" * 1000)
    assert (redis_client.memory_usage("caching:probe") or 0) >= 1000


@pytest.mark.redis
def test_each_test_starts_with_an_empty_database(redis_client: redis.Redis) -> None:
    assert redis_client.dbsize() == 0
    redis_client.set("idempotency:order-1", "1")


@pytest.mark.redis
def test_and_the_next_one_too(redis_client: redis.Redis) -> None:
    assert redis_client.dbsize() == 0


def test_fakeredis_serves_the_unit_tier(fake_redis: fakeredis.FakeRedis) -> None:
    fake_redis.incr("rate_limiting:acct:ZX1234")
    assert fake_redis.get("rate_limiting:acct:ZX1234") == "1"


def run_pytest_without_redis(require: bool) -> subprocess.CompletedProcess[str]:
    """Run one real-Redis test where no source can work: no URL, no engine, no binary."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "HARNESS_REQUIRE")}
    env["PATH"] = str(Path(sys.executable).parent)  # the venv only: no redis-server here
    env["HARNESS_REDIS_SOURCE"] = "process"
    if require:
        env["HARNESS_REQUIRE"] = "redis"
    test = "suites/redis/test_redis_sources.py::test_each_test_starts_with_an_empty_database"
    return child_pytest(test, "-rs", "-o", "addopts=", env=env, timeout=120)


def test_without_any_source_the_real_tier_skips_with_the_reason() -> None:
    result = run_pytest_without_redis(require=False)
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout
    assert "no real Redis" in result.stdout
    assert "redis-server" in result.stdout


def test_ci_switch_turns_that_skip_into_a_failure() -> None:
    result = run_pytest_without_redis(require=True)
    assert result.returncode == 1, result.stdout
    assert "HARNESS_REQUIRE=redis requires it" in result.stdout


@pytest.mark.redis
def test_a_url_database_that_holds_keys_is_refused_not_emptied(real_redis: RealRedis) -> None:
    """REDIS_URL may point at someone's data: the tests use only a database that was empty."""
    from harness.redis import RedisUnavailable, open_source, worker_url

    named = real_redis.url.rsplit("/", 1)[0] + "/9"  # another database of this run's own server
    held = worker_url(named, os.environ.get("PYTEST_XDIST_WORKER"))  # the one an xdist worker takes of it
    with redis.Redis.from_url(held) as client:
        client.flushdb()
        client.set("someone:else", "precious")
        try:
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("REDIS_URL", named)
                with pytest.raises(RedisUnavailable, match=r"holds 1 keys: the tests empty their database"):
                    next(open_source("url"))
            assert client.get("someone:else") == b"precious"
            client.delete("someone:else")
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("REDIS_URL", named)
                assert next(open_source("url")).url == held  # empty: this run may use it
        finally:
            client.flushdb()


def test_an_unknown_source_is_a_usage_error() -> None:
    from harness.errors import UsageError
    from harness.redis import open_source

    with pytest.raises(UsageError, match="unknown Redis source 'docker'; one of: url, container, process"):
        open_source("docker")
