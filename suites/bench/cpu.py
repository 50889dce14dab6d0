"""Where the machine's CPU went during a load: each process's share, grouped by role (Linux /proc).

A bench that misses a speed target says why: `CpuMeter` reads every process's user and system
time at two moments inside the load and gives each role's share of a core over that span.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _role_of(command: str, name: str) -> str:
    if "order_service serve" in command:
        return "order service"
    if name == "postgres":
        return "PostgreSQL"
    if name == "redis-server":
        return "Redis"
    if name == "wrk":
        return "wrk"
    if "mocks serve" in command:
        return "mocks"
    return "other"


Snapshot = Mapping[int, tuple[str, float]]  # pid: (role, CPU seconds so far)


def snapshot() -> dict[int, tuple[str, float]]:
    """Every process's role and CPU seconds so far (those that vanish while read are left out)."""
    found: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        found[int(entry.name)] = (_role_of(command, name), (int(fields[11]) + int(fields[12])) / TICK)
    return found


def shares(before: Snapshot, after: Snapshot, span: float) -> dict[str, float]:
    """Each role's CPU over `span` seconds, in cores (1.0: one core busy the whole span)."""
    by_role: dict[str, float] = {}
    for pid, (role, seconds) in after.items():
        if pid in before:
            by_role[role] = by_role.get(role, 0.0) + (seconds - before[pid][1]) / span
    return dict(sorted(by_role.items(), key=lambda item: -item[1]))


class CpuMeter:
    """Measures `shares` from `settle` seconds after `start` for `span` seconds, in a thread."""

    def __init__(self, settle: float, span: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._settle, self._span, self._clock = settle, span, clock
        self._thread = threading.Thread(target=self._measure, daemon=True)
        self.result: dict[str, float] = {}

    def start(self) -> CpuMeter:
        self._thread.start()
        return self

    def _measure(self) -> None:
        time.sleep(self._settle)
        began, before = self._clock(), snapshot()
        time.sleep(self._span)
        self.result = shares(before, snapshot(), self._clock() - began)

    def join(self) -> dict[str, float]:
        """The shares (empty when /proc could not be read)."""
        self._thread.join()
        return self.result
