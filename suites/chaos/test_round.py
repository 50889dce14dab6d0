"""Whole rounds on the real code: partitions on a namespace of the round's own, a seeded schedule replayed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.chaos import netns
from harness.chaos.history import FaultRecord, read_calls, read_faults
from harness.chaos.nemesis import draw_schedule
from harness.chaos.round import RoundConfig, run_round
from suites.fixtures import environment
from suites.fixtures.processes import processes

pytestmark = pytest.mark.chaos


def test_partitions_of_redis_postgres_and_the_owner_break_no_promise(tmp_path: Path) -> None:
    why = netns.available()
    if why is not None:
        environment.unavailable("netns", why)
    environment.served("netns", "ip netns, iptables")
    schedule = [
        FaultRecord("partition-redis", 3.0, 4.0),
        FaultRecord("partition-postgres", 9.0, 2.0),
        FaultRecord("partition-owner", 13.0, 2.0),
    ]
    report = run_round(RoundConfig(3, 20.0, tmp_path, schedule=schedule, partitions="on"))
    assert report.verdict.violations == []
    assert [f.kind for f in report.faults] == [f.kind for f in schedule]
    redis = report.faults[0]
    inside = [c for c in report.calls if redis.start <= c.start and c.end <= redis.end]
    assert len(inside) >= 6, "the workload ran through the Redis partition"
    assert {c.outcome for c in inside} <= {"refused", "unknown"}  # answered 503 or timed out, never placed
    assert report.figures["partitions"].startswith("iptables in namespace chaos-")
    assert not any(name.startswith(report.figures["partitions"].split()[3]) for name in _namespaces())  # removed


def _namespaces() -> list[str]:
    import subprocess

    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    return [line.split()[0] for line in listed.splitlines() if line.strip()]


def test_a_round_keeps_its_files_and_its_fault_log_replays_the_seeds_schedule(tmp_path: Path) -> None:
    report = run_round(RoundConfig(21, 20.0, tmp_path, partitions="off"))
    assert report.verdict.violations == []
    logged = read_faults(tmp_path / "faults.jsonl")
    drawn = draw_schedule(21, 20.0)
    assert [(f.kind, f.at, f.duration, f.detail) for f in logged] == [
        (f.kind, f.at, f.duration, f.detail) for f in drawn
    ]
    assert len(read_calls(tmp_path / "history.jsonl")) == len(report.calls) > 100
    summary = json.loads((tmp_path / "report.json").read_text())
    assert summary["seed"] == 21
    assert summary["violations"] == []
    assert "violations: 0" in (tmp_path / "report.txt").read_text()


def test_a_round_stopped_by_sigterm_leaves_no_process_and_no_namespace(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    before = set(_namespaces())
    command = [sys.executable, "-m", "harness", "chaos", "--seed", "4", "--seconds", "60", "--out", str(tmp_path)]
    chaos = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob("seed-4/replica-1.log")) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)  # the workload and the nemesis are running
    chaos.send_signal(signal.SIGTERM)
    assert chaos.wait(timeout=60) != 0
    left = [argv for pid, _, argv in processes() if _writes_into(pid, tmp_path)]
    assert left == []  # every process of the stack wrote its log into the round's folder
    assert set(_namespaces()) <= before


def _writes_into(pid: int, folder: Path) -> bool:
    import os

    try:
        return os.readlink(f"/proc/{pid}/fd/1").startswith(str(folder))
    except OSError:
        return False


def test_every_crash_round_test_is_in_the_one_xdist_group(request: pytest.FixtureRequest) -> None:
    """`make test` (--dist loadgroup) runs the rounds one after another on one worker."""
    assert [mark.args for mark in request.node.iter_markers("xdist_group")] == [("crash-rounds",)]
