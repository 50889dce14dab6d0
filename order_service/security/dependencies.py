"""FastAPI dependencies of the order endpoints: the calling service, the user, the account.

    @router.post("/orders")
    async def place_order(
        order_request: PlaceOrderRequest,
        current_user: User = Depends(get_current_user),
        trading_account_id: str = Depends(get_trading_account_id),
        service_identity: str = Depends(validate_order_placement),
    ): ...

The app keeps a `SecurityContext` in `app.state.security`; every `SecurityError` is
answered by `security_error_handler` (401/403, a JSON body in general words) and written to
the audit log with its exact reason, and counted by reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter

from order_service.security.audit import audit_event
from order_service.security.errors import SecurityError
from order_service.security.identity import CriticalServiceAuth
from order_service.security.users import User, UserTokens
from order_service.security.verifying import RequestVerifier, SignedRequest


@dataclass
class SecurityContext:
    verifier: RequestVerifier
    services: CriticalServiceAuth
    users: UserTokens
    failures: Counter  # order_service_auth_failures_total{reason}


def _context(request: Request) -> SecurityContext:
    context: SecurityContext = request.app.state.security
    return context


def signed_request(request: Request, body: bytes) -> SignedRequest:
    raw_path: bytes = request.scope.get("raw_path") or request.scope["path"].encode()
    headers: dict[str, list[str]] = {}
    for name, value in request.scope["headers"]:
        headers.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    return SignedRequest(
        method=request.method,
        path=raw_path.split(b"?", 1)[0].decode("latin-1"),
        query=request.scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        body=body,
    )


async def get_current_user(request: Request) -> User:
    return _context(request).users.user_from_header(request.headers.get("authorization"))


async def get_trading_account_id(request: Request, user: Annotated[User, Depends(get_current_user)]) -> str:
    return UserTokens.account_for(user, request.headers.get("x-trading-account-id"))


def require_service(operation: str) -> Callable[[Request], Awaitable[str]]:
    """A dependency: the request is signed by a known service allowed `operation`; its identity."""

    async def service_identity(request: Request) -> str:
        context = _context(request)
        identity = await context.verifier.verify(signed_request(request, await request.body()))
        context.services.authorize(identity, operation)
        return identity

    service_identity.__name__ = f"validate_{operation}"
    return service_identity


validate_order_placement = require_service("place_order")
validate_order_modification = require_service("modify_order")
validate_order_cancellation = require_service("cancel_order")
validate_order_listing = require_service("get_orders")
validate_positions_access = require_service("get_positions")


async def security_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SecurityError)
    _context(request).failures.labels(exc.reason).inc()
    audit_event(
        "auth_failure",
        reason=exc.reason,
        detail=exc.detail,
        identity=exc.identity,
        status=exc.status,
        method=request.method,
        path=request.url.path,
    )
    code = "unauthorized" if exc.status == 401 else "forbidden"
    headers = {"WWW-Authenticate": _challenge(exc.reason)} if exc.status == 401 else None
    return JSONResponse({"error": code, "message": exc.public_message}, status_code=exc.status, headers=headers)


def _challenge(reason: str) -> str:
    """What a 401 asks for (RFC 9110 11.6.1): a user token, or a signed request."""
    if reason == "bad_token":
        return 'Bearer realm="order-service"'
    return 'Signature realm="order-service", headers="x-service-identity x-internal-api-key x-request-timestamp"'
