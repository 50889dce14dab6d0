"""User tokens (JWT): algorithm allow-list, required expiry, audience; accounts a user may act for."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from order_service.security.errors import AuthenticationError, AuthorizationError
from order_service.settings import SecuritySettings


@dataclass(frozen=True)
class User:
    subject: str
    trading_accounts: frozenset[str]
    claims: dict[str, Any]


_TIME_CLAIMS = ("exp", "nbf", "iat")


class UserTokens:
    """Checks user tokens; a token already verified is remembered until it expires.

    A caller sends the same token with every request, and the signature check showed in
    profiles of order placement: the verified claims are kept by the token's exact text (a
    changed byte is a different entry and is checked in full), for at most `cache_size`
    tokens, and each use still checks the expiry against the clock.
    """

    def __init__(
        self, settings: SecuritySettings, *, clock: Callable[[], float] = time.time, cache_size: int = 10_000
    ) -> None:
        key = settings.jwt_public_key or settings.jwt_secret
        if not key:
            raise ValueError("user tokens need security.jwt_secret or security.jwt_public_key")
        if "none" in (a.lower() for a in settings.jwt_algorithms):
            raise ValueError("the 'none' algorithm is never accepted")
        self._key = key
        self._settings = settings
        self._clock = clock
        self._cache_size = cache_size
        self._verified: dict[str, tuple[User, float]] = {}

    def user_from_header(self, authorization: str | None) -> User:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise AuthenticationError("bad_token", "no Bearer token")
        token = token.strip()
        known = self._verified.get(token)
        if known is None:
            decoded = self._decode(token)
            if len(self._verified) >= self._cache_size:
                self._verified.clear()  # a simple bound: a full check refills it
            known = self._verified[token] = (decoded, float(decoded.claims["exp"]))
        user, expires = known
        if self._clock() >= expires:  # the service's clock decides, for remembered and new tokens alike
            del self._verified[token]
            raise AuthenticationError("bad_token", "ExpiredSignatureError: the token has expired")
        return user

    def _decode(self, token: str) -> User:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=self._settings.jwt_algorithms,
                audience=self._settings.jwt_audience,
                issuer=self._settings.jwt_issuer,
                options={"require": ["exp", "sub", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise AuthenticationError("bad_token", f"{type(exc).__name__}: {exc}") from exc
        for name in _TIME_CLAIMS:
            # PyJWT reads "1796154100" as a number; RFC 7519 NumericDate is a JSON number
            if name in claims and (isinstance(claims[name], bool) or not isinstance(claims[name], int | float)):
                raise AuthenticationError("bad_token", f"the {name} claim is not a JSON number")
        accounts = claims.get("trading_accounts", [])
        if not isinstance(accounts, list) or not all(isinstance(a, str) for a in accounts):
            raise AuthenticationError("bad_token", "trading_accounts claim is not a list of account ids")
        return User(str(claims["sub"]), frozenset(accounts), claims)

    @staticmethod
    def account_for(user: User, account_id: str | None) -> str:
        if not account_id:
            raise AuthenticationError("missing_header", "X-Trading-Account-Id is missing")
        if account_id not in user.trading_accounts:
            raise AuthorizationError("account_not_allowed", f"{user.subject} may not act for {account_id}")
        return account_id
