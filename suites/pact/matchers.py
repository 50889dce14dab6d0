"""Matchers for what a provider may vary: timestamps, money, dates, ids."""

from __future__ import annotations

from typing import Any

from pact import match

TIMESTAMP = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})$"
MONEY = r"^-?(0|[1-9][0-9]{0,14})(\.[0-9]{1,4})?$"
PERCENT = r"^(0|[1-9][0-9]{0,5})\.[0-9]{4}$"
DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
ACCOUNT = r"^[A-Z]{2}[0-9]{4,6}$"
IDEMPOTENCY_KEY = r"^[A-Za-z0-9._:-]{8,128}$"  # the contracts' IdempotencyKey header


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


def idempotency_key(operation: str, number: int) -> Any:
    """The Idempotency-Key the client sends on its retried writes: any key of the contract's form.

    The exactly-once promise rests on it: the owner applies a write once per key. The example is
    in the client's own form (`<operation>-<32 hex>`), a different one per interaction, as a
    client never sends one key for two writes.
    """
    return match.regex(f"{operation}-{number:032x}", regex=IDEMPOTENCY_KEY)


def error_body(code: str) -> dict[str, Any]:
    """The contracts' JSON error body: the code exactly, the message any string."""
    return {"error": code, "message": match.str("explanation")}


JSON = "application/json"
