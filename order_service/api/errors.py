"""The order service's error answers: one JSON body for all, and a table from exception to answer.

Every refusal has the contracts' body `{"error": ..., "message": ..., "violations": [...]}`;
`ERROR_ANSWERS` says which status and code each exception of the service gets.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import redis.asyncio as aioredis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from order_service.api.desk import OrderRefused, RateLimited, StrategyRefused
from order_service.errors import ServiceUnavailableError, StoreUnavailableError
from order_service.orders.book import InvalidOrder, OrderFinal, OrderNotFound
from order_service.orders.store import KeyInProgress, KeyReused
from order_service.orders.suspensions import AccountSuspended, NotSuspended
from order_service.security.audit import audit_event
from order_service.security.dependencies import security_error_handler
from order_service.security.errors import SecurityError

log = logging.getLogger("order_service.api")


class FastJSONResponse(JSONResponse):
    """JSON by orjson: the order answers are plain dicts of str, int and None, and json.dumps showed in profiles."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _error(
    status: int,
    error: str,
    message: str,
    violations: list[dict[str, str]] | None = None,
    *,
    retry_after: int | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error": error, "message": message}
    if violations:
        body["violations"] = violations
    headers = dict(headers or {})
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return FastJSONResponse(body, status_code=status, headers=headers)


def _violation(location: str, field: str, reason: str) -> JSONResponse:
    """A 422 for one rule the contract's schema cannot express."""
    return _error(
        422,
        "validation_failed",
        "the request does not match the contract",
        [{"location": location, "field": field, "reason": reason}],
    )


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    violations = []
    for err in exc.errors():
        location = str(err["loc"][0]) if err["loc"] else "body"
        violations.append(
            {
                "location": location if location in ("path", "query", "header", "body") else "body",
                "field": ".".join(str(p) for p in err["loc"][1:]),
                "reason": str(err["msg"]),
            }
        )
    return _error(422, "validation_failed", "the request does not match the contract", violations)


METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _serves(request: Request, method: str) -> bool:
    """Whether a route of the app answers `method` on this request's path (asked as the router asks)."""
    scope = {**request.scope, "method": method}
    return any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """Routing errors in the contract's error body; a 405 lists every method the path serves."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        allowed = [method for method in METHODS if _serves(request, method)]
        return _error(
            405, "method_not_allowed", f"{request.method} is not served here", headers={"Allow": ", ".join(allowed)}
        )
    code = {404: "not_found", 413: "payload_too_large", 415: "unsupported_media_type"}.get(
        exc.status_code, "bad_request"
    )
    return _error(exc.status_code, code, str(exc.detail), headers=dict(exc.headers or {}))


def _refused(exc: OrderRefused) -> JSONResponse:
    def reason(a: Any) -> str:
        return f"{a.type.value} {a.severity.value}: {a.observed} over {a.threshold}"

    reasons = [
        {
            "location": "body",
            "field": "",
            "reason": f"{a.type.value} {a.severity.value}: {a.observed} over {a.threshold}",
        }
        for a in exc.verdict.anomalies
    ]
    return _error(422, "validation_failed", "the order was refused: a CRITICAL anomaly", reasons)


def _suspended(exc: AccountSuspended) -> JSONResponse:
    body = {"error": "forbidden", "message": str(exc), "suspension": exc.suspension.as_dict()}
    return FastJSONResponse(body, status_code=403)


def _redis_down(exc: Exception) -> JSONResponse:
    log.error("REDIS_UNAVAILABLE: order operations refused: %s", exc)
    message = "orders are refused while Redis is unavailable (duplicates and limits cannot be guaranteed)"
    return _error(503, "unavailable", message, retry_after=1)


def _store_down(exc: Exception) -> JSONResponse:
    log.error("ORDER_STORE_UNAVAILABLE: order operations refused: %s", exc)
    return _error(503, "unavailable", "orders are refused while the order database is unavailable", retry_after=1)


# exception -> its answer; Starlette answers with the row of the nearest class in the exception's MRO
ERROR_ANSWERS: tuple[tuple[type[Exception], Callable[[Any], JSONResponse]], ...] = (
    (OrderNotFound, lambda exc: _error(404, "not_found", str(exc))),
    (OrderRefused, _refused),
    (AccountSuspended, _suspended),
    (NotSuspended, lambda exc: _error(404, "not_found", str(exc))),
    (RateLimited, lambda exc: _error(429, "rate_limited", str(exc), retry_after=exc.retry_after)),
    (KeyInProgress, lambda exc: _error(409, "conflict", str(exc))),
    (KeyReused, lambda exc: _violation("header", "Idempotency-Key", str(exc))),
    (StrategyRefused, lambda exc: _violation("body", "strategy_id", str(exc))),
    (aioredis.RedisError, _redis_down),
    (StoreUnavailableError, _store_down),
    (
        ServiceUnavailableError,
        lambda exc: _error(503, "unavailable", f"a service the order depends on is unavailable: {exc}", retry_after=1),
    ),
    (InvalidOrder, lambda exc: _violation("body", exc.field, str(exc))),
    (OrderFinal, lambda exc: _error(409, "conflict", str(exc))),
)


def _audited(response: JSONResponse, request: Request) -> JSONResponse:
    """A refused order request leaves an `AUDIT_EVENT` (security refusals write their own, with the reason)."""
    if request.url.path.startswith(("/orders", "/positions")):
        body = orjson.loads(bytes(response.body))
        audit_event(
            "order_refused",
            method=request.method,
            path=request.url.path,
            status=response.status_code,
            error=body.get("error"),
            message=body.get("message"),
        )
    return response


def _handler(answer: Callable[[Any], JSONResponse]) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def handle(_: Request, exc: Exception) -> JSONResponse:
        return answer(exc)

    return handle


def _audit_too(
    handler: Callable[[Request, Exception], Awaitable[JSONResponse]],
) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        return _audited(await handler(request, exc), request)

    return handle


def install_error_handlers(app: FastAPI) -> None:
    """Every error answer of the service on `app`: security, validation, routing and `ERROR_ANSWERS`."""
    app.add_exception_handler(SecurityError, security_error_handler)
    app.add_exception_handler(RequestValidationError, _audit_too(_invalid))
    app.add_exception_handler(StarletteHTTPException, _audit_too(_http_error))
    for kind, answer in ERROR_ANSWERS:
        # the anomaly policy's refusal is audited where it is decided, with the findings
        handler = _handler(answer)
        app.add_exception_handler(kind, handler if kind is OrderRefused else _audit_too(handler))
