"""Signing v1, the service matrix, user tokens and trading accounts (DESIGN.md "Request signing, version 1")."""

from __future__ import annotations

import uuid
from typing import Any

from harness.conformance.kit import check
from harness.conformance.outcomes import Failed, NotChecked
from harness.conformance.target import ORDER, Answer, Target, expect
from order_service.security.signing import canonical_query, published_vectors

# The seed's CriticalServiceAuth.AUTHORIZED_SERVICES.
AUTHORIZED_SERVICES = {
    "algo_engine": ("place_order", "modify_order", "cancel_order"),
    "user_interface": ("place_order", "get_orders", "cancel_order"),
    "risk_manager": ("cancel_order", "get_positions"),
    "strategy_service": ("place_order", "modify_order"),
}
OPERATIONS = ("place_order", "modify_order", "cancel_order", "get_orders", "get_positions")
REQUIRED = ("x-service-identity", "x-internal-api-key", "x-request-timestamp", "x-request-signature")
TOLERANCE = 300  # seconds, both edges inside


def _listing(target: Target, account: str, **signing: Any) -> Answer:
    return target.signed("user_interface", "GET", "/orders?limit=5", account=account, **signing)


def _refused(answer: Answer, why: str) -> None:
    expect(answer, 401, why)
    if not answer.response.headers.get("www-authenticate"):
        raise Failed(f"{why}: the 401 carries no WWW-Authenticate", answer.shown())


@check("signing.accepts-signed", "a request signed per signing v1 with the caller's current secret is accepted")
def _accepts_signed(target: Target) -> None:
    expect(_listing(target, target.fresh_account()), 200, "a signed listing")


@check("signing.required-headers", "each of the four signing headers is required: without one, 401")
def _required_headers(target: Target) -> None:
    account = target.fresh_account()
    for name in REQUIRED:
        headers = target.signing_headers("user_interface", "GET", "/orders")
        del headers[name]
        answer = target.send("GET", "/orders", headers={**headers, **target.user_headers(account)})
        _refused(answer, f"without {name}")


@check("signing.bad-signature", "a signature that is not the HMAC of the signed string is refused with 401")
def _bad_signature(target: Target) -> None:
    account = target.fresh_account()
    headers = target.signing_headers("user_interface", "GET", "/orders")
    first = headers["x-request-signature"][0]
    headers["x-request-signature"] = ("0" if first != "0" else "1") + headers["x-request-signature"][1:]
    _refused(target.send("GET", "/orders", headers={**headers, **target.user_headers(account)}), "one hex digit off")


@check("signing.api-key", "the API key must be the identity's: another identity's key is refused with 401")
def _api_key(target: Target) -> None:
    account = target.fresh_account()
    headers = target.signing_headers("user_interface", "GET", "/orders")
    headers["x-internal-api-key"] = target.identity("algo_engine")[0]
    _refused(target.send("GET", "/orders", headers={**headers, **target.user_headers(account)}), "algo_engine's key")


def _at_skew(target: Target, skew: int) -> Answer:
    now = target.next_second()  # the service's clock just ticked: the request arrives within this second
    return _listing(target, target.fresh_account(), timestamp=now + skew)


@check("signing.skew-edge-ahead", "a timestamp exactly 300 s ahead of the service's clock is accepted")
def _skew_edge_ahead(target: Target) -> None:
    expect(_at_skew(target, TOLERANCE), 200, f"signed +{TOLERANCE} s from the service's clock")


@check("signing.skew-edge-behind", "a timestamp exactly 300 s behind the service's clock is accepted")
def _skew_edge_behind(target: Target) -> None:
    answer = _at_skew(target, -TOLERANCE)
    if answer.status == 200:
        return
    beyond = _at_skew(target, -TOLERANCE - 1)
    if answer.status == 401 and beyond.status == 401 and answer.json() != beyond.json():
        # DESIGN.md: a request signed before the replay store began (a service up for less than
        # 300 s, or a Redis that lost its data) cannot be checked for replay: refused for that
        raise NotChecked(f"refused for another reason than its age: {answer.response.text[:200]}")
    expect(answer, 200, f"signed -{TOLERANCE} s from the service's clock")


@check("signing.skew-beyond", "a timestamp 301 s behind or ahead of the service's clock is refused with 401")
def _skew_beyond(target: Target) -> None:
    for skew in (-TOLERANCE - 1, TOLERANCE + 1):
        _refused(_at_skew(target, skew), f"signed {skew:+d} s from the service's clock")


@check("signing.replay", "a signed request seen within the window is refused the second time with 401")
def _replay(target: Target) -> None:
    account = target.fresh_account()
    headers = {**target.signing_headers("user_interface", "GET", "/orders"), **target.user_headers(account)}
    expect(target.send("GET", "/orders", headers=headers), 200, "the first time")
    _refused(target.send("GET", "/orders", headers=headers), "the same signed request again")
    order = {**ORDER}
    key = uuid.uuid4().hex
    body = target.signed("algo_engine", "POST", "/orders", account=account, order=order, key=key)
    expect(body, 201, "an order")
    _refused(target.send("POST", "/orders", headers=body.headers, body=body.body), "the same signed order again")


@check("signing.duplicate-headers", "a signing header sent twice is refused with 401")
def _duplicate_headers(target: Target) -> None:
    account = target.fresh_account()
    for name in (*REQUIRED, "x-request-nonce"):
        headers = target.signing_headers("user_interface", "GET", "/orders")
        pairs = [*headers.items(), (name, headers[name]), *target.user_headers(account).items()]
        _refused(target.send("GET", "/orders", headers=pairs), f"{name} twice (the same value)")


@check("signing.timestamp-form", "a timestamp that is not unix seconds in digits is refused with 401")
def _timestamp_form(target: Target) -> None:
    account = target.fresh_account()
    for bad in ("1.5e9", "-1", "abc", "+1"):
        headers = target.signing_headers("user_interface", "GET", "/orders")
        headers["x-request-timestamp"] = bad
        _refused(target.send("GET", "/orders", headers={**headers, **target.user_headers(account)}), f"timestamp {bad}")


@check(
    "signing.nonce-covered", "the nonce is the signed string's sixth field: a nonce other than the signed one is 401"
)
def _nonce_covered(target: Target) -> None:
    account = target.fresh_account()
    _refused(_listing(target, account, nonce="sent-nonce-aaaa", signed_nonce="signed-nonce-bb"), "nonce changed")
    _refused(_listing(target, account, nonce="sent-nonce-cccc", signed_nonce=None), "nonce sent, not signed")


@check(
    "signing.covers-request", "the signature covers the method, the path, the query and the body: each changed is 401"
)
def _covers_request(target: Target) -> None:
    account = target.fresh_account()
    user = target.user_headers(account)
    signed = target.signing_headers("user_interface", "GET", "/orders?limit=5")
    _refused(target.send("GET", "/orders?limit=6", headers={**signed, **user}), "the query changed")
    signed = target.signing_headers("user_interface", "GET", "/orders")
    _refused(target.send("GET", "/orders?limit=6", headers={**signed, **user}), "a query added after signing")
    signed = target.signing_headers("risk_manager", "GET", "/orders")
    _refused(target.send("GET", "/positions", headers={**signed, **user}), "the path changed")
    body = b'{"quantity": 1}'
    signed = target.signing_headers("algo_engine", "POST", "/orders", body)
    changed = body.replace(b"1", b"2")
    _refused(target.send("POST", "/orders", headers={**signed, **user}, body=changed), "the body changed")
    signed = target.signing_headers("algo_engine", "PATCH", "/orders", body)
    _refused(target.send("POST", "/orders", headers={**signed, **user}, body=body), "the method changed")


@check("signing.canonical-query", "the query is signed in canonical form: any order or spelling of it verifies")
def _canonical_query(target: Target) -> None:
    account = target.fresh_account()
    for query in ("status=OPEN&limit=5", "limit=5&status=OPEN", "limit=%35&status=OPEN", "status=OPEN&limit=5&"):
        expect(_listing_of(target, account, f"/orders?{query}"), 200, f"signed query {query!r}")


@check(
    "signing.published-vectors",
    "each published vector's query (signing_vectors.json), signed afresh, verifies on GET /orders",
)
def _published_vectors(target: Target) -> None:
    account = target.fresh_account()
    shapes = [v for v in published_vectors() if v["method"].upper() == "GET" and v["path"] == "/orders"]
    for vector in shapes:
        if canonical_query(vector["query"]) != vector["canonical_query"]:
            raise Failed(f"the kit's canonical query of {vector['query']!r} is not the vector's")  # the kit's own bug
        path = f"/orders?{vector['query']}"
        expect(_listing_of(target, account, path), 200, f"vector {vector['name']!r} ({vector['query']})")


def _listing_of(target: Target, account: str, path: str) -> Answer:
    return target.signed("user_interface", "GET", path, account=account)


def _operation(target: Target, identity: str, operation: str, account: str) -> Answer:
    if operation == "place_order":
        return target.signed(identity, "POST", "/orders", account=account, order=ORDER, key=uuid.uuid4().hex)
    if operation == "get_orders":
        return target.signed(identity, "GET", "/orders", account=account)
    if operation == "get_positions":
        return target.signed(identity, "GET", "/positions", account=account)
    order_id = target.placed(account)["order_id"]
    if operation == "modify_order":
        return target.signed(identity, "PATCH", f"/orders/{order_id}", account=account, order={"quantity": 2})
    return target.signed(identity, "DELETE", f"/orders/{order_id}", account=account)


def _matrix_check(identity: str, operation: str) -> None:
    allowed = operation in AUTHORIZED_SERVICES[identity]
    verdict = "may" if allowed else "may not"

    @check(f"matrix.{identity}.{operation}", f"{identity} {verdict} {operation} (AUTHORIZED_SERVICES)")
    def _matrix(target: Target) -> None:
        answer = _operation(target, identity, operation, target.fresh_account())
        if allowed:
            if answer.status in (401, 403):
                raise Failed(f"{identity} is allowed {operation} but was refused", answer.shown())
            expect(answer, (200, 201), f"{identity} {operation}")
        else:
            expect(answer, 403, f"{identity} is not allowed {operation}")


for _identity in AUTHORIZED_SERVICES:
    for _operation_name in OPERATIONS:
        _matrix_check(_identity, _operation_name)


def _with_token(target: Target, account: str, token: str | None) -> Answer:
    headers = target.signing_headers("user_interface", "GET", "/orders")
    headers["x-trading-account-id"] = account
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return target.send("GET", "/orders", headers=headers)


@check("tokens.required", "an order endpoint needs a user token: without one, or with one that is not a JWT, 401")
def _tokens_required(target: Target) -> None:
    account = target.fresh_account()
    _refused(_with_token(target, account, None), "no Authorization")
    _refused(_with_token(target, account, "not-a-jwt"), "a token that is not a JWT")


@check("tokens.expired", "an expired user token is refused with 401")
def _tokens_expired(target: Target) -> None:
    account = target.fresh_account()
    _refused(_with_token(target, account, target.token(account, exp=1_000_000_000)), "expired in 2001")


@check("tokens.forged", "a user token signed with another secret is refused with 401")
def _tokens_forged(target: Target) -> None:
    account = target.fresh_account()
    _refused(
        _with_token(target, account, target.token(account, secret="another-secret-that-is-long-enough-for-sha256")),
        "another secret",
    )


@check("tokens.audience", "a user token for another audience is refused with 401")
def _tokens_audience(target: Target) -> None:
    if not target.credentials.jwt_audience:
        raise NotChecked("the credentials name no token audience")
    account = target.fresh_account()
    _refused(_with_token(target, account, target.token(account, aud="another-service")), "audience another-service")


@check("tokens.account-in-token", "the trading account must be one of the token's accounts: another one is 403")
def _account_in_token(target: Target) -> None:
    account, other = target.fresh_account(), target.fresh_account()
    headers = {**target.signing_headers("user_interface", "GET", "/orders"), **target.user_headers(account)}
    headers["x-trading-account-id"] = other
    expect(target.send("GET", "/orders", headers=headers), 403, f"a token for {account} acting for {other}")


@check("tokens.account-required", "an order endpoint needs X-Trading-Account-Id: without it, 401")
def _account_required(target: Target) -> None:
    account = target.fresh_account()
    headers = {**target.signing_headers("user_interface", "GET", "/orders"), **target.user_headers(account)}
    del headers["x-trading-account-id"]
    _refused(target.send("GET", "/orders", headers=headers), "no X-Trading-Account-Id")
