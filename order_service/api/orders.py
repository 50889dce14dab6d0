"""The order endpoints of `contracts/order-service.yaml`: place, list, read, modify, cancel, positions.

Each needs, checked in this order: a signed request from a service allowed the operation
(signature, then the service matrix), a user token, and a trading account the user may act
for (the `validate_*` and `get_trading_account_id` dependencies of `order_service.security`).
Only then is a body parsed: a type other than JSON is 415, bytes that are not JSON are 400,
JSON that breaks the contract is 422.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException

from order_service.api.desk import OrderDesk
from order_service.api.errors import FastJSONResponse
from order_service.orders.models import ModifyOrderRequest, OrderStatus, PlaceOrderRequest
from order_service.security.dependencies import (
    get_trading_account_id,
    validate_order_cancellation,
    validate_order_listing,
    validate_order_modification,
    validate_order_placement,
    validate_positions_access,
)

ORDER_ID = Annotated[str, Path(pattern=r"^[0-9]{15}$")]
ACCOUNT_ID_PATTERN = r"^[A-Z]{2}[0-9]{4,6}$"
NONCE_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"


async def contract_headers(
    _account: Annotated[str | None, Header(alias="X-Trading-Account-Id", pattern=ACCOUNT_ID_PATTERN)] = None,
    _nonce: Annotated[str | None, Header(alias="X-Request-Nonce", pattern=NONCE_PATTERN)] = None,
) -> None:
    """The form the contract gives these headers (a missing account header is the security check's 401)."""


ORDER_HEADERS = [Depends(contract_headers)]
M = TypeVar("M", bound=BaseModel)


async def contract_body(request: Request, model: type[M]) -> M:
    """The request's JSON body as `model` (415, 400 or 422 otherwise); called after authentication."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise HTTPException(415, f"content type {content_type or '(none)'!r} is not accepted; use application/json")
    raw = await request.body()
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise HTTPException(400, f"request body is not valid JSON: {exc}") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
        raise RequestValidationError(errors, body=data) from exc


def build_orders_router(desk: OrderDesk) -> APIRouter:
    """The order endpoints, served by `desk`."""
    router = APIRouter(default_response_class=FastJSONResponse)

    @router.post("/orders", status_code=201, dependencies=ORDER_HEADERS)
    async def place_order(
        request: Request,
        service_identity: Annotated[str, Depends(validate_order_placement)],
        trading_account_id: Annotated[str, Depends(get_trading_account_id)],
        idempotency_key: Annotated[
            str | None, Header(alias="Idempotency-Key", min_length=8, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")
        ] = None,
    ) -> JSONResponse:
        order_request = await contract_body(request, PlaceOrderRequest)
        status, order = await desk.place(
            trading_account_id, service_identity, order_request, await request.body(), idempotency_key
        )
        return FastJSONResponse(order, status_code=status)

    @router.get("/orders", dependencies=ORDER_HEADERS)
    async def list_orders(
        _service: Annotated[str, Depends(validate_order_listing)],
        trading_account_id: Annotated[str, Depends(get_trading_account_id)],
        status: Annotated[OrderStatus | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        cursor: Annotated[str | None, Query(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")] = None,
    ) -> dict[str, Any]:
        items, next_cursor = await desk.store.page(trading_account_id, status, limit, cursor)
        return {"items": items, "next_cursor": next_cursor}

    @router.get("/orders/{order_id}", dependencies=ORDER_HEADERS)
    async def get_order(
        order_id: ORDER_ID,
        _service: Annotated[str, Depends(validate_order_listing)],
        trading_account_id: Annotated[str, Depends(get_trading_account_id)],
    ) -> dict[str, Any]:
        return await desk.store.get(trading_account_id, order_id)

    @router.patch("/orders/{order_id}", dependencies=ORDER_HEADERS)
    async def modify_order(
        request: Request,
        order_id: ORDER_ID,
        service_identity: Annotated[str, Depends(validate_order_modification)],
        trading_account_id: Annotated[str, Depends(get_trading_account_id)],
    ) -> dict[str, Any]:
        change = await contract_body(request, ModifyOrderRequest)
        return await desk.modify(trading_account_id, service_identity, order_id, change)

    @router.delete("/orders/{order_id}", dependencies=ORDER_HEADERS)
    async def cancel_order(
        order_id: ORDER_ID,
        service_identity: Annotated[str, Depends(validate_order_cancellation)],
        trading_account_id: Annotated[str, Depends(get_trading_account_id)],
    ) -> dict[str, Any]:
        return await desk.cancel(trading_account_id, service_identity, order_id)

    @router.get("/positions", dependencies=ORDER_HEADERS)
    async def get_positions(
        _service: Annotated[str, Depends(validate_positions_access)],
        trading_account_id: Annotated[str, Depends(get_trading_account_id)],
    ) -> dict[str, Any]:
        rows = await desk.positions(trading_account_id)
        return {"net": rows, "day": rows}

    return router
