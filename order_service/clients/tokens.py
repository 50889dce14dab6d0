"""Service tokens for calls to the owning services (OAuth 2.0 client credentials, `contracts/auth-service.yaml`).

`ServiceTokens` fetches a token from the auth service's token endpoint and keeps it until
`refresh_margin` seconds before it expires; many calls that find it missing or stale at
once share one fetch (single flight). `ServiceTokenAuth` is the `httpx.Auth` the clients
use: it puts `Authorization: Bearer <token>` on each request and, when an owner answers
401 (an expired or revoked token), drops that token, fetches a new one once and sends
the request once more. A token endpoint that cannot be reached raises
`TokenUnavailableError`, a `ServiceUnavailableError`: the clients' fallbacks apply (a
read may answer from the stale cache, a write waits in the outbox) and the owner's
circuit breaker is not charged. Tokens and secrets are never logged: the error messages
name the auth service and the status, not the body.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass

import httpx

from order_service.errors import ServiceUnavailableError

log = logging.getLogger("order_service.clients.tokens")
SERVICE = "auth-service"


class TokenUnavailableError(ServiceUnavailableError):
    """No service token could be had: the auth service is away, or refused the client."""


@dataclass(frozen=True)
class Token:
    """A fetched token and when to stop using it."""

    value: str
    expires_at: float  # on the `clock` of the ServiceTokens that fetched it

    def __repr__(self) -> str:
        return f"Token(expires_at={self.expires_at:.0f})"  # the value stays out of logs and tracebacks


class ServiceTokens:
    """The client's current service token (see the module doc)."""

    def __init__(
        self,
        token_url: str | Callable[[], Awaitable[str]],
        client_id: str,
        client_secret: str,
        *,
        scope: str | None = None,
        refresh_margin: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self._token_url = token_url
        self._form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
        if scope:
            self._form["scope"] = scope
        self._margin = refresh_margin
        self._clock = clock
        self._http = httpx.AsyncClient(transport=transport, timeout=timeout, trust_env=False, verify=verify)
        self._token: Token | None = None
        self._flight: asyncio.Future[Token] | None = None
        self.fetches = 0  # how many times a token was fetched (for tests and metrics)

    async def token(self) -> str:
        """A token valid for at least `refresh_margin` more seconds, fetched only when needed."""
        current = self._token
        if current is not None and self._clock() < current.expires_at - self._margin:
            return current.value
        return (await self._refresh()).value

    def drop(self, value: str) -> None:
        """Forget `value` (an owner refused it); a newer token already fetched is kept."""
        if self._token is not None and self._token.value == value:
            self._token = None

    async def _refresh(self) -> Token:
        if self._flight is None:
            self._flight = asyncio.ensure_future(self._fetch())
            self._flight.add_done_callback(self._landed)
        return await asyncio.shield(self._flight)

    def _landed(self, flight: asyncio.Future[Token]) -> None:
        self._flight = None
        if not flight.cancelled() and flight.exception() is None:
            self._token = flight.result()

    async def _fetch(self) -> Token:
        url = await self._token_url() if callable(self._token_url) else self._token_url
        asked = self._clock()
        try:
            answer = await self._http.post(url, data=self._form)
        except httpx.HTTPError as exc:
            raise TokenUnavailableError(
                f"{SERVICE}: cannot get a service token ({type(exc).__name__})", service=SERVICE, operation="issueToken"
            ) from exc
        if answer.status_code != 200:
            raise TokenUnavailableError(
                f"{SERVICE}: no service token (answered {answer.status_code})", service=SERVICE, operation="issueToken"
            )
        body = answer.json()
        self.fetches += 1
        log.info("SERVICE_TOKEN_FETCHED expires in %s s", body.get("expires_in"))
        # counted from the moment it was asked for: the token cannot outlive what it was granted
        return Token(str(body["access_token"]), asked + float(body["expires_in"]))

    async def aclose(self) -> None:
        """Close the connection to the auth service."""
        await self._http.aclose()


class ServiceTokenAuth(httpx.Auth):
    """`Authorization: Bearer` from `ServiceTokens`, with one refresh and one retry after a 401."""

    def __init__(self, tokens: ServiceTokens) -> None:
        self.tokens = tokens

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Send with the current token; after a 401, once more with a fresh one."""
        token = await self.tokens.token()
        request.headers["authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401:
            return
        self.tokens.drop(token)
        fresh = await self.tokens.token()
        if fresh == token:
            return  # a 401 for a token just fetched is not an expiry: no loop
        await response.aread()
        request.headers["authorization"] = f"Bearer {fresh}"
        yield request
