"""Redis usage analytics: per pattern, the TTLs, the largest keys, memory shares, growth over time, leaks.

The usage monitor's scan steps return each key with its size and its PTTL; an `Accumulator`
folds them into per-pattern figures in the same pass that counts keys and bytes:
- the TTL distribution (`TTL_BUCKETS`: no TTL, under a minute, an hour, a day, longer);
- the keys without a TTL in patterns that should expire (`expiring_patterns`; keys named in
  `ttl_exempt`, such as the replay store's epoch, live for ever on purpose): a leak, flagged
  with a few of their names;
- the largest keys, per pattern and overall (a bounded heap: a key smaller than the heap's
  smallest costs one comparison);
- the share of the keys' memory each pattern holds.
`History` keeps the last scans' totals, so each pattern has a growth rate (keys and bytes
per hour) between the oldest and the newest kept scan. A sampled scan scales counts like
the monitor does; its largest keys are the largest of the keys it drew (said in the report).
"""

from __future__ import annotations

import bisect
import heapq
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

MB = 1024 * 1024
# (name, upper edge in ms); PTTL -1 (no expiry) is "none"
TTL_BUCKETS = ("none", "under_1m", "under_1h", "under_1d", "1d_or_more")
_TTL_EDGES = (60_000, 3_600_000, 86_400_000)
EXAMPLES = 5  # names of keys without a TTL kept per leaking pattern


class Classifier(Protocol):
    """What names a key's pattern (`redis_usage_monitor.PatternClassifier`)."""

    def pattern_of(self, key: bytes) -> str: ...


def ttl_bucket(pttl_ms: int) -> int:
    """The index in `TTL_BUCKETS` of a key with this PTTL (-1: none)."""
    return 0 if pttl_ms < 0 else bisect.bisect_right(_TTL_EDGES, pttl_ms) + 1


@dataclass
class PatternFigures:
    """One pattern's figures from one scan (scaled, for a sampled scan)."""

    key_count: float = 0
    memory_bytes: float = 0
    ttl: list[float] = field(default_factory=lambda: [0.0] * len(TTL_BUCKETS))
    without_ttl: float = 0  # keys without a TTL, the exempt ones not counted
    examples: list[str] = field(default_factory=list)  # some of those keys
    largest: list[tuple[int, bytes, int]] = field(default_factory=list)  # a min-heap of (bytes, key, pttl)


class Accumulator:
    """Folds a scan's (key, size, pttl) triples into per-pattern figures (see the module doc)."""

    def __init__(
        self,
        classifier: Classifier,
        patterns: Iterable[str],
        *,
        expiring: Iterable[str],
        exempt: Iterable[str],
        top: int = 10,
    ) -> None:
        self._classifier = classifier
        self.figures = {p: PatternFigures() for p in patterns}
        self._expiring = frozenset(expiring)
        self._exempt = frozenset(k.encode() for k in exempt)
        self._top = top
        self._floor = dict.fromkeys(self.figures, -1)  # the smallest size in a full heap

    def add(self, keys: list[bytes], sizes: list[int], ttls: list[int]) -> None:
        """Count one step's keys (the scan's inner loop: kept tight)."""
        pattern_of, figures, floor, top = self._classifier.pattern_of, self.figures, self._floor, self._top
        for key, size, pttl in zip(keys, sizes, ttls, strict=True):
            pattern = pattern_of(key)
            f = figures[pattern]
            f.key_count += 1
            f.memory_bytes += size
            if pttl < 0:
                f.ttl[0] += 1
                if pattern in self._expiring and key not in self._exempt:
                    f.without_ttl += 1
                    if len(f.examples) < EXAMPLES:
                        f.examples.append(key.decode("utf-8", "backslashreplace")[:200])
            else:
                f.ttl[ttl_bucket(pttl)] += 1
            if size > floor[pattern]:
                if len(f.largest) < top:
                    heapq.heappush(f.largest, (size, key, pttl))
                else:
                    heapq.heappushpop(f.largest, (size, key, pttl))
                if len(f.largest) == top:
                    floor[pattern] = f.largest[0][0]

    def scale(self, factor: float) -> None:
        """A sample's figures as estimates of the whole keyspace (the largest keys stay as drawn)."""
        for f in self.figures.values():
            f.key_count *= factor
            f.memory_bytes *= factor
            f.without_ttl *= factor
            f.ttl = [n * factor for n in f.ttl]

    def merge(self, other: Accumulator) -> None:
        """Add another node's figures (a cluster's primaries)."""
        for pattern, theirs in other.figures.items():
            mine = self.figures[pattern]
            mine.key_count += theirs.key_count
            mine.memory_bytes += theirs.memory_bytes
            mine.without_ttl += theirs.without_ttl
            mine.ttl = [a + b for a, b in zip(mine.ttl, theirs.ttl, strict=True)]
            mine.examples = (mine.examples + theirs.examples)[:EXAMPLES]
            mine.largest = heapq.nlargest(self._top, mine.largest + theirs.largest)
            heapq.heapify(mine.largest)


@dataclass(frozen=True)
class Snapshot:
    """The totals of one scan, kept in the history."""

    at: datetime
    keys: Mapping[str, float]
    bytes: Mapping[str, float]


class History:
    """The last `size` scans' totals per pattern, for growth rates."""

    def __init__(self, size: int) -> None:
        self._kept: deque[Snapshot] = deque(maxlen=size)

    def add(self, snapshot: Snapshot) -> None:
        """Keep one scan's totals (the oldest goes when full)."""
        self._kept.append(snapshot)

    def growth(self, pattern: str) -> dict[str, float] | None:
        """Keys and MB per hour between the oldest and the newest scan kept (None before two scans)."""
        if len(self._kept) < 2:
            return None
        first, last = self._kept[0], self._kept[-1]
        seconds = (last.at - first.at).total_seconds()
        if seconds <= 0:
            return None
        per_hour = 3600 / seconds
        return {
            "keys_per_hour": round((last.keys.get(pattern, 0) - first.keys.get(pattern, 0)) * per_hour, 1),
            "mb_per_hour": round((last.bytes.get(pattern, 0) - first.bytes.get(pattern, 0)) / MB * per_hour, 4),
            "over_seconds": round(seconds, 1),
        }

    def rows(self) -> list[dict[str, Any]]:
        """The kept scans, oldest first, as the report shows them."""
        return [
            {
                "as_of": s.at.isoformat(timespec="seconds"),
                "patterns": {p: {"keys": round(s.keys[p]), "bytes": round(s.bytes[p])} for p in s.keys if s.keys[p]},
            }
            for s in self._kept
        ]


def _key_row(size: int, key: bytes, pttl: int) -> dict[str, Any]:
    return {"key": key.decode("utf-8", "backslashreplace")[:200], "bytes": size, "ttl_ms": pttl if pttl >= 0 else None}


def analytics_report(
    figures: Mapping[str, PatternFigures], history: History, *, sampled: bool, top: int
) -> dict[str, Any]:
    """The per-pattern analytics, the leaks, and the largest keys overall (`/health/redis/analytics`)."""
    total_bytes = sum(f.memory_bytes for f in figures.values()) or 1
    patterns: dict[str, Any] = {}
    leaks = []
    overall: list[tuple[int, bytes, int]] = []
    for name, f in figures.items():
        if not f.key_count:
            continue
        overall += f.largest
        patterns[name] = {
            "key_count": round(f.key_count),
            "memory_mb": round(f.memory_bytes / MB, 3),
            "memory_share": round(f.memory_bytes / total_bytes, 4),
            "growth": history.growth(name),
            "ttl": {bucket: round(n) for bucket, n in zip(TTL_BUCKETS, f.ttl, strict=True)},
            "without_ttl": round(f.without_ttl),
            "largest_keys": [_key_row(*k) for k in sorted(f.largest, reverse=True)],
        }
        if f.without_ttl:
            leaks.append({"pattern": name, "keys_without_ttl": round(f.without_ttl), "examples": f.examples})
    return {
        "patterns": patterns,
        "leaks": leaks,
        "largest_keys": [_key_row(*k) for k in heapq.nlargest(top, overall)],
        "largest_keys_from": "the keys drawn (sampled scan)" if sampled else "every key",
        "history": history.rows(),
    }


__all__ = [
    "TTL_BUCKETS",
    "Accumulator",
    "History",
    "PatternFigures",
    "Snapshot",
    "analytics_report",
    "ttl_bucket",
]
