"""Request signing, version 1: the string that is signed, and the signer.

The signed string is seven fields joined by "\\n": the timestamp as sent, the method in
upper case, the path exactly as sent on the wire, the canonical query, the service
identity, the nonce (empty when absent) and the lowercase hex SHA-256 of the raw body.
The canonical query is parsed as a server parses it (form-urlencoded: "+" is a space,
%XX is UTF-8, a name without "=" has the empty value), sorted by name then value (code
point), each name and value re-encoded per RFC 3986 (unreserved kept, every other byte
as upper-case %XX), written name=value and joined by "&". Signature: lowercase hex
HMAC-SHA256 with the service's signing secret. Test vectors: `signing_vectors.json` beside this module.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Generator
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, quote

import httpx

IDENTITY = "x-service-identity"
API_KEY = "x-internal-api-key"
TIMESTAMP = "x-request-timestamp"
SIGNATURE = "x-request-signature"
NONCE = "x-request-nonce"


def published_vectors() -> list[dict[str, Any]]:
    """The published test vectors: requests, their canonical queries, signed strings and signatures."""
    text = resources.files("order_service.security").joinpath("signing_vectors.json").read_text()
    vectors: list[dict[str, Any]] = json.loads(text)["vectors"]
    return vectors


def canonical_query(query: str) -> str:
    """The query as the server will read it, in one canonical spelling."""
    pairs = parse_qsl(query, keep_blank_values=True)
    return "&".join(f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in sorted(pairs))


def string_to_sign(
    *, timestamp: str, method: str, path: str, query: str, identity: str, nonce: str | None, body: bytes
) -> str:
    return "\n".join(
        (
            timestamp,
            method.upper(),
            path,
            canonical_query(query),
            identity,
            nonce or "",
            hashlib.sha256(body).hexdigest(),
        )
    )


def signature(secret: bytes, signed: str) -> str:
    return hmac.new(secret, signed.encode("utf-8"), hashlib.sha256).hexdigest()


class RequestSigner(httpx.Auth):
    """Adds the signing headers (and a fresh nonce) to every request of an httpx client."""

    requires_request_body = True  # httpx reads it: the signature covers the body

    def __init__(
        self,
        *,
        identity: str,
        api_key: str,
        secret: bytes,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str | None] = lambda: secrets.token_urlsafe(16),
    ) -> None:
        self._identity = identity
        self._api_key = api_key
        self._secret = secret
        self._clock = clock
        self._nonce = nonce

    def sign(self, request: httpx.Request) -> None:
        timestamp = str(int(self._clock()))
        nonce = self._nonce()
        path, _, _ = request.url.raw_path.decode("ascii").partition("?")
        signed = string_to_sign(
            timestamp=timestamp,
            method=request.method,
            path=path,
            query=request.url.query.decode("ascii"),
            identity=self._identity,
            nonce=nonce,
            body=request.content,
        )
        request.headers[IDENTITY] = self._identity
        request.headers[API_KEY] = self._api_key
        request.headers[TIMESTAMP] = timestamp
        request.headers[SIGNATURE] = signature(self._secret, signed)
        if nonce:
            request.headers[NONCE] = nonce

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.sign(request)
        yield request
