"""The nemesis's schedule: drawn from the seed alone, bounded in time, over the kinds asked for."""

from __future__ import annotations

import itertools

from harness.chaos.nemesis import HEAL_MARGIN_S, KINDS, PARTITIONS, draw_schedule


def test_the_same_seed_draws_the_same_schedule_and_another_seed_another() -> None:
    assert draw_schedule(7, 120.0) == draw_schedule(7, 120.0)
    assert draw_schedule(7, 120.0) != draw_schedule(8, 120.0)


def test_every_fault_ends_before_the_heal_margin_and_none_overlap() -> None:
    for seed in range(50):
        schedule = draw_schedule(seed, 60.0)
        assert schedule, seed
        assert schedule[-1].at + schedule[-1].duration <= 60.0 - HEAL_MARGIN_S
        for before, after in itertools.pairwise(schedule):
            assert after.at >= before.at + before.duration + 1.0  # a quiet gap after each fault


def test_only_the_kinds_asked_for_are_drawn() -> None:
    drawn = {f.kind for seed in range(50) for f in draw_schedule(seed, 120.0)}
    assert drawn <= set(KINDS)
    assert not drawn & set(PARTITIONS)  # partitions only where the stack has a second host
    with_partitions = {f.kind for seed in range(50) for f in draw_schedule(seed, 120.0, [*KINDS, *PARTITIONS])}
    assert set(PARTITIONS) <= with_partitions
    assert {f.kind for f in draw_schedule(3, 120.0, ["kill-replica"])} == {"kill-replica"}
