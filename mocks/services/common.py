"""Small helpers the service behaviours share: decimal money, cursors, timestamps."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from decimal import Decimal

from mocks.errors import RequestRejected, Violation

_FOUR_PLACES = Decimal("0.0001")


def money(value: Decimal) -> str:
    """A decimal as the contracts write money: plain digits, at most 4 places, no '-0'."""
    text = format(value.quantize(_FOUR_PLACES).normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def percent(value: Decimal) -> str:
    """A percentage with exactly 4 places, as the contracts write it."""
    return format(value.quantize(_FOUR_PLACES), "f")


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    """The key a cursor stands for; a 422 naming the cursor when it was not issued here."""
    if cursor is None:
        return None
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise RequestRejected(
            422,
            "validation_failed",
            "the request does not match the contract",
            (Violation("query", "cursor", "is not a cursor this service issued"),),
        ) from exc


def timestamp(text: str) -> datetime:
    """Parse a contract timestamp (the schema has already checked its form and offset)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
