"""Hypothesis properties of signing: what is signed verifies; any change to what is signed does not."""

from __future__ import annotations

import asyncio
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from order_service.security.errors import AuthenticationError
from order_service.security.verifying import RequestVerifier
from suites.security.helpers import NOW, STORE, replace, signed, with_header

VERIFIER = RequestVerifier(STORE, None, clock=lambda: NOW)
segments = st.text(alphabet=string.ascii_letters + string.digits + "-._~%", min_size=1, max_size=12)
paths = st.lists(segments, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts))
names = st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=6)
values = st.text(alphabet=string.ascii_letters + string.digits + "+-_.", max_size=8)
queries = st.lists(st.tuples(names, values), max_size=5)
methods = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"])
bodies = st.binary(max_size=512)
nonces = st.one_of(st.none(), st.text(alphabet=string.ascii_letters + string.digits, min_size=8, max_size=20))


def verifies(request: object) -> bool:
    try:
        asyncio.run(VERIFIER.verify(request))  # type: ignore[arg-type]
    except AuthenticationError:
        return False
    return True


def query_text(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{k}={v}" for k, v in pairs)


@settings(max_examples=200, deadline=None)
@given(methods, paths, queries, bodies, nonces)
def test_sign_then_verify_always_passes(
    method: str, path: str, pairs: list[tuple[str, str]], body: bytes, nonce: str | None
) -> None:
    assert verifies(signed(method=method, path=path, query=query_text(pairs), body=body, nonce=nonce))


@settings(max_examples=200, deadline=None)
@given(paths, queries, bodies, st.data())
def test_any_change_to_what_is_signed_fails(
    path: str, pairs: list[tuple[str, str]], body: bytes, data: st.DataObject
) -> None:
    request = signed(path=path, query=query_text(pairs), body=body)
    change = data.draw(st.sampled_from(["method", "path", "query", "identity", "nonce", "timestamp", "body"]))
    if change == "method":
        tampered = replace(request, method="PUT")
    elif change == "path":
        tampered = replace(request, path=path + "x")
    elif change == "query":
        tampered = replace(
            request,
            query=query_text([*pairs, ("zz", "1")])
            if not pairs
            else query_text([(pairs[0][0], pairs[0][1] + "x"), *pairs[1:]]),
        )
    elif change == "identity":  # another known identity with its own key: the signature is still the first's
        tampered = with_header(
            with_header(request, "x-service-identity", ["risk_manager"]), "x-internal-api-key", ["risk-key-0001"]
        )
    elif change == "nonce":
        tampered = with_header(request, "x-request-nonce", ["another-nonce"])
    elif change == "timestamp":
        tampered = with_header(request, "x-request-timestamp", [str(NOW - 1)])
    elif not body:
        tampered = replace(request, body=b"\0")
    else:  # flip one bit of one byte
        position = data.draw(st.integers(0, len(body) - 1))
        tampered = replace(request, body=body[:position] + bytes([body[position] ^ 1]) + body[position + 1 :])
    assert not verifies(tampered)


@settings(max_examples=200, deadline=None)
@given(queries, st.randoms())
def test_reordering_query_pairs_does_not_matter(pairs: list[tuple[str, str]], rnd: object) -> None:
    request = signed(method="GET", query=query_text(pairs), body=b"")
    shuffled = list(pairs)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert verifies(replace(request, query=query_text(shuffled)))


@pytest.mark.parametrize(
    ("signed_query", "sent_query", "same"),
    [
        ("a=x+y", "a=x%20y", True),  # both are a space once parsed
        ("a=x+y", "a=x%2By", False),  # %2B is a plus sign, not a space
        ("a=x%2By", "a=x%2by", True),  # hex case does not matter
        ("a", "a=", True),  # a bare name has the empty value
    ],
)
def test_query_spellings(signed_query: str, sent_query: str, same: bool) -> None:
    request = signed(method="GET", query=signed_query, body=b"")
    assert verifies(replace(request, query=sent_query)) is same
