"""Small helpers the service behaviours share: decimal money and timestamps.

Cursors of paginated lists are the sort key of the last item of the page (an account id,
a date, an order id): any string the contract allows is a cursor, meaning "after this key".
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

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


def timestamp(text: str) -> datetime:
    """Parse a contract timestamp (the schema has already checked its form and offset)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
