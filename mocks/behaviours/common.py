"""Small helpers the service behaviours share: decimal money and timestamps.

Cursors of paginated lists are the sort key of the last item of the page (an account id,
a date, an order id): any string the contract allows is a cursor, meaning "after this key".
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

_FOUR_PLACES = Decimal("0.0001")


MAX_ID = 2**63 - 1  # the contracts' id maximum (a signed 64-bit integer)


def record_id(value: object, what: str = "id") -> int:
    """An id for seed data and provider states, inside the contracts' range; ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{what} must be an integer, not {value!r}")
    number = int(value)
    if not 1 <= number <= MAX_ID:
        raise ValueError(f"{what} {value} is outside 1..{MAX_ID}")
    return number


def money(value: Decimal) -> str:
    """A decimal as the contracts write money: plain digits, at most 4 places, no '-0'."""
    text = format(value.quantize(_FOUR_PLACES).normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def percent(value: Decimal) -> str:
    """A percentage with exactly 4 places, as the contracts write it."""
    return format(value.quantize(_FOUR_PLACES), "f")


def timestamp(text: str) -> datetime:
    """Parse a contract timestamp (the schema has already checked its form and offset).

    RFC 3339 allows a leap second (`23:59:60`); Python's datetime has none, so it reads as
    the second before it (`23:59:59`), as most systems smear it.
    """
    text = text.replace("Z", "+00:00")
    if text[17:19] == "60":
        text = text[:17] + "59" + text[19:]
    return datetime.fromisoformat(text)
