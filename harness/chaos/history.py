"""What the crash tier records: every call a client made, every fault applied (JSON lines).

A call is one HTTP attempt: a retry under the same Idempotency-Key is a second call with the
same key. Its outcome is what the client can know:
- `ok`: a 2xx answer;
- `refused`: a 4xx (nothing was done);
- `unknown`: a timeout, a cut connection or a 5xx; the stores decide what happened.
Times are wall-clock seconds (`time.time()`), so calls and faults share one axis.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Outcome = Literal["ok", "refused", "unknown"]
OpKind = Literal["place", "modify", "cancel", "get", "replay"]


@dataclass
class Call:
    """One attempt of one client; `order_id` is the order named (asked for, or answered)."""

    client: int
    kind: OpKind
    start: float
    end: float
    outcome: Outcome
    status: int | None = None
    key: str | None = None
    order_id: str | None = None
    answered_id: str | None = None  # the order id in a 2xx answer
    identity: str = ""
    replica: str = ""
    error: str = ""
    replay_of: str | None = None  # replay: the key of the request re-sent

    @property
    def latency(self) -> float:
        """Seconds from sending to the outcome."""
        return self.end - self.start


@dataclass
class FaultRecord:
    """One fault as the nemesis applied it: planned offset and duration, and the wall-clock window.

    The window (`start`, `end`) is when the fault certainly held: from the moment applying it
    returned to the moment healing began (the checker's rules about "inside a fault" use it).
    """

    kind: str
    at: float  # seconds after the round began, as planned
    duration: float
    start: float = 0.0
    end: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)


def write_lines(path: Path, records: Iterable[Call | FaultRecord]) -> None:
    """Write records as JSON lines (one object per line)."""
    with path.open("w") as out:
        for record in records:
            out.write(json.dumps(asdict(record), sort_keys=True) + "\n")


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not a JSON line ({exc.msg})") from None


def read_calls(path: Path) -> list[Call]:
    """The calls of a history file."""
    return [Call(**data) for data in _lines(path)]


def read_faults(path: Path) -> list[FaultRecord]:
    """The faults of a fault log (also a schedule to replay: `kind`, `at`, `duration`, `detail`)."""
    return [FaultRecord(**data) for data in _lines(path)]
