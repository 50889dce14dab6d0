"""How a check ends other than passing: the service broke the rule, or the kit could not check it.

ConformanceError
├── Failed       the rule is broken; `exchange` is the request and answer that show it
└── NotChecked   the kit was not given what the rule needs (the message says what)
"""

from __future__ import annotations


class ConformanceError(Exception):
    """Root of the kit's outcomes other than a pass."""


class Failed(ConformanceError, AssertionError):
    """The service broke the check's rule; `exchange` is the request and answer that show it."""

    def __init__(self, message: str, exchange: str = "") -> None:
        super().__init__(message)
        self.exchange = exchange


class NotChecked(ConformanceError):
    """The kit cannot check this rule with what it was given (the message says why)."""
