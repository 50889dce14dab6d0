"""Order service mock: an in-memory order book per trading account and a simulated fill.

MARKET orders fill at once at the mock's last price, LIMIT orders rest OPEN, SL and SL-M
wait as TRIGGER PENDING, after-market orders as AMO REQ RECEIVED. The mock checks that
the credentials are present (the contract's security); it does not verify signatures:
that is the real order service's job.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from typing_extensions import override

from mocks.behaviour import Behaviour, ProviderState, Reply, conflict, invalid, not_found
from mocks.behaviours.common import money
from mocks.clock import MockClock, iso
from mocks.validation import MockRequest

LAST_PRICES = {"INFY": Decimal("1532.10"), "TCS": Decimal("3875"), "RELIANCE": Decimal("2950.55")}
DEFAULT_PRICE = Decimal("100")
FINAL = ("COMPLETE", "CANCELLED", "REJECTED")
ORDER = r"(?P<order_id>[0-9]{15})"
ACCOUNT = r"(?P<account_id>[A-Z]{2}[0-9]{4,6})"


class OrderBehaviour(Behaviour):
    """The order service: the order lifecycle of its contract (place, modify, cancel), positions."""

    def __init__(self, clock: MockClock) -> None:
        super().__init__(clock)
        self.handlers = {
            "placeOrder": self.place,
            "listOrders": self.list_orders,
            "getOrder": self.get,
            "modifyOrder": self.modify,
            "cancelOrder": self.cancel,
            "getPositions": self.positions,
        }
        self.states = [
            ProviderState(f"order {ORDER} is open for account {ACCOUNT}", "an OPEN LIMIT order", self._state_open),
            ProviderState(f"order {ORDER} is complete for account {ACCOUNT}", "a filled order", self._state_complete),
        ]
        self.reset()

    @override
    def reset(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self._sequence = itertools.count(1)

    @override
    def seed(self, data: Mapping[str, Any]) -> None:
        unknown = set(data) - {"orders"}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}; expected orders")
        for order in data.get("orders", []):
            if not isinstance(order, dict) or not {"order_id", "trading_account_id"} <= order.keys():
                raise ValueError("each order needs order_id and trading_account_id")
            self.orders[order["order_id"]] = order

    @override
    def snapshot(self) -> dict[str, Any]:
        return {"orders": list(self.orders.values())}

    def _new_id(self) -> str:
        return self.clock.now().strftime("%y%m%d") + f"{next(self._sequence):09d}"

    def _order(self, request: MockRequest) -> dict[str, Any]:
        order = self.orders.get(request.path_params["order_id"])
        if order is None or order["trading_account_id"] != request.headers["x-trading-account-id"]:
            raise not_found(f"order {request.path_params['order_id']} does not exist")
        return order

    # -- handlers ------------------------------------------------------------------------
    def place(self, request: MockRequest) -> Reply:
        """`placeOrder`: a new order, filled or open by its type."""
        body = _integral(request.body)
        now = iso(self.clock.now())
        order: dict[str, Any] = {
            "order_id": self._new_id(),
            "trading_account_id": request.headers["x-trading-account-id"],
            "strategy_id": body.get("strategy_id"),
            "exchange": body["exchange"],
            "tradingsymbol": body["tradingsymbol"],
            "transaction_type": body["transaction_type"],
            "order_type": body["order_type"],
            "product": body["product"],
            "variety": body.get("variety", "regular"),
            "validity": body.get("validity", "DAY"),
            "quantity": body["quantity"],
            "price": body.get("price"),
            "trigger_price": body.get("trigger_price"),
            "status": "OPEN",
            "status_message": None,
            "filled_quantity": 0,
            "pending_quantity": body["quantity"],
            "cancelled_quantity": 0,
            "average_price": "0",
            "placed_by": request.headers.get("x-service-identity", "unknown"),
            "tag": body.get("tag"),
            "placed_at": now,
            "updated_at": now,
            "anomalies": [],
        }
        self._route(order)
        self.orders[order["order_id"]] = order
        return Reply(201, order)

    def _route(self, order: dict[str, Any]) -> None:
        if order["variety"] == "amo":
            order["status"] = "AMO REQ RECEIVED"
        elif order["order_type"] == "MARKET":
            price = LAST_PRICES.get(order["tradingsymbol"], DEFAULT_PRICE)
            order.update(
                status="COMPLETE", filled_quantity=order["quantity"], pending_quantity=0, average_price=money(price)
            )
        elif order["order_type"] in ("SL", "SL-M"):
            order["status"] = "TRIGGER PENDING"
        else:
            order["status"] = "OPEN"

    def list_orders(self, request: MockRequest) -> Reply:
        """`listOrders`: the account's orders, newest first, a page at a time."""
        account = request.headers["x-trading-account-id"]
        status = request.query.get("status")
        newest_first = sorted(
            (
                o
                for o in self.orders.values()
                if o["trading_account_id"] == account and (status is None or o["status"] == status)
            ),
            key=lambda o: o["order_id"],
            reverse=True,
        )
        before = request.query.get("cursor")
        remaining = [o for o in newest_first if before is None or o["order_id"] < before]
        limit = request.query.get("limit", 100)
        page = remaining[:limit]
        next_cursor = page[-1]["order_id"] if len(remaining) > limit else None
        return Reply(200, {"items": page, "next_cursor": next_cursor})

    def get(self, request: MockRequest) -> Reply:
        """`getOrder`: one order of the account."""
        return Reply(200, self._order(request))

    def modify(self, request: MockRequest) -> Reply:
        """`modifyOrder`: change an open order's quantity, price or type."""
        order = self._order(request)
        if order["status"] in FINAL:
            raise conflict(f"order {order['order_id']} is {order['status']} and can no longer be changed")
        changed = {**order, **_integral(request.body)}
        if changed["order_type"] in ("LIMIT", "SL") and not changed.get("price"):
            raise invalid("body", "price", "price is required for LIMIT and SL orders")
        if changed["order_type"] in ("SL", "SL-M") and not changed.get("trigger_price"):
            raise invalid("body", "trigger_price", "is required for SL and SL-M orders")
        changed["pending_quantity"] = changed["quantity"] - changed["filled_quantity"]
        changed["updated_at"] = iso(self.clock.now())
        if changed["status"] != "AMO REQ RECEIVED":
            self._route(changed)
        order.update(changed)
        return Reply(200, order)

    def cancel(self, request: MockRequest) -> Reply:
        """`cancelOrder`: cancel an order that is still open."""
        order = self._order(request)
        if order["status"] in FINAL:
            raise conflict(f"order {order['order_id']} is {order['status']} and can no longer be changed")
        by = request.headers.get("x-service-identity", "unknown")
        order.update(
            status="CANCELLED",
            status_message=f"cancelled by {by}",
            cancelled_quantity=order["pending_quantity"],
            pending_quantity=0,
            updated_at=iso(self.clock.now()),
        )
        return Reply(200, order)

    def positions(self, request: MockRequest) -> Reply:
        """`getPositions`: the account's positions from its filled orders."""
        account = request.headers["x-trading-account-id"]
        books: dict[tuple[str, str, str], dict[str, Any]] = {}
        for order in self.orders.values():
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
            last = LAST_PRICES.get(symbol, DEFAULT_PRICE)
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
                    "average_price": money(average),
                    "last_price": money(last),
                    "pnl": money(sell_value - buy_value + quantity * last),
                }
            )
        return Reply(200, {"net": rows, "day": rows})

    # -- provider states -----------------------------------------------------------------
    def _state_order(self, params: Mapping[str, Any], status: str) -> None:
        quantity = int(params.get("quantity", 100))
        filled = quantity if status == "COMPLETE" else 0
        now = iso(self.clock.now())
        self.orders[params["order_id"]] = {
            "order_id": params["order_id"],
            "trading_account_id": params["account_id"],
            "strategy_id": None,
            "exchange": "NSE",
            "tradingsymbol": "INFY",
            "transaction_type": "BUY",
            "order_type": "LIMIT",
            "product": "MIS",
            "variety": "regular",
            "validity": "DAY",
            "quantity": quantity,
            "price": "1520.4",
            "trigger_price": None,
            "status": status,
            "status_message": None,
            "filled_quantity": filled,
            "pending_quantity": quantity - filled,
            "cancelled_quantity": 0,
            "average_price": "1520.4" if filled else "0",
            "placed_by": "algo_engine",
            "placed_at": now,
            "updated_at": now,
            "anomalies": [],
        }

    def _state_open(self, params: Mapping[str, Any]) -> None:
        self._state_order(params, "OPEN")

    def _state_complete(self, params: Mapping[str, Any]) -> None:
        self._state_order(params, "COMPLETE")


def _integral(body: dict[str, Any]) -> dict[str, Any]:
    """JSON Schema counts 5.0 as an integer; the book counts shares as ints."""
    return {k: int(v) if k in ("quantity", "strategy_id") and isinstance(v, float) else v for k, v in body.items()}
