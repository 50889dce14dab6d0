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
from order_service.security.errors import AuthenticationError, AuthorizationError, SecurityError
from order_service.security.identity import CriticalServiceAuth
from order_service.security.users import User, UserTokens
from order_service.security.verifying import ORDER_ENDPOINTS, SERVICE_ONLY, Coverage, RequestVerifier, SignedRequest


@dataclass
class SecurityContext:
    verifier: RequestVerifier
    services: CriticalServiceAuth
    users: UserTokens
    failures: Counter  # order_service_auth_failures_total{reason}
    suspension_managers: frozenset[str] = frozenset()  # who may read and lift suspensions
    certificate_bound: bool = False  # mutual TLS: the client certificate must name X-Service-Identity


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
    return _context(request).users.user_from_header(_once(request, "authorization"))


async def get_trading_account_id(request: Request, user: Annotated[User, Depends(get_current_user)]) -> str:
    return UserTokens.account_for(user, _once(request, "x-trading-account-id"))


def _once(request: Request, name: str) -> str | None:
    """The header's value; refused when sent twice (which one would count is up to each reader)."""
    values = request.headers.getlist(name)
    if len(values) > 1:
        raise AuthenticationError("duplicate_header", f"{name} was sent {len(values)} times")
    return values[0] if values else None


async def _signed_identity(request: Request, coverage: Coverage) -> str:
    """The verified identity of a signed request (v2 covering what `coverage` names), bound to its certificate."""
    context = _context(request)
    identity = await context.verifier.verify(signed_request(request, await request.body()), coverage)
    _bound_to_certificate(request, context, identity)
    return identity


def require_service(operation: str) -> Callable[[Request], Awaitable[str]]:
    """A dependency: the request is signed by a known service allowed `operation`; its identity.

    A v2 signature must cover the user token and the account (`ORDER_ENDPOINTS`).
    """

    async def service_identity(request: Request) -> str:
        identity = await _signed_identity(request, ORDER_ENDPOINTS)
        _context(request).services.authorize(identity, operation)
        return identity

    service_identity.__name__ = f"validate_{operation}"
    return service_identity


async def validate_suspension_management(request: Request) -> str:
    """A signed request (no user, no account) from an identity that may read and lift suspensions; its identity."""
    identity = await _signed_identity(request, SERVICE_ONLY)
    if identity not in _context(request).suspension_managers:
        raise AuthorizationError("operation_not_allowed", f"{identity} may not manage suspensions", identity=identity)
    return identity


def _bound_to_certificate(request: Request, context: SecurityContext, identity: str) -> None:
    """Under mutual TLS, the signed identity must be the one the client certificate names (403 otherwise)."""
    if not context.certificate_bound:
        return
    tls = request.scope.get("extensions", {}).get("tls")
    if tls is None:
        raise AuthenticationError("certificate_required", "no client certificate on this connection", identity=identity)
    named = tls.get("client_identity")
    if named != identity:
        raise AuthorizationError(
            "certificate_identity",
            f"the client certificate names {named!r}, the request {identity!r}",
            identity=identity,
        )


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
