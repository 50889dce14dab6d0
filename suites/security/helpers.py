"""Building signed requests for the security suites."""

from __future__ import annotations

from order_service.security.credentials import CredentialStore
from order_service.security.signing import signature, string_to_sign
from order_service.security.verifying import SignedRequest

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
    """A request signed exactly as the spec says (independent of the signer class)."""
    text = string_to_sign(
        timestamp=str(timestamp), method=method, path=path, query=query, identity=identity, nonce=nonce, body=body
    )
    headers: dict[str, list[str]] = {
        "x-service-identity": [identity],
        "x-internal-api-key": [api_key],
        "x-request-timestamp": [str(timestamp)],
        "x-request-signature": [signature(secret, text)],
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
