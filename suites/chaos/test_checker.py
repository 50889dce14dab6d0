"""The crash tier's checker on hand-made histories: each kind of violation planted is reported, clean ones are not."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from harness.chaos.checker import Stores, check, expected_sync_key
from harness.chaos.history import Call, FaultRecord

T = 1_800_000_000.0
ORDER = "261202000000001"
OTHER = "261202000000002"
KEY = "abcdc0n00001"


def place(
    key: str = KEY, *, outcome: str = "ok", answered: str | None = ORDER, start: float = T, status: int | None = None
) -> Call:
    status = status or {"ok": 201, "refused": 409, "unknown": 503}[outcome]
    return Call(0, "place", start, start + 0.02, outcome, status, key=key, answered_id=answered)  # type: ignore[arg-type]


def order(tag: str = KEY, *, status: str = "OPEN", strategy: int | None = None, filled: int = 0) -> dict[str, Any]:
    return {"account": "ZX1234", "status": status, "strategy_id": strategy, "tag": tag, "filled_quantity": filled}


def clean() -> tuple[list[Call], list[FaultRecord], Stores]:
    """One acknowledged MARKET order under a strategy, its sync delivered once; a cancel; a refused replay."""
    sync = expected_sync_key(ORDER, 10)
    calls = [
        place(),
        Call(0, "cancel", T + 1, T + 1.01, "refused", 409, order_id=ORDER),
        Call(0, "replay", T + 2, T + 2.01, "refused", 401, replay_of=KEY),
        place("abcdc0n00002", outcome="unknown", answered=None, start=T + 3),
    ]
    stores = Stores(
        orders={ORDER: order(status="COMPLETE", strategy=42, filled=10)},
        keys={KEY: ORDER},
        outbox=[{"key": sync, "state": "delivered", "order_id": ORDER}],
        applied=[("syncStrategyPnl", sync)],
    )
    return calls, [FaultRecord("kill-replica", 1.0, 2.0, T + 5, T + 7)], stores


def rules(calls: list[Call], faults: list[FaultRecord], stores: Stores) -> list[str]:
    return sorted({v.rule for v in check(calls, faults, stores).violations})


def test_a_clean_history_has_no_violation_and_its_unknown_is_resolved() -> None:
    verdict = check(*clean())
    assert verdict.violations == []
    assert (verdict.unknown_applied, verdict.unknown_not_applied) == (0, 1)


def test_an_acknowledged_order_missing_from_the_database_is_lost() -> None:
    calls, faults, stores = clean()
    stores.orders.clear()
    stores.keys.clear()
    assert "ack_lost" in rules(calls, faults, stores)


def test_a_key_that_now_names_another_order_changed_its_id() -> None:
    calls, faults, stores = clean()
    stores.orders[OTHER] = order("someone-else")
    stores.keys[KEY] = OTHER
    assert "id_changed" in rules(calls, faults, stores)


def test_two_answers_under_one_key_naming_two_orders() -> None:
    calls, faults, stores = clean()
    calls.append(place(answered=OTHER, start=T + 4))
    assert "key_named_two_orders" in rules(calls, faults, stores)


def test_two_orders_in_the_database_under_one_key() -> None:
    calls, faults, stores = clean()
    stores.orders[OTHER] = order()
    assert rules(calls, faults, stores) == ["duplicate_order"]


def test_an_order_no_client_sent_is_a_phantom() -> None:
    calls, faults, stores = clean()
    stores.orders[OTHER] = order("zzzzc9n99999")
    assert rules(calls, faults, stores) == ["phantom_order"]


def test_a_filled_orders_sync_that_never_arrived_or_arrived_twice() -> None:
    calls, faults, stores = clean()
    missing = replace(stores, applied=[])
    assert rules(calls, faults, missing) == ["follow_up_missing"]
    twice = replace(stores, applied=stores.applied * 2)
    assert rules(calls, faults, twice) == ["follow_up_twice"]


def test_a_sync_no_committed_order_asked_for_and_an_entry_stuck_after_healing() -> None:
    calls, faults, stores = clean()
    unknown = replace(stores, applied=[*stores.applied, ("syncStrategyPnl", "sync-pnl-inline-1")])
    assert rules(calls, faults, unknown) == ["follow_up_unknown"]
    stuck = replace(stores, outbox=[{**stores.outbox[0], "state": "pending"}])
    assert rules(calls, faults, stuck) == ["follow_up_stuck"]


def test_a_replay_answered_2xx_was_accepted() -> None:
    calls, faults, stores = clean()
    calls[2] = replace(calls[2], outcome="ok", status=201)
    assert rules(calls, faults, stores) == ["replay_accepted"]


@pytest.mark.parametrize("kind", ["cancel", "modify"])
def test_a_change_answered_for_another_order_touched_the_wrong_one(kind: str) -> None:
    calls, faults, stores = clean()
    calls.append(Call(0, kind, T + 4, T + 4.01, "ok", 200, order_id=ORDER, answered_id=OTHER))  # type: ignore[arg-type]
    assert rules(calls, faults, stores) == ["wrong_order_touched"]


def test_an_order_cancelled_that_no_client_asked_to_cancel() -> None:
    calls, faults, stores = clean()
    calls = [c for c in calls if c.kind != "cancel"]
    stores.orders[ORDER]["status"] = "CANCELLED"
    assert rules(calls, faults, stores) == ["wrong_order_touched"]


def test_an_answer_inside_a_redis_outage_was_given_without_redis() -> None:
    calls, _, stores = clean()
    away = FaultRecord("redis-restart-empty", 0.0, 2.0, T - 0.5, T + 0.5)
    assert rules(calls, [away], stores) == ["accepted_without_redis"]
    ended_after = FaultRecord("redis-pause", 0.0, 2.0, T - 0.5, T + 0.01)  # the call ended after the pause
    assert rules(calls, [ended_after], stores) == []


def test_an_answer_as_slow_as_the_owner_followed_the_owner() -> None:
    calls, _, stores = clean()
    slow = FaultRecord("owner-latency", 0.0, 5.0, T - 0.1, T + 5, detail={"delay_s": 2.5})
    calls[0] = replace(calls[0], end=T + 2.6)
    assert rules(calls, [slow], stores) == ["ack_followed_owner"]
    calls[0] = replace(calls[0], end=T + 0.05)
    assert rules(calls, [slow], stores) == []


def test_a_500_is_an_internal_error() -> None:
    calls, faults, stores = clean()
    calls.append(place("abcdc0n00003", outcome="unknown", answered=None, start=T + 4, status=500))
    assert rules(calls, faults, stores) == ["internal_error"]


def test_an_unknown_outcome_that_placed_its_order_is_resolved_as_placed() -> None:
    calls, faults, stores = clean()
    stores.orders[OTHER] = order("abcdc0n00002")
    stores.keys["abcdc0n00002"] = OTHER
    verdict = check(calls, faults, stores)
    assert verdict.violations == []
    assert (verdict.unknown_applied, verdict.unknown_not_applied) == (1, 0)


def test_an_acknowledged_id_that_now_holds_another_keys_order_was_reused() -> None:
    calls, faults, stores = clean()
    stores.orders[ORDER] = {**stores.orders[ORDER], "tag": "abcdc0n00009"}
    calls.append(place("abcdc0n00009", answered=ORDER, start=T + 4))
    assert "id_reused" in rules(calls, faults, stores)


def test_an_order_whose_key_does_not_name_it_lost_its_key() -> None:
    calls, faults, stores = clean()
    stores.keys[KEY] = None  # claimed, never completed: a retry after the claim expires places it again
    assert "key_lost" in rules(calls, faults, stores)
