"""Request signing, versions 1 and 2: the strings that are signed, and the signer.

Version 1's signed string is seven fields joined by "\\n": the timestamp as sent, the method in
upper case, the path exactly as sent on the wire, the canonical query, the service
identity, the nonce (empty when absent) and the lowercase hex SHA-256 of the raw body.
The canonical query is parsed as a server parses it (form-urlencoded: "+" is a space,
%XX is UTF-8, a name without "=" has the empty value), sorted by name then value (code
point), each name and value re-encoded per RFC 3986 (unreserved kept, every other byte
as upper-case %XX), written name=value and joined by "&". Signature: lowercase hex
HMAC-SHA256 with the service's signing secret. Test vectors: `signing_vectors.json` beside this module.

Version 2 (`X-Signature-Version: 2`) also covers the headers named in `X-Signed-Headers`
(lower case, ";"-separated, in signing order): its string is "v2", the v1 fields but the
body hash, the list as sent, one "name:value" line per listed header (the value trimmed of
spaces and tabs) and last the body hash. Test vectors: `signing_vectors_v2.json`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Generator, Sequence
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, quote

import httpx

IDENTITY = "x-service-identity"
API_KEY = "x-internal-api-key"
TIMESTAMP = "x-request-timestamp"
SIGNATURE = "x-request-signature"
NONCE = "x-request-nonce"
VERSION = "x-signature-version"
SIGNED_HEADERS = "x-signed-headers"
NEVER_SIGNED = frozenset({IDENTITY, API_KEY, TIMESTAMP, SIGNATURE, NONCE, VERSION, SIGNED_HEADERS})
_OWS = " \t"  # leading and trailing spaces and tabs of a covered value are not signed
# What the signer covers when present: the order endpoints require the first two, and the
# idempotency key and content type when they are sent.
COVERED = ("authorization", "x-trading-account-id", "idempotency-key", "content-type")


def published_vectors(version: int = 1) -> list[dict[str, Any]]:
    """The published test vectors: requests, their canonical queries, signed strings and signatures."""
    return _vector_file(version)["vectors"]  # type: ignore[no-any-return]


def published_refusals() -> list[dict[str, Any]]:
    """The published v2 refusal cases: a request breaking one rule of the spec, and the reason it is refused."""
    return _vector_file(2)["refusals"]  # type: ignore[no-any-return]


def _vector_file(version: int) -> dict[str, Any]:
    name = "signing_vectors.json" if version == 1 else f"signing_vectors_v{version}.json"
    loaded: dict[str, Any] = json.loads(resources.files("order_service.security").joinpath(name).read_text())
    return loaded


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


def string_to_sign_v2(
    *,
    timestamp: str,
    method: str,
    path: str,
    query: str,
    identity: str,
    nonce: str | None,
    signed_headers: str,
    covered: Sequence[str],
    body: bytes,
) -> str:
    """The v2 signed string; `covered` holds the values of the headers `signed_headers` lists, in its order."""
    names = signed_headers.split(";") if signed_headers else []
    if len(names) != len(covered):
        raise ValueError(f"{len(names)} header names listed but {len(covered)} values given")
    lines = [f"{name}:{value.strip(_OWS)}" for name, value in zip(names, covered, strict=True)]
    fields = ("v2", timestamp, method.upper(), path, canonical_query(query), identity, nonce or "", signed_headers)
    return "\n".join((*fields, *lines, hashlib.sha256(body).hexdigest()))


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
        version: int = 2,
        cover: Sequence[str] = COVERED,
    ) -> None:
        """Sign with `version` (1 or 2); v2 covers each header of `cover` the request carries."""
        if version not in (1, 2):
            raise ValueError(f"no signing version {version}")
        forbidden = NEVER_SIGNED.intersection(name.lower() for name in cover)
        if forbidden:
            raise ValueError(f"{sorted(forbidden)} may not be covered")
        self._version = version
        self._cover = tuple(name.lower() for name in cover)
        self._identity = identity
        self._api_key = api_key
        self._secret = secret
        self._clock = clock
        self._nonce = nonce

    def sign(self, request: httpx.Request) -> None:
        timestamp = str(int(self._clock()))
        nonce = self._nonce()
        path, _, _ = request.url.raw_path.decode("ascii").partition("?")
        for name in (VERSION, SIGNED_HEADERS, NONCE):
            request.headers.pop(name, None)  # signing afresh: what an earlier signature sent goes
        fields: dict[str, Any] = {
            "timestamp": timestamp,
            "method": request.method,
            "path": path,
            "query": request.url.query.decode("ascii"),
            "identity": self._identity,
            "nonce": nonce,
            "body": request.content,
        }
        if self._version == 1:
            signed = string_to_sign(**fields)
        else:
            names = [name for name in self._cover if name in request.headers]
            covered = [_single(request, name) for name in names]
            listed = ";".join(names)
            signed = string_to_sign_v2(**fields, signed_headers=listed, covered=covered)
            request.headers[VERSION] = "2"
            request.headers[SIGNED_HEADERS] = listed
        request.headers[IDENTITY] = self._identity
        request.headers[API_KEY] = self._api_key
        request.headers[TIMESTAMP] = timestamp
        request.headers[SIGNATURE] = signature(self._secret, signed)
        if nonce:
            request.headers[NONCE] = nonce

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.sign(request)
        yield request


def _single(request: httpx.Request, name: str) -> str:
    values = request.headers.get_list(name)
    if len(values) != 1:
        raise ValueError(f"cannot sign {name}: sent {len(values)} times")
    return values[0]
