"""Last known good answers of reads, served (marked stale) while their owner is away."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Remembered(Generic[T]):
    value: T
    at: float  # monotonic, for the age
    at_wall: datetime  # for the caller: when the owner last said so


class StaleCache:
    """A bounded LRU of the last successful answer per (service, operation, arguments)."""

    def __init__(self, *, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: OrderedDict[Hashable, Remembered[object]] = OrderedDict()
        self._max = max_entries
        self._clock = clock

    def put(self, key: Hashable, value: object) -> None:
        self._entries[key] = Remembered(value, self._clock(), datetime.now(UTC))
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def get(self, key: Hashable, max_age: float) -> Remembered[object] | None:
        found = self._entries.get(key)
        if found is None or self._clock() - found.at > max_age:
            return None
        return found
