"""Fault injection: latency, error statuses, dropped connections, hangs, off-contract answers.

`drop` cuts the connection before the mock looks at the request (the owner never saw it);
`drop_after` serves the request (state changes, the answer is kept for idempotent replay)
and cuts the connection instead of sending the answer: a lost acknowledgement.

A fault applies to one operation (by operationId) or to the whole mock, to every request
or to a seeded random share of them, and optionally only a number of times. Latency
faults add up; the first other fault that fires decides the answer.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

FaultKind = Literal["latency", "status", "drop", "drop_after", "hang", "respond"]


class FaultSpec(BaseModel):
    """What a test asks for through `POST /__admin/faults`."""

    model_config = ConfigDict(extra="forbid")

    kind: FaultKind
    operation_id: str | None = Field(None, description="Scope: one operation; absent for the whole mock.")
    probability: float = Field(1.0, ge=0.0, le=1.0, description="Share of matching requests hit.")
    seed: int | None = Field(None, description="Seed of the fault's own random draws (repeatable runs).")
    times: int | None = Field(None, ge=1, description="Fire this many times, then expire.")
    delay_ms: float = Field(0.0, ge=0.0, le=600_000, description="latency: fixed part.")
    jitter_ms: float = Field(0.0, ge=0.0, le=600_000, description="latency: uniform random extra.")
    status: int = Field(503, ge=100, le=599, description="status/respond: the status code.")
    retry_after: int | None = Field(None, ge=0, le=86_400, description="status: Retry-After seconds.")
    hang_seconds: float = Field(3600.0, gt=0, le=86_400, description="hang: how long before giving up.")
    body: Any = Field(None, description="respond: the JSON body to answer with.")
    headers: dict[str, str] = Field(default_factory=dict, description="status/respond: extra headers.")

    @model_validator(mode="after")
    def _latency_needs_a_delay(self) -> FaultSpec:
        if self.kind == "latency" and self.delay_ms == 0 and self.jitter_ms == 0:
            raise ValueError("a latency fault needs delay_ms or jitter_ms")
        return self


@dataclass
class Fault:
    """A fault in place: its spec, what is left of it, and its own random draws."""

    id: int
    spec: FaultSpec
    remaining: int | None
    hits: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """The fault as the admin surface lists it."""
        return {"id": self.id, "hits": self.hits, "remaining": self.remaining, **self.spec.model_dump()}

    def delay_seconds(self) -> float:
        """This request's added latency: the fixed part plus a draw of the jitter."""
        jitter = self._rng.uniform(0, self.spec.jitter_ms) if self.spec.jitter_ms else 0.0
        return (self.spec.delay_ms + jitter) / 1000.0

    def _fires(self) -> bool:
        if self.remaining == 0:
            return False
        if self.spec.probability < 1.0 and self._rng.random() >= self.spec.probability:
            return False
        self.hits += 1
        if self.remaining is not None:
            self.remaining -= 1
        return True


@dataclass(frozen=True)
class FaultPlan:
    """What the faults decided for one request."""

    delay: float = 0.0
    action: Fault | None = None  # the status/drop/hang/respond fault that fires, if any
    names: tuple[str, ...] = ()
    drop_after: bool = False  # serve the request, then cut the connection instead of answering


NO_FAULT = FaultPlan()


class FaultSet:
    """The active faults of one mock."""

    def __init__(self) -> None:
        self._faults: dict[int, Fault] = {}
        self._ids = itertools.count(1)

    def add(self, spec: FaultSpec) -> Fault:
        """Put a fault in place; returns it with its id."""
        fault = Fault(id=next(self._ids), spec=spec, remaining=spec.times, _rng=random.Random(spec.seed))
        self._faults[fault.id] = fault
        return fault

    def remove(self, fault_id: int) -> bool:
        """Take a fault away; False when there is no such fault."""
        return self._faults.pop(fault_id, None) is not None

    def clear(self) -> None:
        """Take every fault away."""
        self._faults.clear()

    def list(self) -> list[Fault]:
        """The faults in place, oldest first."""
        return list(self._faults.values())

    def plan(self, operation_id: str | None) -> FaultPlan:
        """What the faults do to one request of `operation_id`: its latency and the fault that answers."""
        if not self._faults:  # the common case costs one check
            return NO_FAULT
        delay, action, names = 0.0, None, []
        for fault in self._faults.values():
            scope = fault.spec.operation_id
            if scope is not None and scope != operation_id:
                continue
            if fault.spec.kind == "latency":
                if fault._fires():
                    delay += fault.delay_seconds()
                    names.append(f"latency#{fault.id}")
            elif action is None and fault._fires():
                action = fault
                names.append(f"{fault.spec.kind}#{fault.id}")
        if action is not None and action.spec.kind == "drop_after":
            return FaultPlan(delay, None, tuple(names), drop_after=True)
        return FaultPlan(delay, action, tuple(names)) if names else NO_FAULT
