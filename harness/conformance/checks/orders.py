"""Rate limits, idempotency and the anomaly rules at their boundaries (DESIGN.md, the seed's AnomalyType)."""

from __future__ import annotations

import concurrent.futures
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from datetime import time as day_time

from harness.conformance.kit import check
from harness.conformance.outcomes import Failed, NotChecked
from harness.conformance.target import Target, anomaly_types, expect

PER_ACCOUNT = 10  # order requests per account per second


@check("rate-limits.eleventh-order", "the 11th order of one account within a second is 429 with a Retry-After")
def _eleventh_order(target: Target) -> None:
    account = target.fresh_account()
    target.next_second()  # a window begins: the eleven go inside it
    answers = [target.place(account, key=uuid.uuid4().hex, paced=False) for _ in range(PER_ACCOUNT + 1)]
    for n, answer in enumerate(answers[:PER_ACCOUNT], start=1):
        expect(answer, 201, f"order {n} of {PER_ACCOUNT} in one second")
    last = answers[-1]
    expect(last, 429, f"order {PER_ACCOUNT + 1} in one second")
    retry = last.response.headers.get("retry-after", "")
    if not retry.isdigit() or int(retry) < 1:
        raise Failed(f"the 429 has Retry-After {retry!r}, not whole seconds of at least 1", last.shown())


@check("idempotency.same-answer", "a request repeated with its Idempotency-Key gets the first answer: one order")
def _same_answer(target: Target) -> None:
    account, key = target.fresh_account(), uuid.uuid4().hex
    first = target.place(account, key=key)
    expect(first, 201, "the first request")
    again = target.place(account, key=key)
    expect(again, 201, "the same request under the same key")
    if again.json().get("order_id") != first.json().get("order_id"):
        raise Failed("the repeat placed another order", again.shown())
    listed = target.signed("user_interface", "GET", "/orders", account=account)
    orders = listed.json().get("items")
    if not isinstance(orders, list) or len(orders) != 1:
        raise Failed(f"{len(orders)} orders for one key", listed.shown())


@check("idempotency.other-body", "the same Idempotency-Key with a different body is 422")
def _other_body(target: Target) -> None:
    account, key = target.fresh_account(), uuid.uuid4().hex
    expect(target.place(account, key=key), 201, "the first request")
    expect(target.place(account, key=key, quantity=2), 422, "another body under the same key")


@check("idempotency.in-flight", "a request under a key whose first request is still running is 409")
def _in_flight(target: Target) -> None:
    strategy = target.mocks.get("strategy-service")
    if strategy is None:
        raise NotChecked("needs a slow first request: give the mocks the service runs against (--mocks)")
    faults = f"{strategy}/__admin/faults"
    slow = {"kind": "latency", "delay_ms": 1500, "operation_id": "validateStrategy"}
    fault = target.http.post(faults, json=slow).json()["id"]
    account, key = target.fresh_account(), uuid.uuid4().hex
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            first = pool.submit(target.place, account, key=key, strategy_id=42, paced=False)
            time.sleep(0.5)
            second = target.place(account, key=key, strategy_id=42, paced=False)
            first.result()
    finally:
        target.http.delete(f"{faults}/{fault}")
    expect(second, 409, "the same key while the first request waits on the strategy service")


def _types_of(target: Target, account: str, **changes: object) -> set[str]:
    return anomaly_types(target.placed(account, **changes))


def _boundary(target: Target, rule: str, inside: dict[str, object], beyond: dict[str, object]) -> None:
    before = target.metric("order_service_order_anomalies_total", type=rule)
    at_limit = _types_of(target, target.fresh_account(), **inside)
    if rule in at_limit:
        raise Failed(f"{rule} raised at the limit itself ({inside}); the rule is 'more than'")
    over = _types_of(target, target.fresh_account(), **beyond)
    if rule not in over:
        raise Failed(f"{rule} not raised just over the limit ({beyond}); the order's anomalies: {sorted(over)}")
    _counted(target, rule, before)


def _counted(target: Target, rule: str, before: float) -> None:
    """Failed unless order_service_order_anomalies_total{type=rule} grew from `before`."""
    after = target.metric("order_service_order_anomalies_total", type=rule)
    if after - before < 1:
        raise Failed(f"order_service_order_anomalies_total{{type={rule!r}}} went from {before} to {after}")


@check("anomalies.large-quantity", "LARGE_ORDER_SIZE above 50,000 quantity: 50,000 is not, 50,001 is")
def _large_quantity(target: Target) -> None:
    _boundary(target, "large_order_size", {"quantity": 50_000, "price": "1"}, {"quantity": 50_001, "price": "1"})


@check("anomalies.large-value", "LARGE_ORDER_SIZE above 10 lakh value: 1,000,000 INR is not, 1,000,000.05 is")
def _large_value(target: Target) -> None:
    _boundary(target, "large_order_size", {"price": "1000000"}, {"price": "1000000.05"})


def _past_the_limit(
    target: Target, rule: str, limit: int, each: str, changes: Callable[[int], dict[str, object]]
) -> None:
    """Orders 1..limit+1 of one account (the nth with `changes(n)`): `rule` only at the last, and counted."""
    account = target.fresh_account()
    before = target.metric("order_service_order_anomalies_total", type=rule)
    for n in range(1, limit + 2):
        if n % PER_ACCOUNT == 0:
            target.next_second()  # under the per-account rate limit
        types = _types_of(target, account, **changes(n))
        if n <= limit and rule in types:
            raise Failed(f"{rule} raised at {each.format(n)}")
    if rule not in types:
        raise Failed(f"{rule} not raised at {each.format(limit + 1)}: {sorted(types)}")
    _counted(target, rule, before)


@check("anomalies.high-frequency", "HIGH_FREQUENCY_ORDERS above 30 orders a minute: the 30th is not, the 31st is")
def _high_frequency(target: Target) -> None:
    _past_the_limit(target, "high_frequency_orders", 30, "order {} of the minute", lambda n: {})


@check("anomalies.unusual-symbols", "UNUSUAL_SYMBOLS above 15 symbols a day: the 15th symbol is not, the 16th is")
def _unusual_symbols(target: Target) -> None:
    _past_the_limit(
        target, "unusual_symbols", 15, "symbol {} of the day", lambda n: {"tradingsymbol": f"KITSYM{n:02d}"}
    )


@check("anomalies.ist-day", "UNUSUAL_SYMBOLS counts symbols per IST day: the count starts again at IST midnight")
def _ist_day(target: Target) -> None:
    raise NotChecked(
        "needs control of the service's clock (its day ends when it ends): the kit sees the clock, it cannot move it"
    )


@check(
    "anomalies.off-hours",
    "OFF_HOURS_ACTIVITY outside 09:00-15:30 IST on the service's own clock (the order's placed_at)",
)
def _off_hours(target: Target) -> None:
    order = target.placed(target.fresh_account())
    at = datetime.fromisoformat(order["placed_at"])
    if at.utcoffset() is None or at.utcoffset().total_seconds() != 19_800:  # type: ignore[union-attr]
        raise Failed(f"placed_at {order['placed_at']} is not IST (+05:30)")
    in_session = at.weekday() < 5 and day_time(9, 0) <= at.time() <= day_time(15, 30)
    flagged = "off_hours_activity" in anomaly_types(order)
    if not in_session and not flagged:
        raise Failed(f"placed at {order['placed_at']}, outside the session, without off_hours_activity")
    if in_session and flagged:
        # inside the hours of a weekday: only an exchange holiday makes it off hours
        raise NotChecked(f"placed at {order['placed_at']} and flagged: a holiday? (the kit has no calendar)")


@check("anomalies.rapid-cancellations", "RAPID_CANCELLATIONS above 20 cancellations a minute: counted at the 21st")
def _rapid_cancellations(target: Target) -> None:
    account = target.fresh_account()
    orders = []
    for n in range(21):
        if n and n % PER_ACCOUNT == 0:
            target.next_second()
        orders.append(target.placed(account)["order_id"])
    before = target.metric("order_service_order_anomalies_total", type="rapid_cancellations")
    for n, order_id in enumerate(orders, start=1):
        expect(target.signed("algo_engine", "DELETE", f"/orders/{order_id}", account=account), 200, f"cancel {n}")
        if n == 20 and target.metric("order_service_order_anomalies_total", type="rapid_cancellations") > before:
            raise Failed("rapid_cancellations counted at the 20th cancellation of the minute")
    after = target.metric("order_service_order_anomalies_total", type="rapid_cancellations")
    if after - before < 1:
        raise Failed("rapid_cancellations not counted at the 21st cancellation of the minute")
