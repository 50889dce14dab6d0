"""The crash tier has teeth: with an old defect planted back, a seeded round reports the matching violation.

Each test runs a short round (real processes: two patched replicas, the mocks, Redis,
PostgreSQL) with a fixed fault schedule that gives the defect its chance, and looks for
the rule that names it. The same schedules on the real code are part of what `make
chaos-ci` and the clean-round test show: no violation.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.chaos.history import FaultRecord
from harness.chaos.round import RoundConfig, run_round
from harness.chaos.stack import REFERENCE_COMMAND
from suites.chaos.defects import command

pytestmark = pytest.mark.chaos

SECONDS = 20.0


def rules(folder: Path, replica_command: list[str] | tuple[str, ...], schedule: list[FaultRecord]) -> set[str]:
    config = RoundConfig(5, SECONDS, folder, replica_command=replica_command, schedule=schedule, partitions="off")
    report = run_round(config)
    return {violation.rule for violation in report.verdict.violations}


KILLS = [
    FaultRecord("kill-replica", 4.0, 2.0, detail={"replica": 0}),
    FaultRecord("kill-replica", 9.0, 2.0, detail={"replica": 1}),
]
SLOW_OWNER = [FaultRecord("owner-latency", 3.0, 6.0, detail={"delay_s": 2.5})]
REDIS_EMPTIED = [FaultRecord("redis-restart-empty", 5.0, 1.0)]


def test_order_ids_from_a_counter_in_memory_are_reused(tmp_path: Path) -> None:
    assert "id_reused" in rules(tmp_path, command("counter_ids"), KILLS)


def test_an_answer_recorded_after_the_response_loses_its_key(tmp_path: Path) -> None:
    assert "key_lost" in rules(tmp_path, command("answer_after_response"), KILLS)


def test_a_pnl_sync_inside_the_request_makes_the_answer_follow_the_owner(tmp_path: Path) -> None:
    assert "ack_followed_owner" in rules(tmp_path, command("sync_in_request"), SLOW_OWNER)


def test_a_replay_store_without_its_epoch_accepts_a_replay_after_redis_lost_its_data(tmp_path: Path) -> None:
    assert "replay_accepted" in rules(tmp_path, command("replay_without_epoch"), REDIS_EMPTIED)


@pytest.mark.parametrize("schedule", [KILLS, SLOW_OWNER, REDIS_EMPTIED], ids=["kills", "slow-owner", "redis-emptied"])
def test_the_real_code_under_the_same_schedules_breaks_no_promise(tmp_path: Path, schedule: list[FaultRecord]) -> None:
    assert rules(tmp_path, REFERENCE_COMMAND, schedule) == set()
