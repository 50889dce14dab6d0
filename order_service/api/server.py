"""The order service's HTTP server: uvicorn, with a deadline for each request's headers.

uvicorn closes idle keep-alive connections, but a client that opens a connection and sends
its headers a byte at a time (slowloris) is held for ever. `HeaderDeadline` closes a
connection whose request headers are not complete `header_timeout` seconds after the
connection opened or the request began.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from order_service.settings import ServerSettings


class HeaderDeadline(HttpToolsProtocol):
    """httptools' protocol with the header deadline (see the module doc)."""

    header_timeout = 10.0  # set per server by `serve`
    _deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.header_timeout, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def serve(app: Any, host: str, port: int, settings: ServerSettings) -> None:
    """Run `app` until stopped, with the limits of `settings`."""
    protocol = type("OrderServiceHttp", (HeaderDeadline,), {"header_timeout": settings.header_timeout})
    uvicorn.run(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http=protocol,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=int(max(1, settings.keep_alive_timeout)),
        timeout_graceful_shutdown=3,
        h11_max_incomplete_event_size=settings.max_header_bytes,
    )
