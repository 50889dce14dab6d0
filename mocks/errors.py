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
        self._body: object = None
        self._has_body = False

    def with_status(self, status: int, body: object = None, problem: str | None = None) -> RequestRejected:
        """The same refusal answered with `status`, and with `body` in place of the mock's own when given.

        A contract whose refusals have a body of their own gets that body; `problem` then goes
        in the `x-mock-problem` header, so what was wrong is still said.
        """
        headers = self.headers if problem is None else (*self.headers, ("x-mock-problem", _header_safe(problem)))
        copy = RequestRejected(status, self.error, self.message, self.violations, headers)
        if problem is not None:
            copy._body, copy._has_body = body, True
        return copy

    def __str__(self) -> str:
        lines = [f"{self.status} {self.error}: {self.message}"]
        lines += [f"  - {violation}" for violation in self.violations]
        return "\n".join(lines)

    def body(self) -> object:
        """The JSON error body (the mock's own, or the contract's documented one)."""
        if self._has_body:
            return self._body
        body: dict[str, object] = {"error": self.error, "message": self.message}
        if self.violations:
            body["violations"] = [violation.as_dict() for violation in self.violations]
        return body


def _header_safe(text: str) -> str:
    """`text` as one latin-1 header line."""
    return " ".join(text.split()).encode("latin-1", errors="replace").decode("latin-1")
