"""The breaker's and the retry policy's boundaries, one rule a test (found by `make mutate`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from order_service.clients.breaker import BreakerBoard, CircuitBreaker
from order_service.clients.retry import RetryPolicy, parse_retry_after
from order_service.settings import BreakerSettings, RetrySettings
from suites.fixtures.clients import FakeTime

OPENED = datetime(2026, 11, 26, 4, 45, 30, 123456, tzinfo=UTC)


def breaker(fake_time: FakeTime, **settings: float) -> CircuitBreaker:
    return CircuitBreaker("strategy-service", BreakerSettings(**settings), clock=fake_time, wall=lambda: OPENED)


def open_it(subject: CircuitBreaker, failures: int) -> None:
    for _ in range(failures):
        subject.record_failure()


def test_the_breaker_opens_at_the_threshold_not_before(fake_time: FakeTime) -> None:
    subject = breaker(fake_time, failure_threshold=4)
    open_it(subject, 3)
    assert (subject.state, subject.allow(), subject.consecutive_failures) == ("closed", True, 3)
    subject.record_failure()
    assert (subject.state, subject.allow()) == ("open", False)


def test_a_success_forgets_earlier_failures(fake_time: FakeTime) -> None:
    subject = breaker(fake_time, failure_threshold=2)
    subject.record_failure()
    subject.record_success()
    subject.record_failure()
    assert (subject.state, subject.consecutive_failures) == ("closed", 1)


def test_open_lasts_exactly_the_reset_timeout(fake_time: FakeTime) -> None:
    subject = breaker(fake_time, failure_threshold=1, reset_timeout=10)
    opened = fake_time.now
    subject.record_failure()
    fake_time.now = opened + 9.999
    before = subject.state
    fake_time.now = opened + 10
    assert (before, subject.state) == ("open", "half_open")


def test_half_open_lets_exactly_its_trial_calls_through(fake_time: FakeTime) -> None:
    subject = breaker(fake_time, failure_threshold=1, reset_timeout=5, half_open_max_calls=2)
    subject.record_failure()
    fake_time.now += 5
    assert [subject.allow() for _ in range(3)] == [True, True, False]


def test_a_failed_trial_reopens_with_fresh_trials_for_the_next_half_open(fake_time: FakeTime) -> None:
    subject = breaker(fake_time, failure_threshold=1, reset_timeout=5, half_open_max_calls=2)
    subject.record_failure()
    fake_time.now += 5
    assert subject.allow()
    subject.record_failure()
    assert subject.state == "open"
    fake_time.now += 5
    assert [subject.allow() for _ in range(3)] == [True, True, False]


def test_a_success_after_half_open_gives_the_next_outage_fresh_trials(fake_time: FakeTime) -> None:
    subject = breaker(fake_time, failure_threshold=1, reset_timeout=5, half_open_max_calls=1)
    subject.record_failure()
    fake_time.now += 5
    assert subject.allow()
    subject.record_success()
    subject.record_failure()
    fake_time.now += 5
    assert subject.allow()


def test_the_snapshot_says_when_it_opened_in_whole_seconds(fake_time: FakeTime) -> None:
    subject = breaker(fake_time, failure_threshold=2)
    open_it(subject, 2)
    assert subject.snapshot() == {"state": "open", "consecutive_failures": 2, "opened_at": "2026-11-26T04:45:30+00:00"}
    subject.record_success()
    assert subject.snapshot() == {"state": "closed", "consecutive_failures": 0, "opened_at": None}


def test_the_board_shares_one_breaker_per_service_on_its_clock(fake_time: FakeTime) -> None:
    board = BreakerBoard(BreakerSettings(failure_threshold=1, reset_timeout=10), clock=fake_time)
    board.get("strategy-service").record_failure()
    assert board.get("strategy-service").state == "open"
    assert board.get("account-service").state == "closed"
    assert board.get("strategy-service").name == "strategy-service"
    fake_time.now += 10
    assert board.get("strategy-service").state == "half_open"  # the board's clock, not the wall's
    assert list(board.snapshot()) == ["account-service", "strategy-service"]
    assert board.snapshot()["strategy-service"]["consecutive_failures"] == 1


def policy(**settings: float) -> RetryPolicy:
    return RetryPolicy(RetrySettings(**settings), rand=lambda: 0.5)


def test_retry_after_is_taken_as_given_within_the_cap() -> None:
    subject = policy(retry_after_cap=5.0)
    assert [subject.delay(1, given) for given in (0.0, 2.5, 5.0, 5.5, -3.0)] == [0.0, 2.5, 5.0, 5.0, 0.0]
    assert isinstance(subject.delay(1, 2), float)


def test_backoff_doubles_from_the_base_and_jitters_below_its_ceiling() -> None:
    subject = policy(backoff_base=0.2, backoff_max=10.0)
    assert [subject.delay(n, None) for n in (1, 2, 3, 4)] == [0.1, 0.2, 0.4, 0.8]


def test_may_retry_counts_the_first_try() -> None:
    subject = policy(max_attempts=3)
    assert [subject.may_retry(n) for n in (1, 2, 3, 4)] == [True, True, False, False]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(" 12 ", 12.0), ("0", 0.0), ("", None), ("-5", None), ("1.5", None)],
)
def test_retry_after_in_seconds_or_none(value: str, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds


def test_retry_after_dates_count_from_now_and_never_go_negative() -> None:
    now = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)

    def http_date(delta: float, zone: str = "GMT") -> str:
        return (now + timedelta(seconds=delta)).strftime(f"%a, %d %b %Y %H:%M:%S {zone}")

    assert parse_retry_after(http_date(45), now=lambda: now) == 45.0
    assert parse_retry_after(http_date(-45), now=lambda: now) == 0.0
    assert parse_retry_after(http_date(20, "-0000"), now=lambda: now) == 20.0  # no zone given: read as UTC
    assert parse_retry_after(http_date(0), now=lambda: now) == 0.0
