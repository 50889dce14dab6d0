"""Limits on what a request may carry, enforced before anything of it is parsed.

`RequestLimits` (a plain ASGI layer) answers 431 when the request line and headers exceed
`max_header_bytes`, 413 when `Content-Length` declares more than `max_body_bytes`, and 413
while the body is read when it grows past the limit without declaring it (chunked): the
bytes past the limit are never kept. Each answer is the contracts' JSON error body.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.exceptions import HTTPException


class BodyTooLarge(HTTPException):
    """The body grew past the limit while it was read (answered 413 by the app's error handlers)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body exceeds {limit} bytes")


class RequestLimits:
    """See the module doc; `app` is the order service's ASGI app."""

    def __init__(self, app: Any, *, max_body_bytes: int, max_header_bytes: int) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.max_headers = max_header_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope["headers"]
        head = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        head += sum(len(name) + len(value) + 4 for name, value in headers)
        if head > self.max_headers:
            message = f"the request target and headers are {head} bytes; the limit is {self.max_headers}"
            await _refuse(send, 431, "bad_request", message)
            return
        declared = [value for name, value in headers if name == b"content-length"]
        if declared and (len(declared) > 1 or not declared[0].isdigit()):
            await _refuse(send, 400, "bad_request", "Content-Length must be one decimal number")
            return
        if declared and int(declared[0]) > self.max_body:
            await _refuse(send, 413, "payload_too_large", f"request body exceeds {self.max_body} bytes")
            return
        received = 0

        async def limited() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge(self.max_body)
            return message

        await self.app(scope, limited, send)


async def _refuse(send: Any, status: int, error: str, message: str) -> None:
    body = orjson.dumps({"error": error, "message": message})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            # the rest of the request is not read: the connection cannot carry another one
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})
