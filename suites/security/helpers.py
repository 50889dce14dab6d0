"""Building signed requests for the security suites, independently of the module they test; a served app.

`signed()` derives the string to sign with its own small canonicaliser, written from the
spec (README "Request signing, version 1"), not with `order_service.security.signing`: a bug
in the shared canonicalisation would otherwise sign and verify the same wrong string.
`served_order_service()` runs the app on a real socket for the CLI and signing-v2 tests.
"""

from __future__ import annotations

import hashlib
import hmac
import string
import subprocess
import sys
from collections.abc import Iterator

import httpx

from harness.processes import stop_process, wait_until
from harness.servers import free_port
from order_service.security.credentials import CredentialStore
from order_service.security.verifying import SignedRequest
from suites.fixtures import environment

UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
HEX = frozenset(b"0123456789abcdefABCDEF")


def form_decode(text: str) -> str:
    """application/x-www-form-urlencoded: "+" is a space, %XX a byte, the bytes UTF-8 (bad ones replaced)."""
    raw = text.replace("+", " ").encode("utf-8")
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == ord("%") and i + 2 < len(raw) and raw[i + 1] in HEX and raw[i + 2] in HEX:
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return out.decode("utf-8", "replace")


def rfc3986(text: str) -> str:
    """Unreserved characters kept, every other byte of the UTF-8 form as upper-case %XX."""
    return "".join(chr(b) if chr(b) in UNRESERVED else f"%{b:02X}" for b in text.encode("utf-8"))


def spec_canonical_query(query: str) -> str:
    """The canonical query of the spec: parsed, sorted by name then value, re-encoded, joined by "&"."""
    pairs = []
    for piece in query.split("&"):
        if not piece:
            continue  # "a=1&&b=2": an empty field is no pair
        name, _, value = piece.partition("=")
        pairs.append((form_decode(name), form_decode(value)))
    return "&".join(f"{rfc3986(name)}={rfc3986(value)}" for name, value in sorted(pairs))


def spec_string_to_sign(
    *, timestamp: str, method: str, path: str, query: str, identity: str, nonce: str | None, body: bytes
) -> str:
    """The seven fields of the v1 signed string, joined by newlines."""
    fields = (timestamp, method.upper(), path, spec_canonical_query(query), identity, nonce or "")
    return "\n".join((*fields, hashlib.sha256(body).hexdigest()))


def openssl_hmac(secret: str, text: str) -> str:
    """HMAC-SHA256 of `text` as openssl computes it: an implementation independent of Python's."""
    out = subprocess.run(
        [environment.binary("openssl"), "dgst", "-sha256", "-hmac", secret, "-r"],
        input=text.encode(),
        capture_output=True,
        check=True,
    ).stdout
    return out.split()[0].decode()


def spec_signature(secret: bytes, text: str) -> str:
    return hmac.new(secret, text.encode("utf-8"), hashlib.sha256).hexdigest()


NOW = 1_795_700_000
SECRET = b"test-secret-newest"
OLD_SECRET = b"test-secret-older"
API_KEY = "test-api-key-0001"

STORE = CredentialStore.from_mapping(
    {
        "services": {
            "algo_engine": {"api_keys": [API_KEY], "signing_secrets": [SECRET.decode(), OLD_SECRET.decode()]},
            "risk_manager": {"api_keys": ["risk-key-0001"], "signing_secrets": ["risk-secret"]},
        }
    }
)


def signed(
    *,
    method: str = "POST",
    path: str = "/orders",
    query: str = "",
    body: bytes = b'{"quantity":10}',
    identity: str = "algo_engine",
    api_key: str = API_KEY,
    secret: bytes = SECRET,
    timestamp: int = NOW,
    nonce: str | None = "nonce-0001",
    extra: dict[str, list[str]] | None = None,
) -> SignedRequest:
    """A request signed exactly as the spec says (independent of the signing module)."""
    text = spec_string_to_sign(
        timestamp=str(timestamp), method=method, path=path, query=query, identity=identity, nonce=nonce, body=body
    )
    headers: dict[str, list[str]] = {
        "x-service-identity": [identity],
        "x-internal-api-key": [api_key],
        "x-request-timestamp": [str(timestamp)],
        "x-request-signature": [spec_signature(secret, text)],
    }
    if nonce is not None:
        headers["x-request-nonce"] = [nonce]
    headers.update(extra or {})
    return SignedRequest(method=method, path=path, query=query, headers=headers, body=body)


def replace(request: SignedRequest, **changes: object) -> SignedRequest:
    values = {
        "method": request.method,
        "path": request.path,
        "query": request.query,
        "headers": dict(request.headers),
        "body": request.body,
        **changes,
    }
    return SignedRequest(**values)  # type: ignore[arg-type]


def with_header(request: SignedRequest, name: str, values: list[str] | None) -> SignedRequest:
    headers = dict(request.headers)
    if values is None:
        headers.pop(name, None)
    else:
        headers[name] = values
    return replace(request, headers=headers)


_SERVE = (
    "import sys, uvicorn; from order_service.api.app import create_app; from order_service.settings import Settings; "
    "from order_service.security.dev import dev_security_settings; "
    "security = dev_security_settings().model_copy(update={'accept_v1': sys.argv[2] == 'on'}); "
    "uvicorn.run(create_app(Settings(security=security)), host='127.0.0.1', port=int(sys.argv[1]), log_level='warning')"
)


def served_order_service(*, accept_v1: bool = True) -> Iterator[str]:
    """A real order service (uvicorn on loopback, dev keys, no Redis) while the generator runs; yields its URL."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", _SERVE, str(port), "on" if accept_v1 else "off"])
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: httpx.get(url + "/orders", timeout=0.5).status_code == 401,
            what="the order service",
            timeout=20,
            process=process,
            interval=0.05,
        )
        yield url
    finally:
        stop_process(process)
