"""Signing v2 (DESIGN.md "Request signing, version 2"): the user token and the account are covered.

Beyond the seed: a service that answers a well-formed v2 request with 401 while it accepts
the same request signed with v1 does not implement v2, and these checks say "not checked".
"""

from __future__ import annotations

import json
import uuid

from harness.conformance.kit import check
from harness.conformance.outcomes import Failed, NotChecked
from harness.conformance.target import ORDER, Answer, Target, expect

COVERED = ("authorization", "x-trading-account-id", "idempotency-key", "content-type")


def _order_v2(
    target: Target, account: str, token: str, *, drop: str | None = None, changed: dict[str, str] | None = None
) -> Answer:
    """A v2-signed order for `account` under `token` (the list without `drop`), sent with `changed` headers."""
    body = json.dumps(ORDER).encode()
    values = {
        "authorization": f"Bearer {token}",
        "x-trading-account-id": account,
        "idempotency-key": uuid.uuid4().hex,
        "content-type": "application/json",
    }
    covered = {name: values[name] for name in COVERED if name != drop}
    headers = target.signing_headers_v2("algo_engine", "POST", "/orders", body, covered)
    return target.send("POST", "/orders", headers={**values, **(changed or {}), **headers}, body=body)


def _supports_v2(target: Target, account: str, token: str) -> None:
    answer = _order_v2(target, account, token)
    if answer.status == 401 and target.place(account).status == 201:
        raise NotChecked("the service refuses signing v2 and accepts v1: it does not implement v2")
    expect(answer, 201, "an order signed with v2")


@check("signing-v2.covers-account", "v2 covers the account: changed after signing, or left out of the list, 401")
def _covers_account(target: Target) -> None:
    first, second = target.fresh_account(), target.fresh_account()
    token = target.token(first, trading_accounts=[first, second])  # a user who may act for both
    _supports_v2(target, first, token)
    swapped = _order_v2(target, first, token, changed={"x-trading-account-id": second})
    if swapped.status != 401:
        raise Failed("an order signed for one account and sent for another was not refused", swapped.shown())
    unlisted = _order_v2(target, first, token, drop="x-trading-account-id")
    if unlisted.status != 401:
        raise Failed("a v2 list without x-trading-account-id was not refused", unlisted.shown())


@check("signing-v2.covers-token", "v2 covers the user token: another token after signing, or none in the list, 401")
def _covers_token(target: Target) -> None:
    account = target.fresh_account()
    token = target.token(account)
    _supports_v2(target, account, token)
    other = target.token(account, sub=f"kit-other-{account}")  # valid too, for the same account
    swapped = _order_v2(target, account, token, changed={"authorization": f"Bearer {other}"})
    if swapped.status != 401:
        raise Failed("an order signed under one user token and sent with another was not refused", swapped.shown())
    unlisted = _order_v2(target, account, token, drop="authorization")
    if unlisted.status != 401:
        raise Failed("a v2 list without authorization was not refused", unlisted.shown())
