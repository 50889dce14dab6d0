"""Consumer pacts of the order service's own API: algo_engine places, modifies and cancels orders.

Driven through `suites.pact.algo_engine.AlgoEngineOrders`, signed with v2 as algo_engine
signs. The pact keeps the user token and the account each request carries (the token as a
pattern: a verifier mints a fresh one), and `X-Service-Identity`, which says who signs it
afresh on replay. The signing headers are kept by their form (the covered list exactly, so
the pact proves algo_engine signs v2 over the token and the account); a verifier replaces
them all with a fresh signature (`harness verify-pacts --dev`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pact import Pact, match

from order_service.security.dev import dev_signer, dev_user_token
from suites.fixtures.orders import LIMIT_ORDER
from suites.pact.algo_engine import CONSUMER, PROVIDER, AlgoEngineOrders
from suites.pact.matchers import JSON, idempotency_key, money, timestamp

pytestmark = [pytest.mark.anyio, pytest.mark.pact]
NewPact = Callable[..., Pact]
TOKEN = r"^Bearer [A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$"
EXAMPLE_TOKEN = "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJl"
MODIFIED = "261126000000042"  # the open orders the provider states make
CANCELLED = "261126000000043"
PLACE_COVERS = "authorization;x-trading-account-id;idempotency-key;content-type"


def order(status: str, quantity: int, price: str, **fields: Any) -> dict[str, Any]:
    """An order as the contract answers it: what algo_engine relies on exactly, the rest by pattern."""
    return {
        "order_id": match.regex(fields.pop("order_id", "261126000000001"), regex=r"^[0-9]{15}$"),
        "trading_account_id": "ZX1234",
        "strategy_id": None,
        "exchange": "NSE",
        "tradingsymbol": "INFY",
        "transaction_type": "BUY",
        "order_type": "LIMIT",
        "product": "MIS",
        "variety": "regular",
        "validity": "DAY",
        "quantity": quantity,
        "price": money(price),
        "trigger_price": None,
        "status": status,
        "status_message": fields.pop("status_message", None),
        "filled_quantity": 0,
        "pending_quantity": fields.pop("pending_quantity", quantity),
        "cancelled_quantity": fields.pop("cancelled_quantity", 0),
        "average_price": money("0"),
        "placed_by": "algo_engine",
        "tag": None,
        "placed_at": timestamp(),
        "updated_at": timestamp(),
        "anomalies": [],
    }


def signed_request(pact: Pact, description: str, method: str, path: str, covered: str) -> Any:
    """A request as algo_engine signs it (v2): the signing headers by their form, the covered list exactly."""
    return (
        pact.upon_receiving(description)
        .with_request(method, path)
        .with_header("Authorization", match.regex(EXAMPLE_TOKEN, regex=TOKEN))
        .with_header("X-Trading-Account-Id", "ZX1234")
        .with_header("X-Service-Identity", "algo_engine")
        .with_header("X-Internal-API-Key", match.regex("example-api-key-0000", regex=r"^[A-Za-z0-9_-]{16,128}$"))
        .with_header("X-Request-Timestamp", match.regex("1795700000", regex=r"^[0-9]{1,12}$"))
        .with_header("X-Request-Signature", match.regex("0" * 64, regex=r"^[0-9a-f]{64}$"))
        .with_header("X-Signature-Version", "2")
        .with_header("X-Signed-Headers", covered)
    )


def algo_engine(url: str) -> AlgoEngineOrders:
    return AlgoEngineOrders(url, dev_signer("algo_engine"), dev_user_token(), "ZX1234")


async def test_place_a_limit_order(new_pact: NewPact) -> None:
    pact = new_pact(PROVIDER, CONSUMER)
    (
        signed_request(pact, "algo_engine places a LIMIT order", "POST", "/orders", PLACE_COVERS)
        .given("the user may trade for ZX1234")
        .with_header("Idempotency-Key", idempotency_key("order", 1))
        .with_body(LIMIT_ORDER, content_type=JSON)
        .will_respond_with(201)
        .with_body(order("OPEN", 10, "1500"), content_type=JSON)
    )
    with pact.serve() as server:
        async with algo_engine(str(server.url)) as client:
            placed = await client.place(LIMIT_ORDER, f"order-{1:032x}")
    assert placed["status"] == "OPEN"


async def test_modify_an_open_order(new_pact: NewPact) -> None:
    pact = new_pact(PROVIDER, CONSUMER)
    (
        signed_request(
            pact,
            "algo_engine modifies an open order",
            "PATCH",
            f"/orders/{MODIFIED}",
            "authorization;x-trading-account-id;content-type",
        )
        .given("an open LIMIT order of ZX1234", order_id=MODIFIED)
        .with_body({"quantity": 20, "price": "1490"}, content_type=JSON)
        .will_respond_with(200)
        .with_body(order("OPEN", 20, "1490", order_id=MODIFIED), content_type=JSON)
    )
    with pact.serve() as server:
        async with algo_engine(str(server.url)) as client:
            modified = await client.modify(MODIFIED, {"quantity": 20, "price": "1490"})
    assert modified["quantity"] == 20


async def test_cancel_an_open_order(new_pact: NewPact) -> None:
    pact = new_pact(PROVIDER, CONSUMER)
    cancelled = order(
        "CANCELLED",
        10,
        "1500",
        order_id=CANCELLED,
        status_message=match.str("cancelled by algo_engine"),
        pending_quantity=0,
        cancelled_quantity=10,
    )
    (
        signed_request(
            pact,
            "algo_engine cancels an open order",
            "DELETE",
            f"/orders/{CANCELLED}",
            "authorization;x-trading-account-id",
        )
        .given("an open LIMIT order of ZX1234", order_id=CANCELLED)
        .will_respond_with(200)
        .with_body(cancelled, content_type=JSON)
    )
    with pact.serve() as server:
        async with algo_engine(str(server.url)) as client:
            answer = await client.cancel(CANCELLED)
    assert answer["status"] == "CANCELLED"
