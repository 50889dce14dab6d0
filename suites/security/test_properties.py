"""Hypothesis properties of signing: what is signed verifies; any change to what is signed does not."""

from __future__ import annotations

import asyncio
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from order_service.security.errors import AuthenticationError
from order_service.security.signing import canonical_query
from order_service.security.verifying import RequestVerifier
from suites.security.helpers import NOW, STORE, replace, signed, spec_canonical_query, with_header

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


# The tests' own canonicaliser (suites/security/helpers.py) is checked on vectors derived by hand
# from the spec's query rules, then the module's is checked against it on any query text.
HAND_DERIVED = [
    ("", ""),
    ("b=2&a=1", "a=1&b=2"),  # sorted by name
    ("a=2&a=10&a=1", "a=1&a=10&a=2"),  # then by value, by code point ("10" < "2")
    ("q=a+b", "q=a%20b"),  # "+" is a space, written %20
    ("q=a%20b", "q=a%20b"),
    ("q=%e2%82%ac", "q=%E2%82%AC"),  # lower-case hex read, upper-case written
    ("q=\u20ac", "q=%E2%82%AC"),  # a raw character: its UTF-8 bytes
    ("flag", "flag="),  # a name without "=" has the empty value
    ("a=1&&b=2", "a=1&b=2"),  # an empty field is no pair
    ("k=a=b", "k=a%3Db"),  # only the first "=" separates
    ("x=%zz", "x=%25zz"),  # not an escape: the "%" itself is encoded
    ("n~._-=v~._-", "n~._-=v~._-"),  # unreserved characters kept
    ("s=a/b?c", "s=a%2Fb%3Fc"),  # reserved ones encoded
    ("B=1&a=1", "B=1&a=1"),  # code point order: upper case first
]


@pytest.mark.parametrize(("query", "canonical"), HAND_DERIVED)
def test_the_tests_canonicaliser_follows_the_spec(query: str, canonical: str) -> None:
    assert spec_canonical_query(query) == canonical


@pytest.mark.parametrize(("query", "canonical"), HAND_DERIVED)
def test_the_module_canonicalises_the_hand_derived_vectors(query: str, canonical: str) -> None:
    assert canonical_query(query) == canonical


pieces = st.sampled_from([*"ab=&+%~.-_/ 2eF\u20ac\xe9", "%e2", "%82", "%8", "%zz"])
raw_queries = st.lists(pieces, max_size=24).map("".join)


@settings(max_examples=500, deadline=None)
@given(raw_queries)
def test_the_module_and_the_spec_read_any_query_alike(query: str) -> None:
    assert canonical_query(query) == spec_canonical_query(query)
