"""The order book's rules: what an order looks like when placed, changed or cancelled, and positions.

Pure functions over order documents (dicts shaped as the contract's `Order`); where orders
are kept is a store's job (`order_service.orders.store`). There is no real exchange:
`SimulatedBroker` fills MARKET orders at once at its last price, rests LIMIT orders OPEN,
holds SL/SL-M as TRIGGER PENDING and after-market orders as AMO REQ RECEIVED. A real
gateway would implement `Broker` instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Protocol

from order_service.orders.models import MissingPrice, ModifyOrderRequest, PlaceOrderRequest, check_prices

IST = timezone(timedelta(hours=5, minutes=30), "IST")
FINAL = frozenset({"COMPLETE", "CANCELLED", "REJECTED"})


class OrderNotFound(LookupError):
    pass


class InvalidOrder(ValueError):
    """A change the schema allows but the order's type does not (a LIMIT order without a price)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


class OrderFinal(ValueError):
    """The order is complete, cancelled or rejected: it can no longer change."""


class Broker(Protocol):
    """Where the book sends orders: `SimulatedBroker` here, an exchange gateway in production."""

    def route(self, order: dict[str, Any]) -> None:
        """Set the order's status (and fill) as the exchange would."""

    def last_price(self, symbol: str) -> Decimal:
        """The symbol's last traded price (positions are valued at it)."""


@dataclass
class SimulatedBroker:
    last_prices: Mapping[str, Decimal]
    default_price: Decimal = Decimal(100)

    def route(self, order: dict[str, Any]) -> None:
        if order["variety"] == "amo":
            order["status"] = "AMO REQ RECEIVED"
        elif order["order_type"] == "MARKET":
            price = self.last_prices.get(order["tradingsymbol"], self.default_price)
            order.update(
                status="COMPLETE", filled_quantity=order["quantity"], pending_quantity=0, average_price=_text(price)
            )
        elif order["order_type"] in ("SL", "SL-M"):
            order["status"] = "TRIGGER PENDING"
        else:
            order["status"] = "OPEN"

    def last_price(self, symbol: str) -> Decimal:
        return self.last_prices.get(symbol, self.default_price)


def _text(value: Decimal) -> str:
    text = format(value.quantize(Decimal("0.0001")).normalize(), "f")
    return "0" if text in ("-0", "") else text


def timestamp(at: datetime) -> str:
    """An order time as the contract writes it: IST, whole seconds."""
    return at.astimezone(IST).replace(microsecond=0).isoformat()


def id_prefix(at: datetime) -> str:
    """The first six digits of an order id: the IST day it was placed (yymmdd); a store adds nine more."""
    return at.astimezone(IST).strftime("%y%m%d")


def new_order(broker: Broker, account: str, request: PlaceOrderRequest, placed_by: str, at: datetime) -> dict[str, Any]:
    """A placed order, routed to `broker`; its `order_id` is the store's to give (empty here)."""
    now = timestamp(at)
    order: dict[str, Any] = {
        "order_id": "",
        "trading_account_id": account,
        "strategy_id": request.strategy_id,
        "exchange": request.exchange,
        "tradingsymbol": request.tradingsymbol,
        "transaction_type": request.transaction_type,
        "order_type": request.order_type,
        "product": request.product,
        "variety": request.variety,
        "validity": request.validity,
        "quantity": request.quantity,
        "price": _text(request.price) if request.price is not None else None,
        "trigger_price": _text(request.trigger_price) if request.trigger_price is not None else None,
        "status": "OPEN",
        "status_message": None,
        "filled_quantity": 0,
        "pending_quantity": request.quantity,
        "cancelled_quantity": 0,
        "average_price": "0",
        "placed_by": placed_by,
        "tag": request.tag,
        "placed_at": now,
        "updated_at": now,
        "anomalies": [],
    }
    broker.route(order)
    return order


def _changeable(order: Mapping[str, Any]) -> None:
    if order["status"] in FINAL:
        raise OrderFinal(f"order {order['order_id']} is {order['status']} and can no longer be changed")


def modified(broker: Broker, order: Mapping[str, Any], change: ModifyOrderRequest, at: datetime) -> dict[str, Any]:
    """The order after `change` (routed again unless it waits for the market to open)."""
    _changeable(order)
    merged = {**order, **change.model_dump(exclude_unset=True, mode="json")}
    try:
        check_prices(merged["order_type"], merged.get("price"), merged.get("trigger_price"))
    except MissingPrice as exc:
        raise InvalidOrder(exc.field, str(exc)) from exc
    merged["pending_quantity"] = merged["quantity"] - merged["filled_quantity"]
    merged["updated_at"] = timestamp(at)
    if merged["status"] != "AMO REQ RECEIVED":
        broker.route(merged)
    return merged


def cancelled(order: Mapping[str, Any], by: str, at: datetime) -> dict[str, Any]:
    """The order cancelled by the service `by`: what was pending is cancelled."""
    _changeable(order)
    return {
        **order,
        "status": "CANCELLED",
        "status_message": f"cancelled by {by}",
        "cancelled_quantity": order["pending_quantity"],
        "pending_quantity": 0,
        "updated_at": timestamp(at),
    }


@dataclass(frozen=True)
class Fill:
    """What one order's fill adds to its position: quantity and value on one side."""

    tradingsymbol: str
    exchange: str
    product: str
    side: str  # BUY or SELL
    quantity: int
    value: Decimal

    @classmethod
    def of(cls, order: Mapping[str, Any], before: Mapping[str, Any] | None = None) -> Fill | None:
        """The fill `order` gained since `before` (None: nothing new was filled)."""
        quantity = order["filled_quantity"] - (before["filled_quantity"] if before else 0)
        if quantity <= 0:
            return None
        return cls(
            order["tradingsymbol"],
            order["exchange"],
            order["product"],
            order["transaction_type"],
            quantity,
            quantity * Decimal(order["average_price"]),
        )


@dataclass(frozen=True)
class Position:
    """An account's totals on one instrument: what was bought and sold, and for how much."""

    tradingsymbol: str
    exchange: str
    product: str
    bought: int = 0
    buy_value: Decimal = Decimal(0)
    sold: int = 0
    sell_value: Decimal = Decimal(0)

    def plus(self, fill: Fill) -> Position:
        """This position with `fill` added."""
        if fill.side == "BUY":
            return Position(
                self.tradingsymbol,
                self.exchange,
                self.product,
                self.bought + fill.quantity,
                self.buy_value + fill.value,
                self.sold,
                self.sell_value,
            )
        return Position(
            self.tradingsymbol,
            self.exchange,
            self.product,
            self.bought,
            self.buy_value,
            self.sold + fill.quantity,
            self.sell_value + fill.value,
        )


def position_rows(positions: Iterable[Position], broker: Broker) -> list[dict[str, Any]]:
    """The contract's position rows, valued at the broker's last prices, sorted by instrument."""
    rows = []
    for p in sorted(positions, key=lambda p: (p.tradingsymbol, p.exchange, p.product)):
        quantity = p.bought - p.sold
        last = broker.last_price(p.tradingsymbol)
        if quantity > 0:
            average = p.buy_value / p.bought
        elif quantity < 0:
            average = p.sell_value / p.sold
        else:
            average = Decimal(0)
        rows.append(
            {
                "tradingsymbol": p.tradingsymbol,
                "exchange": p.exchange,
                "product": p.product,
                "quantity": quantity,
                "buy_quantity": p.bought,
                "sell_quantity": p.sold,
                "average_price": _text(average),
                "last_price": _text(last),
                "pnl": _text(p.sell_value - p.buy_value + quantity * last),
            }
        )
    return rows
