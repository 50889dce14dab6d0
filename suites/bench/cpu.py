"""Where the machine's CPU went during a load: each process's share, grouped by role (Linux /proc).

A bench that misses a speed target says why: `CpuMeter` reads every process's user and system
time at two moments inside the load and gives each role's share of a core over that span.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

from suites.fixtures.processes import ProcessEntry, process_entries


def _role_of(entry: ProcessEntry) -> str:
    command = " ".join(entry.argv)
    if "order_service serve" in command:
        return "order service"
    if entry.name == "postgres":
        return "PostgreSQL"
    if entry.name == "redis-server":
        return "Redis"
    if entry.name == "wrk":
        return "wrk"
    if "mocks serve" in command:
        return "mocks"
    return "other"


Snapshot = Mapping[int, tuple[str, float]]  # pid: (role, CPU seconds so far)


def snapshot() -> dict[int, tuple[str, float]]:
    """Every process's role and CPU seconds so far."""
    return {entry.pid: (_role_of(entry), entry.cpu_seconds) for entry in process_entries()}


def shares(before: Snapshot, after: Snapshot, span: float) -> dict[str, float]:
    """Each role's CPU over `span` seconds, in cores (1.0: one core busy the whole span)."""
    by_role: dict[str, float] = {}
    for pid, (role, seconds) in after.items():
        if pid in before:
            by_role[role] = by_role.get(role, 0.0) + (seconds - before[pid][1]) / span
    return dict(sorted(by_role.items(), key=lambda item: -item[1]))


class CpuMeter:
    """Measures `shares` from `settle` seconds after `start` for `span` seconds, in a thread."""

    def __init__(self, settle: float, span: float) -> None:
        self._settle, self._span = settle, span
        self._thread = threading.Thread(target=self._measure, daemon=True)
        self.result: dict[str, float] = {}

    def start(self) -> CpuMeter:
        self._thread.start()
        return self

    def _measure(self) -> None:
        time.sleep(self._settle)
        began, before = time.monotonic(), snapshot()
        time.sleep(self._span)
        self.result = shares(before, snapshot(), time.monotonic() - began)

    def join(self) -> dict[str, float]:
        """The shares, by role."""
        self._thread.join()
        return self.result
