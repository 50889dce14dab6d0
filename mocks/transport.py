"""An in-process httpx transport to a mock that fails the way a network does.

`httpx.ASGITransport` re-raises whatever the app raises and ignores timeouts. Over this
transport a dropped connection is `httpx.RemoteProtocolError` and a hang ends in
`httpx.ReadTimeout` after the request's read timeout, as they would over a socket, so
client code sees the same errors in-process as against a real server.
"""

from __future__ import annotations

import asyncio

import httpx

from mocks.app import MockApp
from mocks.engine import ConnectionDropped


class MockTransport(httpx.AsyncBaseTransport):
    """An httpx transport into a mock app that fails like a network: drops and hangs raise as httpx would."""

    def __init__(self, app: MockApp) -> None:
        self._inner = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """One request through the app, with the mock's faults."""
        timeout = request.extensions.get("timeout", {}).get("read")
        try:
            return await asyncio.wait_for(self._inner.handle_async_request(request), timeout)
        except ConnectionDropped as exc:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request) from exc
        except TimeoutError as exc:
            raise httpx.ReadTimeout("timed out waiting for the mock's answer", request=request) from exc

    async def aclose(self) -> None:
        """Nothing to close: no socket was opened."""
        await self._inner.aclose()
