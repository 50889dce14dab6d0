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

    @property
    def memo(self) -> Mapping[bytes, str]: ...

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
        self._patterns = list(patterns)
        # plain dicts and lists, not objects: the inner loop runs for every key of the keyspace
        self._counts = dict.fromkeys(self._patterns, 0.0)
        self._sizes = dict.fromkeys(self._patterns, 0.0)
        self._ttl = {p: [0.0] * len(TTL_BUCKETS) for p in self._patterns}
        self._without = dict.fromkeys(self._patterns, 0.0)
        self._examples: dict[str, list[str]] = {p: [] for p in self._patterns}
        self._largest: dict[str, list[tuple[int, bytes, int]]] = {p: [] for p in self._patterns}
        self._floor = dict.fromkeys(self._patterns, -1)  # the smallest size in a full heap
        self._expiring = frozenset(expiring)
        self._exempt = frozenset(k.encode() for k in exempt)
        self._top = top

    def add(self, keys: list[bytes], sizes: list[int], ttls: list[int]) -> None:
        """Count one step's keys (the scan's inner loop: kept tight)."""
        memo_get, pattern_of = self._classifier.memo.get, self._classifier.pattern_of
        counts, bytes_, ttl, floor = self._counts, self._sizes, self._ttl, self._floor
        for key, size, pttl in zip(keys, sizes, ttls, strict=True):
            pattern = memo_get(key[: key.find(b":") + 1]) or pattern_of(key)
            counts[pattern] += 1
            bytes_[pattern] += size
            if pttl < 0:
                ttl[pattern][0] += 1
                if pattern in self._expiring and key not in self._exempt:
                    self._leaked(pattern, key)
            else:
                ttl[pattern][ttl_bucket(pttl)] += 1
            if size > floor[pattern]:
                self._keep_large(pattern, size, key, pttl)

    def _leaked(self, pattern: str, key: bytes) -> None:
        self._without[pattern] += 1
        if len(self._examples[pattern]) < EXAMPLES:
            self._examples[pattern].append(key.decode("utf-8", "backslashreplace")[:200])

    def _keep_large(self, pattern: str, size: int, key: bytes, pttl: int) -> None:
        heap = self._largest[pattern]
        if len(heap) < self._top:
            heapq.heappush(heap, (size, key, pttl))
        else:
            heapq.heappushpop(heap, (size, key, pttl))
        if len(heap) == self._top:
            self._floor[pattern] = heap[0][0]

    @property
    def figures(self) -> dict[str, PatternFigures]:
        """Each pattern's figures so far."""
        return {
            p: PatternFigures(
                self._counts[p],
                self._sizes[p],
                list(self._ttl[p]),
                self._without[p],
                list(self._examples[p]),
                list(self._largest[p]),
            )
            for p in self._patterns
        }

    def scale(self, factor: float) -> None:
        """A sample's figures as estimates of the whole keyspace (the largest keys stay as drawn)."""
        for p in self._patterns:
            self._counts[p] *= factor
            self._sizes[p] *= factor
            self._without[p] *= factor
            self._ttl[p] = [n * factor for n in self._ttl[p]]

    def merge(self, other: Accumulator) -> None:
        """Add another node's figures (a cluster's primaries)."""
        for p in self._patterns:
            self._counts[p] += other._counts[p]
            self._sizes[p] += other._sizes[p]
            self._without[p] += other._without[p]
            self._ttl[p] = [a + b for a, b in zip(self._ttl[p], other._ttl[p], strict=True)]
            self._examples[p] = (self._examples[p] + other._examples[p])[:EXAMPLES]
            self._largest[p] = heapq.nlargest(self._top, self._largest[p] + other._largest[p])
            heapq.heapify(self._largest[p])
            self._floor[p] = self._largest[p][0][0] if len(self._largest[p]) == self._top else -1


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
