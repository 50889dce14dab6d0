"""The order book: orders per trading account, filled by a simulated broker.

There is no real exchange: `SimulatedBroker` fills MARKET orders at once at its last
price, rests LIMIT orders OPEN, holds SL/SL-M as TRIGGER PENDING and after-market orders
as AMO REQ RECEIVED. A real gateway would implement `Broker` instead.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
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


class OrderBook:
    def __init__(self, broker: Broker, *, clock: Callable[[], datetime] = lambda: datetime.now(IST)) -> None:
        self._broker = broker
        self._clock = clock
        self._orders: dict[str, dict[str, Any]] = {}
        self._sequence = itertools.count(1)

    def _now(self) -> str:
        return self._clock().astimezone(IST).replace(microsecond=0).isoformat()

    def place(self, account: str, request: PlaceOrderRequest, placed_by: str) -> dict[str, Any]:
        now = self._now()
        order_id = self._clock().astimezone(IST).strftime("%y%m%d") + f"{next(self._sequence):09d}"
        order: dict[str, Any] = {
            "order_id": order_id,
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
            "placed_at": now,
            "updated_at": now,
            "anomalies": [],
        }
        self._broker.route(order)
        self._orders[order_id] = order
        return order

    def get(self, account: str, order_id: str) -> dict[str, Any]:
        order = self._orders.get(order_id)
        if order is None or order["trading_account_id"] != account:
            raise OrderNotFound(f"order {order_id} does not exist")
        return order

    def page(
        self, account: str, status: str | None, limit: int, before: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        newest_first = sorted(
            (
                o
                for o in self._orders.values()
                if o["trading_account_id"] == account and (status is None or o["status"] == status)
            ),
            key=lambda o: o["order_id"],
            reverse=True,
        )
        remaining = [o for o in newest_first if before is None or o["order_id"] < before]
        page = remaining[:limit]
        return page, page[-1]["order_id"] if len(remaining) > limit else None

    def modify(self, account: str, order_id: str, change: ModifyOrderRequest) -> dict[str, Any]:
        order = self.get(account, order_id)
        if order["status"] in FINAL:
            raise OrderFinal(f"order {order_id} is {order['status']} and can no longer be changed")
        updates = change.model_dump(exclude_unset=True, mode="json")
        merged = {**order, **updates}
        try:
            check_prices(merged["order_type"], merged.get("price"), merged.get("trigger_price"))
        except MissingPrice as exc:
            raise InvalidOrder(exc.field, str(exc)) from exc
        merged["pending_quantity"] = merged["quantity"] - merged["filled_quantity"]
        merged["updated_at"] = self._now()
        if merged["status"] != "AMO REQ RECEIVED":
            self._broker.route(merged)
        order.update(merged)
        return order

    def cancel(self, account: str, order_id: str, by: str) -> dict[str, Any]:
        order = self.get(account, order_id)
        if order["status"] in FINAL:
            raise OrderFinal(f"order {order_id} is {order['status']} and can no longer be changed")
        order.update(
            status="CANCELLED",
            status_message=f"cancelled by {by}",
            cancelled_quantity=order["pending_quantity"],
            pending_quantity=0,
            updated_at=self._now(),
        )
        return order

    def positions(self, account: str) -> list[dict[str, Any]]:
        books: dict[tuple[str, str, str], dict[str, list[Any]]] = {}
        for order in self._orders.values():
            if order["trading_account_id"] != account or order["filled_quantity"] == 0:
                continue
            key = (order["tradingsymbol"], order["exchange"], order["product"])
            book = books.setdefault(key, {"BUY": [0, Decimal(0)], "SELL": [0, Decimal(0)]})
            side = book[order["transaction_type"]]
            side[0] += order["filled_quantity"]
            side[1] += order["filled_quantity"] * Decimal(order["average_price"])
        rows = []
        for (symbol, exchange, product), book in sorted(books.items()):
            (bought, buy_value), (sold, sell_value) = book["BUY"], book["SELL"]
            quantity = bought - sold
            last = self._broker.last_price(symbol)
            open_side = book["BUY"] if quantity > 0 else book["SELL"] if quantity < 0 else None
            average = open_side[1] / open_side[0] if open_side else Decimal(0)
            rows.append(
                {
                    "tradingsymbol": symbol,
                    "exchange": exchange,
                    "product": product,
                    "quantity": quantity,
                    "buy_quantity": bought,
                    "sell_quantity": sold,
                    "average_price": _text(average),
                    "last_price": _text(last),
                    "pnl": _text(sell_value - buy_value + quantity * last),
                }
            )
        return rows
