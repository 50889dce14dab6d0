"""The stateful side of a mock: handlers by operationId, seed data and provider states.

A `Behaviour` answers the operations whose outcome depends on what came before (a sync
read back, an upsert, a promotion that expires); every other operation is answered from
the contract's example. Subclasses fill `handlers` and `states` in `__init__`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mocks.clock import MockClock
from mocks.errors import RequestRejected, UnknownState, Violation
from mocks.validation import MockRequest


@dataclass(frozen=True)
class Reply:
    """What a handler answers: a status, a JSON body and extra headers."""

    status: int
    body: Any
    headers: tuple[tuple[str, str], ...] = ()


Handler = Callable[[MockRequest], Reply]
StateSetup = Callable[[Mapping[str, Any]], None]


@dataclass(frozen=True)
class ProviderState:
    r"""A named provider state; `pattern` may capture parameters (`strategy (?P<strategy_id>\d+) exists`)."""

    pattern: str
    description: str
    setup: StateSetup

    def match(self, name: str) -> dict[str, str] | None:
        """The parameters `name` captures, or None when it is not this state."""
        found = re.fullmatch(self.pattern, name)
        return found.groupdict() if found else None


_NOT_STATE = frozenset({"clock", "handlers", "states", "schemas"})  # wiring, not stored data


class Behaviour:
    """A mock with no state: every operation answers its contract example."""

    def __init__(self, clock: MockClock) -> None:
        self.clock = clock
        self.handlers: dict[str, Handler] = {}
        self.states: list[ProviderState] = []
        self.schemas: Callable[[str], Any] | None = None  # set by `create_app`: a component's validator

    def conform(self, schema: str, record: Any, what: str) -> Any:
        """Return `record` if it is valid against the contract's `#/components/schemas/<schema>`.

        Seed data and provider states pass through here, so the mock never stores what it could
        not answer with (a later read would break the contract: a 500 until reset).

        Raises:
            ValueError: naming `what` and the first problem.
        """
        if self.schemas is not None:
            validator = self.schemas(schema)
            for error in validator.iter_errors(record):
                raise ValueError(f"{what} is not a valid {schema}: {error.message}")
        return record

    def reset(self) -> None:
        """Forget every change since start (seed data is reloaded by subclasses)."""

    def seed(self, data: Mapping[str, Any]) -> None:
        """Add records; raise ValueError naming what is wrong with `data`."""
        if data:
            raise ValueError(f"this mock takes no seed data (got {sorted(data)})")

    def snapshot(self) -> dict[str, Any]:
        """The current state, for `GET /__admin/state`."""
        return {}

    def checkpoint(self) -> dict[str, Any]:
        """A copy of everything the mock has stored, for `restore` (a provider state's teardown)."""
        return {k: copy.deepcopy(v) for k, v in vars(self).items() if k not in _NOT_STATE}

    def restore(self, saved: Mapping[str, Any]) -> None:
        """Put back what `checkpoint` copied."""
        vars(self).update(copy.deepcopy(dict(saved)))

    def apply_state(self, name: str, params: Mapping[str, Any]) -> None:
        """Set up a provider state by name; raise UnknownState when no state has that name."""
        for state in self.states:
            captured = state.match(name)
            if captured is not None:
                state.setup({**captured, **params})
                return
        raise UnknownState(f"unknown provider state {name!r}")


def not_found(message: str) -> RequestRejected:
    """A 404 with the contract's error body."""
    return RequestRejected(404, "not_found", message)


def conflict(message: str) -> RequestRejected:
    """A 409 with the contract's error body."""
    return RequestRejected(409, "conflict", message)


def invalid(location: str, field: str, reason: str) -> RequestRejected:
    """A 422 for a rule the contract's schema cannot express."""
    return RequestRejected(
        422, "validation_failed", "the request does not match the contract", (Violation(location, field, reason),)
    )
