"""The mock engine's exceptions.

MockError
├── ContractError     a contract file cannot be served (raised at start, names the file)
├── RequestRejected   a request is answered with a 4xx JSON error body
└── UnknownState      no provider state of the mock has that name (also a LookupError)
"""

from __future__ import annotations

from dataclasses import dataclass


class MockError(Exception):
    """Base of the engine's errors."""


class ContractError(MockError):
    """A contract file is unreadable, invalid or uses something the engine does not serve."""


class UnknownState(MockError, LookupError):
    """No provider state of the mock has that name."""


@dataclass(frozen=True)
class Violation:
    """One way a request breaks the contract."""

    location: str  # path | query | header | body
    field: str  # dotted path, empty for the whole body
    reason: str

    def __str__(self) -> str:
        where = f"{self.location} {self.field}".rstrip()
        return f"{where}: {self.reason}"

    def as_dict(self) -> dict[str, str]:
        """The violation as the error body lists it."""
        return {"location": self.location, "field": self.field, "reason": self.reason}


class RequestRejected(MockError):
    """A request the mock refuses, with the status and JSON error body to answer with."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        violations: tuple[Violation, ...] = (),
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.violations = violations
        self.headers = headers

    def __str__(self) -> str:
        lines = [f"{self.status} {self.error}: {self.message}"]
        lines += [f"  - {violation}" for violation in self.violations]
        return "\n".join(lines)

    def body(self) -> dict[str, object]:
        """The contract's JSON error body."""
        body: dict[str, object] = {"error": self.error, "message": self.message}
        if self.violations:
            body["violations"] = [violation.as_dict() for violation in self.violations]
        return body
