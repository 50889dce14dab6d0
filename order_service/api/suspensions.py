"""The suspension endpoints of `contracts/order-service.yaml`: read and lift an account's suspension.

Only the identities of `suspension.managed_by` (risk_manager) may call them, with a signed
request and no user token (a v2 signature covers the idempotency key and content type
when sent). See `order_service.orders.suspensions` for the policy.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from order_service.api.desk import OrderDesk
from order_service.api.errors import FastJSONResponse
from order_service.api.orders import ORDER_HEADERS
from order_service.orders.suspensions import NotSuspended
from order_service.security.dependencies import validate_suspension_management

ACCOUNT_ID = Annotated[str, Path(pattern=r"^[A-Z]{2}[0-9]{4,6}$")]
MANAGER = Annotated[str, Depends(validate_suspension_management)]


def build_suspensions_router(desk: OrderDesk) -> APIRouter:
    """The suspension endpoints, served by `desk`."""
    router = APIRouter(default_response_class=FastJSONResponse)

    @router.get("/accounts/{account_id}/suspension", dependencies=ORDER_HEADERS)
    async def get_suspension(account_id: ACCOUNT_ID, _identity: MANAGER) -> dict[str, Any]:
        current = await desk.suspension(account_id)
        if current is None:
            raise NotSuspended(f"trading account {account_id} is not suspended")
        return current.as_dict()

    @router.delete("/accounts/{account_id}/suspension", dependencies=ORDER_HEADERS)
    async def lift_suspension(account_id: ACCOUNT_ID, identity: MANAGER) -> dict[str, Any]:
        lifted = await desk.lift(account_id, identity)
        if lifted is None:
            raise NotSuspended(f"trading account {account_id} is not suspended")
        return lifted.as_dict()

    return router
