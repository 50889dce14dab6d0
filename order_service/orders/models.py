"""Order requests as the order-service contract defines them (money as Decimal, sent as strings)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from order_service.clients.models import _AS_TEXT

_PRICE_PATTERN = r"^(0|[1-9][0-9]{0,9})(\.[0-9]{1,4})?$"


def _price(value: object) -> object:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, str):
        if not re.fullmatch(_PRICE_PATTERN, value):
            raise ValueError(f"{value!r} is not a price (a decimal string, at most 4 places)")
        return Decimal(value)
    raise ValueError('a price is a decimal string, e.g. "1520.40"')


def _json_integer(value: object) -> object:
    """JSON Schema's integer: 5.0 is the integer 5 (a bool is not a number here)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Quantity = Annotated[int, BeforeValidator(_json_integer), Field(ge=1, le=100_000_000)]
Price = Annotated[Decimal, BeforeValidator(_price), _AS_TEXT]
Exchange = Literal["NSE", "BSE", "NFO", "BFO", "CDS", "MCX"]
OrderType = Literal["MARKET", "LIMIT", "SL", "SL-M"]
Product = Literal["CNC", "MIS", "NRML"]
OrderStatus = Literal["OPEN", "TRIGGER PENDING", "COMPLETE", "CANCELLED", "REJECTED", "AMO REQ RECEIVED"]


class _Request(BaseModel):
    """A request body as the contract reads it: no unknown fields, and an optional field is absent, never null."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: object) -> object:
        if isinstance(data, dict):
            nulls = sorted(name for name, value in data.items() if value is None)
            if nulls:
                raise ValueError(f"{', '.join(nulls)} may be left out but not null")
        return data


class PlaceOrderRequest(_Request):
    exchange: Exchange
    tradingsymbol: Annotated[str, Field(pattern=r"^[A-Z0-9&_-]{1,40}$")]
    transaction_type: Literal["BUY", "SELL"]
    order_type: OrderType
    product: Product
    quantity: Quantity
    price: Price | None = None
    trigger_price: Price | None = None
    validity: Literal["DAY", "IOC"] = "DAY"
    variety: Literal["regular", "amo"] = "regular"
    strategy_id: Annotated[int, BeforeValidator(_json_integer), Field(ge=1, le=9_223_372_036_854_775_807)] | None = None
    tag: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,20}$")] | None = None

    @model_validator(mode="after")
    def _prices_for_the_type(self) -> PlaceOrderRequest:
        check_prices(self.order_type, self.price, self.trigger_price)
        return self


class ModifyOrderRequest(_Request):
    quantity: Quantity | None = None
    price: Price | None = None
    trigger_price: Price | None = None
    order_type: OrderType | None = None
    validity: Literal["DAY", "IOC"] | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> ModifyOrderRequest:
        if not self.model_fields_set:
            raise ValueError("a modification changes at least one field")
        return self


class MissingPrice(ValueError):
    """An order type that needs a price (or a trigger price) without one; `field` names which."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


def check_prices(order_type: str, price: Decimal | None, trigger: Decimal | None) -> None:
    if order_type in ("LIMIT", "SL") and price is None:
        raise MissingPrice("price", "price is required for LIMIT and SL orders")
    if order_type in ("SL", "SL-M") and trigger is None:
        raise MissingPrice("trigger_price", "trigger_price is required for SL and SL-M orders")
