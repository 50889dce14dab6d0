"""The development configuration: dev keys for every identity, for `make mocks`, the suites and manual runs.

Never used unless asked for by name; production settings come from the environment.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jwt

from order_service.security.signing import RequestSigner
from order_service.settings import SecuritySettings

DEV_CREDENTIALS = Path(__file__).with_name("dev_credentials.json")


def _dev() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DEV_CREDENTIALS.read_text())
    return data


def dev_security_settings() -> SecuritySettings:
    jwt_config = _dev()["jwt"]
    return SecuritySettings(
        credentials_file=DEV_CREDENTIALS, jwt_secret=jwt_config["secret"], jwt_audience=jwt_config["audience"]
    )


def dev_service_token_client() -> tuple[str, str]:
    """(client id, client secret) of the order service's dev OAuth client (the auth-service mock knows it)."""
    client = _dev()["oauth_client"]
    return str(client["client_id"]), str(client["client_secret"])


def dev_signer(identity: str, **kwargs: Any) -> RequestSigner:
    """A signer with the dev keys of `identity` (its newest secret)."""
    entry = _dev()["services"][identity]
    return RequestSigner(
        identity=identity, api_key=entry["api_keys"][0], secret=entry["signing_secrets"][0].encode(), **kwargs
    )


def dev_user_token(subject: str = "user-1", accounts: tuple[str, ...] = ("ZX1234",), ttl: int = 3600) -> str:
    jwt_config = _dev()["jwt"]
    now = int(time.time())
    claims = {
        "sub": subject,
        "aud": jwt_config["audience"],
        "iat": now,
        "exp": now + ttl,
        "trading_accounts": list(accounts),
    }
    return jwt.encode(claims, jwt_config["secret"], algorithm="HS256")
