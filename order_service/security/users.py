"""User tokens (JWT): algorithm allow-list, required expiry, audience; accounts a user may act for."""

from __future__ import annotations

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


class UserTokens:
    def __init__(self, settings: SecuritySettings) -> None:
        key = settings.jwt_public_key or settings.jwt_secret
        if not key:
            raise ValueError("user tokens need security.jwt_secret or security.jwt_public_key")
        if "none" in (a.lower() for a in settings.jwt_algorithms):
            raise ValueError("the 'none' algorithm is never accepted")
        self._key = key
        self._settings = settings

    def user_from_header(self, authorization: str | None) -> User:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise AuthenticationError("bad_token", "no Bearer token")
        try:
            claims = jwt.decode(
                token.strip(),
                self._key,
                algorithms=self._settings.jwt_algorithms,
                audience=self._settings.jwt_audience,
                issuer=self._settings.jwt_issuer,
                options={"require": ["exp", "sub", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise AuthenticationError("bad_token", f"{type(exc).__name__}: {exc}") from exc
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
