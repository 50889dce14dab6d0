"""The crash tier's checker: the histories and the stores against the promises, after healing.

It trusts nothing the order service says about itself beyond its answers: it reads what the
clients saw (the history), what the nemesis did (the fault log), what the order service's
database holds and what the owner applied (the owner mock's ledger), and reports every
violation of:

- `ack_lost`: an order acknowledged (2xx) is not in the database;
- `id_changed`: the key of an acknowledged order now names another order;
- `id_reused`: the id of an acknowledged order now holds an order sent under another key;
- `key_lost`: an order is stored whose key does not name it (a retry would place it again);
- `key_named_two_orders`: two answers under one key named different orders;
- `duplicate_order`: the database holds two orders sent under one key (the order's tag);
- `phantom_order`: the database holds an order no client sent;
- `follow_up_missing` / `follow_up_twice`: a filled order's P&L sync did not reach its
  owner, or reached it more than once; `follow_up_unknown`: the owner applied a sync no
  committed order asked for; `follow_up_stuck`: an outbox entry not delivered after healing;
- `replay_accepted`: a re-sent signed request was answered 2xx;
- `wrong_order_touched`: a cancel or modify answered for another order, or an order is
  cancelled that no client asked to cancel;
- `accepted_without_redis`: a call answered 2xx while Redis could not answer for its whole span;
- `ack_followed_owner`: an order's answer took as long as an owner's injected latency;
- `internal_error`: the service answered 500.

"Unknown" outcomes are resolved against the database: the report counts how many of them
placed their order and how many did not.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.chaos.history import Call, FaultRecord

# Faults during which Redis cannot answer the order service (its process is gone, paused or cut off).
REDIS_AWAY = frozenset(
    {"redis-restart-empty", "redis-restart-aof", "redis-pause", "stall-redis", "cut-redis", "partition-redis"}
)
OWNER_SLOW = "owner-latency"
SYNC_OPERATION = "syncStrategyPnl"


@dataclass(frozen=True)
class Violation:
    """One broken promise, with what shows it."""

    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.detail}"


@dataclass
class Stores:
    """What the stores hold after healing.

    orders: order id -> the order's row (`account`, `status`, `strategy_id`, `tag`, `filled_quantity`);
    keys: Idempotency-Key -> the order it names (None: claimed, nothing placed);
    outbox: the outbox's entries (`key`, `state`, `order_id`);
    applied: the owner's applied writes, (operation id, Idempotency-Key), in order.
    """

    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: dict[str, str | None] = field(default_factory=dict)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    applied: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Verdict:
    """The checker's findings: the violations, and how the unknown outcomes resolved."""

    violations: list[Violation]
    unknown_applied: int
    unknown_not_applied: int

    @property
    def ok(self) -> bool:
        """No violation."""
        return not self.violations


def check(calls: Iterable[Call], faults: Iterable[FaultRecord], stores: Stores) -> Verdict:
    """Every violation the history, the fault log and the stores show."""
    calls = list(calls)
    faults = list(faults)
    found: list[Violation] = []
    found += _orders(calls, stores)
    found += _follow_ups(stores)
    found += _replays(calls)
    found += _touches(calls, stores)
    found += _redis_away(calls, faults)
    found += _owner_latency(calls, faults)
    found += [
        Violation("internal_error", f"client {c.client} {c.kind} {c.order_id or c.key} answered 500 by {c.replica}")
        for c in calls
        if c.status == 500
    ]
    applied, not_applied = _unknowns(calls, stores)
    return Verdict(found, applied, not_applied)


def _orders(calls: list[Call], stores: Stores) -> list[Violation]:
    found = []
    places = [c for c in calls if c.kind == "place" and c.key]
    answered: dict[str, set[str]] = defaultdict(set)
    for call in places:
        if call.outcome == "ok" and call.answered_id:
            answered[call.key or ""].add(call.answered_id)
    for key, ids in sorted(answered.items()):
        if len(ids) > 1:
            found.append(Violation("key_named_two_orders", f"key {key} was answered with orders {sorted(ids)}"))
        for order_id in sorted(ids):
            if order_id not in stores.orders:
                found.append(Violation("ack_lost", f"order {order_id} (key {key}) was acknowledged, is not stored"))
            elif stores.orders[order_id].get("tag") != key:
                holds = stores.orders[order_id].get("tag")
                found.append(
                    Violation("id_reused", f"order {order_id}, acknowledged for key {key}, now holds {holds}'s")
                )
            elif key in stores.keys and stores.keys[key] != order_id:
                found.append(
                    Violation("id_changed", f"key {key} was answered {order_id}, now names {stores.keys[key]}")
                )
    sent = {c.key for c in places}
    by_tag = Counter(row.get("tag") for row in stores.orders.values())
    for tag, count in sorted(by_tag.items(), key=lambda item: str(item[0])):
        if count > 1:
            found.append(Violation("duplicate_order", f"{count} orders were placed under key {tag}"))
    for order_id, row in sorted(stores.orders.items()):
        tag = row.get("tag")
        if tag not in sent:
            found.append(Violation("phantom_order", f"order {order_id} (tag {tag}) was sent by no client"))
        elif by_tag[tag] == 1 and stores.keys.get(str(tag)) != order_id:
            found.append(Violation("key_lost", f"order {order_id} was placed under key {tag}, which does not name it"))
    return found


def expected_sync_key(order_id: str, filled_quantity: int) -> str:
    """The Idempotency-Key of the P&L sync the fill of an order commits (the order service's scheme)."""
    return f"sync-pnl-{order_id}-{filled_quantity}"


def _follow_ups(stores: Stores) -> list[Violation]:
    found = []
    applied = Counter(key for operation, key in stores.applied if operation == SYNC_OPERATION)
    committed = {entry["key"] for entry in stores.outbox}
    for order_id, row in sorted(stores.orders.items()):
        if row.get("strategy_id") is None or not row.get("filled_quantity"):
            continue
        key = expected_sync_key(order_id, int(row["filled_quantity"]))
        if applied[key] == 0:
            found.append(Violation("follow_up_missing", f"the P&L sync {key} of filled order {order_id} never arrived"))
    for key, count in sorted(applied.items()):
        if count > 1:
            found.append(Violation("follow_up_twice", f"the owner applied {key} {count} times"))
        if key not in committed:
            found.append(Violation("follow_up_unknown", f"the owner applied {key}, which no committed order asked for"))
    for entry in stores.outbox:
        if entry["state"] != "delivered":
            found.append(Violation("follow_up_stuck", f"outbox entry {entry['key']} is {entry['state']} after healing"))
    return found


def _replays(calls: list[Call]) -> list[Violation]:
    return [
        Violation("replay_accepted", f"client {c.client} re-sent the signed request of key {c.replay_of}: {c.status}")
        for c in calls
        if c.kind == "replay" and c.outcome == "ok"
    ]


def _touches(calls: list[Call], stores: Stores) -> list[Violation]:
    found = []
    for call in calls:
        if call.kind in ("cancel", "modify") and call.outcome == "ok" and call.answered_id != call.order_id:
            found.append(
                Violation("wrong_order_touched", f"{call.kind} of {call.order_id} answered for {call.answered_id}")
            )
    asked = {c.order_id for c in calls if c.kind == "cancel"}
    for order_id, row in sorted(stores.orders.items()):
        if row.get("status") == "CANCELLED" and order_id not in asked:
            found.append(Violation("wrong_order_touched", f"order {order_id} is cancelled; no client asked"))
    return found


def _inside(call: Call, fault: FaultRecord) -> bool:
    return fault.start <= call.start and call.end <= fault.end


def _redis_away(calls: list[Call], faults: list[FaultRecord]) -> list[Violation]:
    away = [f for f in faults if f.kind in REDIS_AWAY]
    return [
        Violation(
            "accepted_without_redis",
            f"client {c.client} {c.kind} {c.key or c.order_id} answered {c.status} inside {f.kind} "
            f"({f.start:.3f}-{f.end:.3f})",
        )
        for c in calls
        if c.outcome == "ok"
        for f in away
        if _inside(c, f)
    ]


def _owner_latency(calls: list[Call], faults: list[FaultRecord]) -> list[Violation]:
    found = []
    for fault in faults:
        if fault.kind != OWNER_SLOW:
            continue
        delay = float(fault.detail["delay_s"])
        for call in calls:
            starts_inside = fault.start <= call.start <= fault.end
            if call.kind == "place" and call.outcome == "ok" and starts_inside and call.latency >= delay:
                found.append(
                    Violation(
                        "ack_followed_owner",
                        f"order {call.answered_id} took {call.latency:.2f} s while the owner was {delay:.1f} s slow",
                    )
                )
    return found


def _unknowns(calls: list[Call], stores: Stores) -> tuple[int, int]:
    """Keys whose every place call ended unknown or refused, but one unknown: did the order get placed?"""
    by_key: dict[str, list[Call]] = defaultdict(list)
    for call in calls:
        if call.kind == "place" and call.key:
            by_key[call.key].append(call)
    applied = not_applied = 0
    for key, attempts in by_key.items():
        if any(c.outcome == "ok" for c in attempts) or not any(c.outcome == "unknown" for c in attempts):
            continue
        if stores.keys.get(key) is not None:
            applied += 1
        else:
            not_applied += 1
    return applied, not_applied
