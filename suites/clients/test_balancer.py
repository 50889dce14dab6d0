"""The balancer's rules on a hand-driven clock: shares, least outstanding, outliers, probation, refresh."""

from __future__ import annotations

from collections import Counter

import pytest

from harness.servers import InProcessMocks
from order_service.clients.balancer import Balancer
from order_service.settings import LoadBalancingSettings

A, B, C = "http://a", "http://b", "http://c"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def balancer(clock: Clock, **settings: object) -> Balancer:
    chosen = LoadBalancingSettings(consecutive_failures=2, slow_seconds=1.0, ejection_seconds=5, **settings)
    made = Balancer("strategy-service", chosen, clock=clock)
    made.update([(A, 1), (B, 1), (C, 1)])
    return made


def serve(b: Balancer, calls: int, fail: frozenset[str] = frozenset(), seconds: float = 0.01) -> Counter[str]:
    """`calls` calls one after another; the instances in `fail` answer 5xx."""
    seen: Counter[str] = Counter()
    for _ in range(calls):
        instance = b.pick()
        seen[instance.url] += 1
        b.done(instance, ok=instance.url not in fail, seconds=seconds)
    return seen


def test_weights_give_shares_and_turns_are_spread() -> None:
    b = balancer(Clock())
    b.update([(A, 1), (B, 2), (C, 1)])
    order = []
    for _ in range(8):  # one after another: nothing in flight, so the weights decide
        instance = b.pick()
        order.append(instance.url)
        b.done(instance, ok=True, seconds=0.01)
    assert Counter(order) == {A: 2, B: 4, C: 2}
    b.update([(A, 1), (B, 1), (C, 3)])
    spread = []
    for _ in range(10):
        instance = b.pick()
        spread.append(instance.url)
        b.done(instance, ok=True, seconds=0.01)
    assert Counter(spread) == {A: 2, B: 2, C: 6}
    # smooth: C's three turns of five are spread out (A B C C C would be three in a row)
    assert all(spread[n : n + 3] != [C, C, C] for n in range(len(spread) - 2))


def test_the_instance_with_fewest_in_flight_is_chosen_and_a_retry_avoids_the_failed_one() -> None:
    b = balancer(Clock())
    first, second = b.pick(), b.pick()  # both still in flight
    third = b.pick()
    assert len({first.url, second.url, third.url}) == 3
    b.done(first, ok=True, seconds=0.01)
    assert b.pick().url == first.url  # the only one with nothing in flight
    assert b.pick(avoid={first.url, second.url}).url == third.url


def test_failures_in_a_row_eject_and_the_ejection_doubles_until_recovery() -> None:
    clock = Clock()
    b = balancer(clock)
    seen = serve(b, 30, fail=frozenset({B}))
    assert seen[B] == 2  # two failures in a row, then out
    assert {i.url: i.state(clock.now) for i in b.instances}[B] == "ejected"
    clock.now += 5.0  # the first ejection is over: probation
    probe = b.pick(avoid={A, C})
    assert probe.url == B
    assert b.pick(avoid={A, C}).url != B  # one probe at a time
    b.done(probe, ok=False, seconds=0.01)  # the probe fails: out again, for twice as long
    clock.now += 5.0
    assert all(b.pick(avoid={A, C}).url != B for _ in range(3))
    clock.now += 5.0
    probe = b.pick(avoid={A, C})
    b.done(probe, ok=True, seconds=0.01)
    assert {i.url: i.state(clock.now) for i in b.instances}[B] == "in_service"


def test_slow_answers_count_as_failures() -> None:
    clock = Clock()
    b = balancer(clock)
    for _ in range(6):
        instance = b.pick()
        b.done(instance, ok=True, seconds=2.0 if instance.url == C else 0.01)
    assert {i.url: i.state(clock.now) for i in b.instances}[C] == "ejected"


def test_the_last_instance_in_service_is_never_ejected_and_all_out_still_answers() -> None:
    clock = Clock()
    b = balancer(clock)
    serve(b, 60, fail=frozenset({A, B, C}))  # every answer fails
    states = [i.state(clock.now) for i in b.instances]
    assert states.count("in_service") == 1
    assert b.pick() is not None


def test_without_outlier_detection_nothing_is_ejected() -> None:
    clock = Clock()
    b = balancer(clock, outlier_detection=False)
    seen = serve(b, 30, fail=frozenset({B}))
    assert seen[B] == 10


def test_a_new_set_keeps_known_instances_state_and_drops_the_rest() -> None:
    clock = Clock()
    b = balancer(clock)
    serve(b, 30, fail=frozenset({B}))
    b.update([(B, 1), ("http://d", 3)])
    assert [(i.url, i.weight, i.state(clock.now)) for i in b.instances] == [
        (B, 1, "ejected"),
        ("http://d", 3, "in_service"),
    ]
    with pytest.raises(LookupError):
        Balancer("x", LoadBalancingSettings()).pick()


@pytest.mark.anyio
async def test_the_config_mock_names_several_instances_and_refuses_bad_ones(mocks: InProcessMocks) -> None:
    async with mocks.client("config-service") as config:
        seeded = await config.post(
            "/__admin/seed", json={"services": {"strategy-service": [A + ":8101", {"base_url": B, "weight": 3}]}}
        )
        endpoint = (await config.get("/services/strategy-service")).json()
        bad = await config.post("/__admin/seed", json={"services": {"x-service": [A], "strategy-service": ["ftp://x"]}})
        weightless = await config.post(
            "/__admin/seed", json={"services": {"strategy-service": [{"base_url": A, "weight": 0}]}}
        )
        missing = await config.get("/services/x-service")
    assert seeded.status_code == 200
    assert endpoint["base_url"] == A + ":8101"
    assert endpoint["instances"] == [{"base_url": A + ":8101", "weight": 1}, {"base_url": B, "weight": 3}]
    assert bad.status_code == weightless.status_code == 422
    assert missing.status_code == 404  # the refused seed changed nothing
