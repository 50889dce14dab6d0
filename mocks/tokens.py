"""Owner mocks that require a service token: `Authorization: Bearer <token>`, checked by introspection.

Off unless turned on: `PUT /__admin/token-check {"introspect_url": ".../oauth/introspect"}`
(`mocks up --require-service-tokens` does it for every owner, pointing at the auth-service
mock), or in process by setting `engine.token_check` to any `TokenCheck`. A request
without a token, or with one the auth service calls inactive (unknown, expired on its
clock, revoked), is answered 401 with `WWW-Authenticate: Bearer error="invalid_token"`
(RFC 6750 3.1) before anything else is checked. The token itself is never journalled in
full: `mocks.observed` leaves `authorization` out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

import httpx

from mocks.errors import RequestRejected

TokenCheck = Callable[[str], Awaitable[bool]]  # token -> active
CHALLENGE = (("www-authenticate", 'Bearer realm="owners", error="invalid_token"'),)


class IntrospectionCheck:
    """Ask an auth service's introspection endpoint (RFC 7662) whether a token is active."""

    def __init__(self, introspect_url: str, timeout: float = 2.0) -> None:
        self.introspect_url = introspect_url
        self._http = httpx.AsyncClient(timeout=timeout, trust_env=False)

    async def __call__(self, token: str) -> bool:
        """Whether the auth service calls `token` active (503 when it cannot be asked)."""
        try:
            answer = await self._http.post(self.introspect_url, data={"token": token})
        except httpx.HTTPError as exc:
            raise RequestRejected(503, "unavailable", f"the auth service cannot check tokens now: {exc}") from exc
        return answer.status_code == 200 and answer.json().get("active") is True

    async def aclose(self) -> None:
        """Close the connection to the auth service."""
        await self._http.aclose()


async def require_token(check: TokenCheck, headers: Mapping[str, str]) -> None:
    """Refuse (401) a request without an active bearer token."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise RequestRejected(
            401, "unauthorized", "a service token is required (Authorization: Bearer)", headers=CHALLENGE
        )
    if not await check(token.strip()):
        raise RequestRejected(
            401, "unauthorized", "the service token is not active (expired or revoked)", headers=CHALLENGE
        )
