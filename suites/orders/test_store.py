"""The order store's promises, on memory and on PostgreSQL: ids, idempotency, atomic commits, the outbox."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import pytest

from order_service.orders import book
from order_service.orders.book import OrderFinal, OrderNotFound, Position
from order_service.orders.models import ModifyOrderRequest
from order_service.orders.store import Claim, FollowUp, KeyInProgress, KeyReused, OrderStore, Stored
from suites.orders.conftest import AT, BROKER, Clock, limit, market, wait_claim_out

pytestmark = pytest.mark.anyio
PREFIX = book.id_prefix(AT)


def pnl_follow_up(order: Mapping[str, Any], positions: Sequence[Position]) -> list[FollowUp]:
    """One write per fill, partitioned by strategy, whose body records the positions it saw."""
    return [
        FollowUp(
            "strategy-service",
            "syncStrategyPnl",
            "POST",
            f"/strategies/{order['strategy_id']}/sync-pnl",
            {"bought": sum(p.bought for p in positions)},
            f"sync-{order['order_id']}",
            f"strategy:{order['strategy_id']}",
        )
    ]


async def claimed(store: OrderStore, key: str = "key-00000001", body: str = "a") -> Claim:
    outcome = await store.claim("ZX1234", key, body)
    assert isinstance(outcome, Claim)
    return outcome


async def test_order_ids_are_the_day_and_nine_digits_and_grow(store: OrderStore) -> None:
    first = (await store.place(limit(), PREFIX, None, None)).body
    second = (await store.place(limit(), PREFIX, None, None)).body
    assert first["order_id"] == "261126000000001"
    assert second["order_id"] == "261126000000002"
    assert await store.get("ZX1234", second["order_id"]) == second


async def test_an_order_of_another_account_is_not_found(store: OrderStore) -> None:
    placed = (await store.place(limit(), PREFIX, None, None)).body
    with pytest.raises(OrderNotFound):
        await store.get("AB1234", placed["order_id"])
    with pytest.raises(OrderNotFound):
        await store.change("AB1234", placed["order_id"], lambda o: book.cancelled(o, "risk_manager", AT), None)


async def test_a_key_answers_with_its_first_order(store: OrderStore) -> None:
    claim = await claimed(store)
    placed = await store.place(limit(), PREFIX, claim, None)
    again = await store.claim("ZX1234", "key-00000001", "a")
    assert again == Stored(201, placed.body)
    with pytest.raises(KeyReused):
        await store.claim("ZX1234", "key-00000001", "another body")
    assert isinstance(await store.claim("AB1234", "key-00000001", "a"), Claim)  # keys are per account


async def test_a_key_in_flight_is_refused_until_its_claim_expires(store: OrderStore, clock: Clock) -> None:
    await claimed(store)
    with pytest.raises(KeyInProgress):
        await store.claim("ZX1234", "key-00000001", "a")
    await wait_claim_out(store, clock)  # the first request died holding it: its retry may go ahead
    assert isinstance(await store.claim("ZX1234", "key-00000001", "a"), Claim)


async def test_a_released_key_may_be_used_again_but_an_answered_one_is_never_released(store: OrderStore) -> None:
    await store.release(await claimed(store))
    claim = await claimed(store)
    placed = await store.place(limit(), PREFIX, claim, None)
    await store.release(claim)  # too late: the order is placed, the answer stays
    assert await store.claim("ZX1234", "key-00000001", "a") == Stored(201, placed.body)


async def test_two_requests_under_one_key_place_one_order_even_after_a_takeover(
    store: OrderStore, clock: Clock
) -> None:
    slow = await claimed(store)
    await wait_claim_out(store, clock)
    retry = await claimed(store)  # the slow request's claim expired; its retry took the key
    first = await store.place(limit(), PREFIX, retry, None)
    second = await store.place(limit(), PREFIX, slow, None)  # the slow one finishes after all
    assert second.body == first.body
    assert second.replayed
    assert not first.replayed
    page, _ = await store.page("ZX1234", None, 10, None)
    assert [o["order_id"] for o in page] == [first.body["order_id"]]


async def test_a_failed_commit_keeps_nothing(store: OrderStore) -> None:
    claim = await claimed(store)

    def broken(order: Mapping[str, Any], positions: Sequence[Position]) -> list[FollowUp]:
        raise RuntimeError("the follow-ups could not be built")

    with pytest.raises(RuntimeError):
        await store.place(market(strategy_id=42), PREFIX, claim, broken)
    assert await store.page("ZX1234", None, 10, None) == ([], None)
    assert await store.positions("ZX1234") == []
    with pytest.raises(KeyInProgress):  # still only claimed: the retry waits for the claim, then places
        await store.claim("ZX1234", "key-00000001", "a")


async def test_a_fill_commits_its_position_and_follow_ups_with_the_order(store: OrderStore) -> None:
    resting = await store.place(limit(strategy_id=42), PREFIX, None, pnl_follow_up)
    assert await store.outbox_counts() == {}  # not filled: nothing to sync
    filled = (await store.place(market(strategy_id=42), PREFIX, None, pnl_follow_up)).body
    assert await store.positions("ZX1234") == [Position("INFY", "NSE", "MIS", bought=10, buy_value=Decimal("15321.0"))]
    assert await store.outbox_counts() == {"strategy-service": {"pending": 1, "dead": 0}}
    async with store.outbox_batch(10) as batch:
        (entry,) = batch.entries
    assert entry.order_id == filled["order_id"]
    assert entry.follow_up.body == {"bought": 10}  # the positions as of this fill
    changed = await store.change(
        "ZX1234",
        resting.body["order_id"],
        lambda o: book.modified(BROKER, o, ModifyOrderRequest(order_type="MARKET"), AT),
        pnl_follow_up,
    )
    assert changed["status"] == "COMPLETE"  # a change that fills syncs too
    assert await store.outbox_counts() == {"strategy-service": {"pending": 2, "dead": 0}}


async def test_the_outbox_gives_one_entry_per_partition_in_order_and_keeps_verdicts(store: OrderStore) -> None:
    for strategy in (1, 1, 2):
        await store.place(market(strategy_id=strategy), PREFIX, None, pnl_follow_up)
    async with store.outbox_batch(10) as batch:
        heads = batch.entries
        assert [e.follow_up.partition for e in heads] == ["strategy:1", "strategy:2"]
        await batch.delivered(heads[0])
        await batch.dead(heads[1], "refused: 409 stale")
    async with store.outbox_batch(10) as batch:
        (second,) = batch.entries  # strategy 1's next one, now at the head
        assert second.follow_up.partition == "strategy:1"
        assert second.id > heads[0].id
        await batch.retry(second, "503", delay=60)
    async with store.outbox_batch(10) as batch:
        assert batch.entries == []  # not due for a minute
    assert await store.outbox_counts() == {"strategy-service": {"pending": 1, "dead": 1}}


async def test_concurrent_cancels_of_one_order_cancel_it_once(store: OrderStore) -> None:
    placed = (await store.place(limit(), PREFIX, None, None)).body

    async def cancel() -> str:
        try:
            await store.change("ZX1234", placed["order_id"], lambda o: book.cancelled(o, "risk_manager", AT), None)
            return "cancelled"
        except OrderFinal:
            return "final"

    assert sorted(await asyncio.gather(cancel(), cancel(), cancel())) == ["cancelled", "final", "final"]


async def test_pages_run_newest_first_with_a_cursor(store: OrderStore) -> None:
    ids = [(await store.place(limit(), PREFIX, None, None)).body["order_id"] for _ in range(5)]
    first, cursor = await store.page("ZX1234", None, 2, None)
    second, cursor2 = await store.page("ZX1234", None, 2, cursor)
    last, end = await store.page("ZX1234", None, 2, cursor2)
    assert [o["order_id"] for o in first + second + last] == ids[::-1]
    assert end is None
    assert await store.page("ZX1234", "COMPLETE", 10, None) == ([], None)


async def test_the_entries_not_delivered_are_listed_oldest_first_with_their_state(store: OrderStore) -> None:
    placed = [(await store.place(market(strategy_id=s), PREFIX, None, pnl_follow_up)).body for s in (1, 2, 3)]
    async with store.outbox_batch(10) as batch:
        first, second, third = batch.entries
        await batch.delivered(first)
        await batch.dead(second, "refused: 409 stale")
        await batch.retry(third, "answered 503", delay=60)
    listed = await store.outbox_entries(None, 10)
    assert [(e["order_id"], e["state"], e["attempts"], e["last_error"]) for e in listed] == [
        (placed[1]["order_id"], "dead", 1, "refused: 409 stale"),  # every try counts, the last included
        (placed[2]["order_id"], "pending", 1, "answered 503"),
    ]
    assert [e["state"] for e in await store.outbox_entries("dead", 10)] == ["dead"]
    assert len(await store.outbox_entries(None, 1)) == 1
