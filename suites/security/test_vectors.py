"""The published v1 test vectors (order_service/security/signing_vectors.json), checked three ways."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from order_service.security.credentials import CredentialStore
from order_service.security.signing import (
    RequestSigner,
    canonical_query,
    published_vectors,
    signature,
    string_to_sign,
)
from order_service.security.verifying import RequestVerifier, SignedRequest
from suites.security.helpers import openssl_hmac

pytestmark = pytest.mark.anyio
VECTORS: list[dict[str, Any]] = published_vectors()
ids = [v["name"] for v in VECTORS]


@pytest.mark.parametrize("vector", VECTORS, ids=ids)
def test_canonical_query_and_string_to_sign(vector: dict[str, Any]) -> None:
    assert canonical_query(vector["query"]) == vector["canonical_query"]
    assert (
        string_to_sign(
            timestamp=vector["timestamp"],
            method=vector["method"],
            path=vector["path"],
            query=vector["query"],
            identity=vector["identity"],
            nonce=vector["nonce"],
            body=vector["body"].encode(),
        )
        == vector["string_to_sign"]
    )


@pytest.mark.parametrize("vector", VECTORS, ids=ids)
def test_signature(vector: dict[str, Any]) -> None:
    assert signature(vector["secret"].encode(), vector["string_to_sign"]) == vector["signature"]


@pytest.mark.parametrize("vector", VECTORS, ids=ids)
def test_openssl_agrees(vector: dict[str, Any]) -> None:
    """An independent HMAC implementation gives the published signature."""
    assert openssl_hmac(vector["secret"], vector["string_to_sign"]) == vector["signature"]


@pytest.mark.parametrize("vector", VECTORS, ids=ids)
async def test_the_verifier_accepts_every_vector(vector: dict[str, Any]) -> None:
    store = CredentialStore.from_mapping(
        {"services": {vector["identity"]: {"api_keys": ["k"], "signing_secrets": [vector["secret"]]}}}
    )
    headers = {
        "x-service-identity": [vector["identity"]],
        "x-internal-api-key": ["k"],
        "x-request-timestamp": [vector["timestamp"]],
        "x-request-signature": [vector["signature"]],
    }
    if vector["nonce"] is not None:
        headers["x-request-nonce"] = [vector["nonce"]]
    request = SignedRequest(vector["method"], vector["path"], vector["query"], headers, vector["body"].encode())
    verifier = RequestVerifier(store, None, clock=lambda: int(vector["timestamp"]))
    assert await verifier.verify(request) == vector["identity"]


@pytest.mark.parametrize("vector", [v for v in VECTORS if ".." not in v["path"]], ids=lambda v: v["name"])
def test_the_httpx_signer_produces_the_vector(vector: dict[str, Any]) -> None:
    signer = RequestSigner(
        version=1,
        identity=vector["identity"],
        api_key="k",
        secret=vector["secret"].encode(),
        clock=lambda: int(vector["timestamp"]),
        nonce=lambda: vector["nonce"],
    )
    url = f"http://order.test{vector['path']}" + (f"?{vector['query']}" if vector["query"] else "")
    request = httpx.Request(vector["method"].upper(), url, content=vector["body"].encode())
    signer.sign(request)
    assert request.headers["x-request-signature"] == vector["signature"]
    assert request.headers["x-request-timestamp"] == vector["timestamp"]
    assert ("x-request-nonce" in request.headers) == (vector["nonce"] is not None)
