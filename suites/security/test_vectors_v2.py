"""The published v2 vectors and refusals (order_service/security/signing_vectors_v2.json).

Each signed string was written out by hand from the spec; the signatures were made with
openssl, and are checked here against openssl again, against the module's HMAC, against
the verifier and against the httpx signer. Each refusal breaks one rule of the spec.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from order_service.security.credentials import CredentialStore
from order_service.security.errors import AuthenticationError
from order_service.security.signing import (
    NEVER_SIGNED,
    RequestSigner,
    published_refusals,
    published_vectors,
    signature,
    string_to_sign_v2,
)
from order_service.security.verifying import SERVICE_ONLY, RequestVerifier, SignedRequest
from suites.security.helpers import openssl_hmac

pytestmark = pytest.mark.anyio
VECTORS: list[dict[str, Any]] = published_vectors(2)
BY_NAME = {v["name"]: v for v in VECTORS}
REFUSALS: list[dict[str, Any]] = published_refusals()
ids = [v["name"] for v in VECTORS]


def headers_of(vector: dict[str, Any]) -> dict[str, list[str]]:
    """Every header of the vector's request as the verifier receives it (lower-case names, every value)."""
    headers = {
        "x-service-identity": [vector["identity"]],
        "x-internal-api-key": ["k"],
        "x-request-timestamp": [vector["timestamp"]],
        "x-request-signature": [vector["signature"]],
        "x-signature-version": ["2"],
        "x-signed-headers": [vector["signed_headers"]],
        **{name: [value] for name, value in vector["headers"].items()},
    }
    if vector["nonce"] is not None:
        headers["x-request-nonce"] = [vector["nonce"]]
    return headers


def verifier_for(vector: dict[str, Any], **options: Any) -> RequestVerifier:
    store = CredentialStore.from_mapping(
        {"services": {vector["identity"]: {"api_keys": ["k"], "signing_secrets": [vector["secret"]]}}}
    )
    return RequestVerifier(store, None, clock=lambda: int(vector["timestamp"]), **options)


def request_of(vector: dict[str, Any], headers: dict[str, list[str]]) -> SignedRequest:
    return SignedRequest(vector["method"].upper(), vector["path"], vector["query"], headers, vector["body"].encode())


async def refusal(verifier: RequestVerifier, request: SignedRequest) -> str | None:
    try:
        await verifier.verify(request)
    except AuthenticationError as exc:
        return f"{exc.reason}" if exc.status == 401 else f"status {exc.status}"
    return None


@pytest.mark.parametrize("vector", VECTORS, ids=ids)
def test_string_to_sign(vector: dict[str, Any]) -> None:
    names = vector["signed_headers"].split(";")
    text = string_to_sign_v2(
        timestamp=vector["timestamp"],
        method=vector["method"],
        path=vector["path"],
        query=vector["query"],
        identity=vector["identity"],
        nonce=vector["nonce"],
        signed_headers=vector["signed_headers"],
        covered=[vector["headers"][name] for name in names],
        body=vector["body"].encode(),
    )
    assert text == vector["string_to_sign"]


@pytest.mark.parametrize("vector", VECTORS, ids=ids)
def test_signature_and_openssl_agree(vector: dict[str, Any]) -> None:
    assert openssl_hmac(vector["secret"], vector["string_to_sign"]) == vector["signature"]
    assert signature(vector["secret"].encode(), vector["string_to_sign"]) == vector["signature"]


@pytest.mark.parametrize("vector", VECTORS, ids=ids)
async def test_the_verifier_accepts_every_vector(vector: dict[str, Any]) -> None:
    request = request_of(vector, headers_of(vector))
    assert await verifier_for(vector).verify(request) == vector["identity"]
    assert await verifier_for(vector, accept_v1=False).verify(request) == vector["identity"]


@pytest.mark.parametrize("vector", VECTORS, ids=ids)
def test_the_httpx_signer_produces_the_vector(vector: dict[str, Any]) -> None:
    signer = RequestSigner(
        identity=vector["identity"],
        api_key="k",
        secret=vector["secret"].encode(),
        clock=lambda: int(vector["timestamp"]),
        nonce=lambda: vector["nonce"],
        cover=vector["signed_headers"].split(";"),
    )
    url = f"http://order.test{vector['path']}" + (f"?{vector['query']}" if vector["query"] else "")
    request = httpx.Request(vector["method"].upper(), url, content=vector["body"].encode(), headers=vector["headers"])
    signer.sign(request)
    assert request.headers["x-signature-version"] == "2"
    assert request.headers["x-signed-headers"] == vector["signed_headers"]
    assert request.headers["x-request-signature"] == vector["signature"]


@pytest.mark.parametrize("case", REFUSALS, ids=[c["name"] for c in REFUSALS])
async def test_each_published_refusal(case: dict[str, Any]) -> None:
    vector = BY_NAME[case["vector"]]
    headers = headers_of(vector)
    for name in case["remove"]:
        del headers[name]
    headers.update(case["set"])
    assert await refusal(verifier_for(vector), request_of(vector, headers)) == case["reason"]


@pytest.mark.parametrize("name", sorted(NEVER_SIGNED))
async def test_no_signing_header_may_be_covered(name: str) -> None:
    vector = VECTORS[0]
    headers = headers_of(vector)
    headers["x-signed-headers"] = [f"{vector['signed_headers']};{name}"]
    assert await refusal(verifier_for(vector), request_of(vector, headers)) == "bad_signed_headers"
    with pytest.raises(ValueError, match="may not be covered"):
        RequestSigner(identity="a", api_key="k", secret=b"s", cover=("authorization", name))


async def test_v1_is_refused_when_accept_v1_is_off_and_v2_still_passes() -> None:
    vector = VECTORS[0]
    store = CredentialStore.from_mapping(
        {"services": {vector["identity"]: {"api_keys": ["k"], "signing_secrets": [vector["secret"]]}}}
    )
    v1 = httpx.Request("POST", "http://order.test/orders", content=b"{}", headers=vector["headers"])
    RequestSigner(version=1, identity=vector["identity"], api_key="k", secret=vector["secret"].encode()).sign(v1)
    received = SignedRequest(
        "POST", "/orders", "", {k: [v] for k, v in v1.headers.items() if k != "content-length"}, b"{}"
    )
    assert await refusal(RequestVerifier(store, None), received) is None
    assert await refusal(RequestVerifier(store, None, accept_v1=False), received) == "v1_refused"


def test_the_signer_refuses_a_covered_header_sent_twice() -> None:
    request = httpx.Request(
        "POST",
        "http://order.test/orders",
        content=b"{}",
        headers=[("x-trading-account-id", "A"), ("x-trading-account-id", "B")],
    )
    with pytest.raises(ValueError, match="sent 2 times"):
        RequestSigner(identity="a", api_key="k", secret=b"s").sign(request)


def test_signing_again_replaces_what_an_earlier_signature_sent() -> None:
    request = httpx.Request("POST", "http://order.test/orders", json={"q": 1}, headers={"authorization": "Bearer t"})
    RequestSigner(identity="a", api_key="k", secret=b"s").sign(request)
    assert request.headers["x-signed-headers"] == "authorization;content-type"
    RequestSigner(version=1, identity="a", api_key="k", secret=b"s", nonce=lambda: None).sign(request)
    assert "x-signed-headers" not in request.headers
    assert "x-signature-version" not in request.headers
    assert "x-request-nonce" not in request.headers


async def test_an_empty_list_is_enough_only_where_nothing_must_be_covered() -> None:
    vector = VECTORS[2]  # DELETE without a body
    request = httpx.Request("DELETE", "http://order.test/accounts/ZX1234/suspension")
    RequestSigner(identity=vector["identity"], api_key="k", secret=vector["secret"].encode()).sign(request)
    assert request.headers["x-signed-headers"] == ""
    received = SignedRequest(
        "DELETE", "/accounts/ZX1234/suspension", "", {k: [v] for k, v in request.headers.multi_items()}, b""
    )
    store = CredentialStore.from_mapping(
        {"services": {vector["identity"]: {"api_keys": ["k"], "signing_secrets": [vector["secret"]]}}}
    )
    assert await RequestVerifier(store, None).verify(received, SERVICE_ONLY) == vector["identity"]
    assert await refusal(RequestVerifier(store, None), received) == "bad_signed_headers"  # order endpoints


async def test_a_list_longer_than_the_contract_allows_is_refused() -> None:
    vector = VECTORS[0]
    headers = headers_of(vector)
    headers["x-signed-headers"] = [vector["signed_headers"] + ";" + ";".join(f"x-pad-{n:03d}" for n in range(60))]
    assert await refusal(verifier_for(vector), request_of(vector, headers)) == "bad_signed_headers"
