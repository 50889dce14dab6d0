"""The skip policy: a tier this machine lacks skips with the reason, and fails under the CI switch.

Each test named here needs something a machine may lack. They run in a child pytest whose PATH
holds only the virtualenv (no redis-server, redis-cli or openssl), whose PostgreSQL binaries are
pointed at a folder that does not exist, and whose Docker host does not exist, so every tier is
missing for real.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from suites.fixtures import environment
from suites.fixtures.processes import child_pytest

ROOT = Path(__file__).resolve().parents[2]
NEEDS = {
    "suites/redis/test_redis_sources.py::test_each_test_starts_with_an_empty_database": "redis",
    "suites/redis/test_usage_monitor.py::test_redis_down_is_unhealthy_within_a_second": "redis-server",
    "suites/redis/test_usage_monitor_cluster.py::test_the_scan_covers_every_primary": "redis-server",
    "suites/api/test_order_flow.py::test_a_redis_outage_fails_closed_and_recovers": "redis",
    "suites/mocks/test_live.py::test_up_prints_the_table_starts_redis_and_stops_everything_on_sigterm": "redis-server",
    "suites/e2e/test_stack.py::test_orders_anomalies_outage_and_recovery": "redis-server",
    "suites/redis/test_container_source.py::test_the_container_is_a_container_and_goes_away": "container",
    "suites/security/test_vectors.py::test_openssl_agrees": "openssl",
    "suites/orders/test_postgres.py::test_order_ids_go_on_after_a_restart": "postgres",
    "suites/chaos/test_round.py::test_a_round_keeps_its_files_and_its_fault_log_replays_the_seeds_schedule": (
        "redis-server"
    ),
    "suites/pact/test_pactflow_validator.py::test_pactflow_reports_an_out_of_schema_path_value": "pactflow-validator",
}


def run_without_the_tiers(switch: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", environment.SWITCH)}
    env.pop("HARNESS_SWAGGER_MOCK_VALIDATOR", None)
    env["PATH"] = str(Path(sys.executable).parent)  # the venv only
    env["DOCKER_HOST"] = "unix:///nonexistent/harness-no-engine.sock"
    env["HARNESS_REDIS_SOURCE"] = "process"
    env["HARNESS_POSTGRES_BIN"] = "/nonexistent/harness-no-postgres"  # Debian's folder is off PATH too
    env.pop("HARNESS_DATABASE_URL", None)
    if switch is not None:
        env[environment.SWITCH] = switch
    return child_pytest(*NEEDS, "-rfs", "-o", "addopts=", "-q", env=env)


def counts(output: str) -> dict[str, int]:
    summary = output.strip().splitlines()[-1]
    return {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|skipped|error)", summary)}


def test_without_the_switch_every_missing_tier_skips_with_how_to_get_it() -> None:
    result = run_without_the_tiers(None)
    assert result.returncode == 0, result.stdout
    skipped = counts(result.stdout).get("skipped", 0)
    assert skipped >= len(NEEDS), result.stdout  # openssl's test is one per vector
    assert counts(result.stdout).get("passed", 0) == 0, result.stdout
    for tier in set(NEEDS.values()):
        assert f"{tier} tier cannot run" in result.stdout, tier
        assert environment.TIERS[tier] in result.stdout, tier


def test_the_switch_turns_every_missing_tier_into_a_failure() -> None:
    result = run_without_the_tiers("all")
    assert result.returncode == 1, result.stdout
    found = counts(result.stdout)
    assert found.get("skipped", 0) == 0, result.stdout
    assert found.get("passed", 0) == 0, result.stdout
    assert found.get("failed", 0) + found.get("error", 0) >= len(NEEDS), result.stdout
    assert "HARNESS_REQUIRE=all requires it" in result.stdout


def test_the_switch_names_tiers_one_by_one() -> None:
    result = run_without_the_tiers("openssl")
    found = counts(result.stdout)
    assert found.get("failed", 0) >= 1, result.stdout  # openssl's vectors fail
    assert found.get("skipped", 0) >= len(NEEDS) - 1, result.stdout  # the others still skip
    assert "HARNESS_REQUIRE=openssl requires it" in result.stdout


def test_an_unknown_tier_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown tier 'redis-sever'"):
        environment.required("redis-sever")


def test_the_summary_names_each_tier_that_ran_and_each_that_did_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(environment, "SERVED", {})
    monkeypatch.setattr(environment, "MISSED", {})
    monkeypatch.delenv(environment.SWITCH, raising=False)
    environment.served("redis", "process (redis://127.0.0.1:1/0)")
    environment.served("redis", "process (redis://127.0.0.1:1/0)")
    with pytest.raises(pytest.skip.Exception):
        environment.unavailable("container", "no engine answers")
    with pytest.raises(pytest.skip.Exception):
        environment.unavailable("redis", "no REDIS_URL")  # another test's miss of a tier that did run
    assert environment.summary() == [
        "real tiers used: redis: process (redis://127.0.0.1:1/0)",
        "real tiers NOT run: container: no engine answers",
    ]


def test_under_xdist_the_summary_covers_every_worker() -> None:
    """The controller prints the run's summary: each worker's servers and misses reach it."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", environment.SWITCH)}
    env["DOCKER_HOST"] = "unix:///nonexistent/harness-no-engine.sock"
    env["HARNESS_REDIS_SOURCE"] = "process"
    tests = [
        "suites/redis/test_redis_sources.py::test_each_test_starts_with_an_empty_database",
        "suites/redis/test_container_source.py::test_the_container_is_a_container_and_goes_away",
    ]
    # --dist each: every worker runs both, so each serves Redis itself and misses the container
    result = child_pytest(*tests, "-n", "2", "--dist", "each", "-o", "addopts=", "-q", env=env)
    assert result.returncode == 0, result.stdout
    used = re.search(r"^real tiers used: redis: (.*)$", result.stdout, re.MULTILINE)
    assert used is not None, result.stdout
    servers = re.findall(r"process \(redis://127\.0\.0\.1:\d+/0\)", used.group(1))
    assert len(set(servers)) == 2, result.stdout  # one throwaway server per worker, both named
    assert f"real Redis source: {used.group(1)}" in result.stdout
    assert "real tiers NOT run: container: no Docker-compatible engine answers" in result.stdout
