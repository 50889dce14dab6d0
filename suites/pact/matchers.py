"""Matchers for what a provider may vary: timestamps, money, dates, ids."""

from __future__ import annotations

from typing import Any

from pact import match

TIMESTAMP = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})$"
MONEY = r"^-?(0|[1-9][0-9]{0,14})(\.[0-9]{1,4})?$"
PERCENT = r"^(0|[1-9][0-9]{0,5})\.[0-9]{4}$"
DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
ACCOUNT = r"^[A-Z]{2}[0-9]{4,6}$"


def timestamp(example: str = "2026-11-26T10:15:00+05:30") -> Any:
    return match.regex(example, regex=TIMESTAMP)


def money(example: str) -> Any:
    return match.regex(example, regex=MONEY)


def percent(example: str) -> Any:
    return match.regex(example, regex=PERCENT)


def day(example: str) -> Any:
    return match.regex(example, regex=DATE)


def account(example: str = "ZX1234") -> Any:
    return match.regex(example, regex=ACCOUNT)


def error_body(code: str) -> dict[str, Any]:
    """The contracts' JSON error body: the code exactly, the message any string."""
    return {"error": code, "message": match.str("explanation")}


JSON = "application/json"
