"""The mocks' clock: real time by default, settable so expiry can be tested without sleeping."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

IST = timezone(timedelta(hours=5, minutes=30), "IST")


class MockClock:
    """IST wall-clock time, with an offset or a frozen instant set through the admin surface."""

    def __init__(self) -> None:
        self._frozen: datetime | None = None
        self._offset = timedelta()

    def now(self) -> datetime:
        if self._frozen is not None:
            return self._frozen
        return datetime.now(IST) + self._offset

    def freeze(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("a frozen time needs a UTC offset")
        self._frozen = at.astimezone(IST)

    def advance(self, seconds: float) -> None:
        if self._frozen is not None:
            self._frozen += timedelta(seconds=seconds)
        else:
            self._offset += timedelta(seconds=seconds)

    def reset(self) -> None:
        self._frozen = None
        self._offset = timedelta()

    def describe(self) -> dict[str, object]:
        return {
            "now": iso(self.now()),
            "frozen": self._frozen is not None,
            "offset_seconds": self._offset.total_seconds(),
        }


def iso(moment: datetime) -> str:
    """RFC 3339 in IST with whole seconds, as the contracts write timestamps."""
    return moment.astimezone(IST).replace(microsecond=0).isoformat()
