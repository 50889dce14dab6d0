"""The mocks' clock: real time by default, settable so expiry can be tested without sleeping."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

IST = timezone(timedelta(hours=5, minutes=30), "IST")
# The instants the mock clock may show: every mock computes dates and sessions from it, and
# far outside this range (year 1 or 9999) that arithmetic overflows.
EARLIEST = datetime(2000, 1, 1, tzinfo=IST)
LATEST = datetime(2100, 1, 1, tzinfo=IST)


class MockClock:
    """IST wall-clock time, with an offset or a frozen instant set through the admin surface."""

    def __init__(self) -> None:
        self._frozen: datetime | None = None
        self._offset = timedelta()

    def now(self) -> datetime:
        """The mock's current time, in IST."""
        if self._frozen is not None:
            return self._frozen
        return datetime.now(IST) + self._offset

    def freeze(self, at: datetime) -> None:
        """Stop the clock at `at`; ValueError when it has no offset or is outside 2000-2099."""
        if at.tzinfo is None:
            raise ValueError("a frozen time needs a UTC offset")
        self._frozen = _in_range(at.astimezone(IST))

    def advance(self, seconds: float) -> None:
        """Move the clock; ValueError when that would leave 2000-2099 (nothing changes then)."""
        try:
            step = timedelta(seconds=seconds)
            moved = self.now() + step
        except (OverflowError, ValueError) as exc:  # infinity, nan, past datetime's range
            raise ValueError(f"cannot advance the clock by {seconds} s") from exc
        _in_range(moved)
        if self._frozen is not None:
            self._frozen = moved
        else:
            self._offset += step

    def reset(self) -> None:
        """Follow the wall clock again."""
        self._frozen = None
        self._offset = timedelta()

    def describe(self) -> dict[str, object]:
        """The clock as `GET /__admin/clock` shows it."""
        return {
            "now": iso(self.now()),
            "frozen": self._frozen is not None,
            "offset_seconds": self._offset.total_seconds(),
        }


def _in_range(moment: datetime) -> datetime:
    if not EARLIEST <= moment < LATEST:
        raise ValueError(f"the mock clock shows {EARLIEST:%Y}-{LATEST.year - 1} only; {moment.isoformat()} is outside")
    return moment


def iso(moment: datetime) -> str:
    """RFC 3339 in IST with whole seconds, as the contracts write timestamps."""
    return moment.astimezone(IST).replace(microsecond=0).isoformat()
