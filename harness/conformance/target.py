"""What the kit knows of the service under test and how it talks to it.

The kit signs as DESIGN.md's signing v1 says (`order_service.security.signing`, the
specification module, not the service), mints user tokens when it is given the token
secret (fresh trading accounts for each run, so no earlier traffic counts in a rule's
window), and reads the service's clock only where the service shows it: the `Date` header
of its answers and the `placed_at` of its orders.
"""

from __future__ import annotations

import email.utils
import json
import random
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
from prometheus_client.parser import text_string_to_metric_families

from harness.conformance.outcomes import Failed, NotChecked
from order_service.security.signing import (
    API_KEY,
    IDENTITY,
    NONCE,
    SIGNATURE,
    TIMESTAMP,
    signature,
    string_to_sign,
    string_to_sign_v2,
)

ORDER: dict[str, Any] = {
    "exchange": "NSE",
    "tradingsymbol": "INFY",
    "transaction_type": "BUY",
    "order_type": "LIMIT",
    "product": "MIS",
    "quantity": 1,
    "price": "100",
}
# The per-service limit of the seed's deployments is 200 order requests a second: the kit
# stays well under it outside the checks that mean to reach a limit.
PACE_SECONDS = 1 / 120


@dataclass(frozen=True)
class Credentials:
    """Each identity's API key and signing secret; the user-token secret, or a given token."""

    services: Mapping[str, tuple[str, str]]
    jwt_secret: str | None = None
    jwt_audience: str | None = None
    token: str | None = None
    token_accounts: tuple[str, ...] = ()

    @classmethod
    def load(cls, path: Path) -> Credentials:
        """A file shaped like the reference's `dev_credentials.json` (services, jwt), or with a `user` token."""
        data = json.loads(path.read_text())
        services = {
            name: (entry["api_keys"][0], entry["signing_secrets"][0]) for name, entry in data["services"].items()
        }
        token = data.get("jwt", {})
        user = data.get("user", {})
        return cls(
            services,
            token.get("secret"),
            token.get("audience"),
            user.get("token"),
            tuple(user.get("accounts", ())),
        )


@dataclass
class Answer:
    """One request and its answer, kept for a failure's report."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    response: httpx.Response

    @property
    def status(self) -> int:
        """The answer's status code."""
        return self.response.status_code

    def json(self) -> Any:
        """The answer's body as JSON."""
        return self.response.json()

    def shown(self) -> str:
        """The request and the answer for a report (the user token left out)."""
        sent = {k: v for k, v in self.headers.items() if k.lower() not in ("authorization",)}
        body = self.response.text
        return (
            f"{self.method} {self.path} {json.dumps(sent, sort_keys=True)}"
            + (f" body {self.body[:300].decode('utf-8', 'replace')}" if self.body else "")
            + f"\n-> {self.status} {body[:500]}"
        )


class LogStream:
    """Lines the service writes (a file it appends to, or a stream), collected in a thread."""

    def __init__(self, source: Any, stop: threading.Event | None = None) -> None:
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._stop = stop or threading.Event()
        threading.Thread(target=self._read, args=(source,), daemon=True).start()

    def _read(self, source: Any) -> None:
        for line in source:
            with self._lock:
                self._lines.append(line.rstrip("\n"))

    @classmethod
    def follow(cls, path: Path) -> LogStream:
        """Lines appended to `path` from now on."""
        handle = path.open(encoding="utf-8", errors="replace")
        handle.seek(0, 2)

        stop = threading.Event()

        def tail() -> Iterator[str]:
            with handle:
                while not stop.is_set():
                    line = handle.readline()
                    if line:
                        yield line
                    else:
                        stop.wait(0.02)

        return cls(tail(), stop)

    def close(self) -> None:
        """Stop following the file (a stream such as stdin is read until it ends)."""
        self._stop.set()

    def lines(self) -> list[str]:
        """Every line collected so far."""
        with self._lock:
            return list(self._lines)

    def wait_for(self, *needles: str, timeout: float = 3.0) -> str | None:
        """The first line holding every needle, waiting up to `timeout` seconds for it."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.lines():
                if all(n in line for n in needles):
                    return line
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)


# Told of each answer the kit gets (method, path, status): how `harness coverage` counts the
# kit's requests against the order service's contract. The harness plugin registers one.
OBSERVERS: list[Callable[[str, str, int], None]] = []


def _observed(response: httpx.Response) -> None:
    for observe in OBSERVERS:
        observe(response.request.method, response.request.url.path, response.status_code)


@dataclass
class Target:
    """The order service at `url`, and what else the kit may use (each optional)."""

    url: str
    credentials: Credentials
    redis_url: str | None = None
    logs: LogStream | None = None
    mocks: Mapping[str, str] = field(default_factory=dict)  # mock name -> base URL (admin under /__admin)
    timeout: float = 10.0

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.url, timeout=self.timeout, event_hooks={"response": [_observed]})
        self._last_send = 0.0
        self._tokens: dict[str, str] = {}

    # -- users and accounts --------------------------------------------------------------
    def fresh_account(self) -> str:
        """An account no earlier traffic used (needs the token secret to mint its token)."""
        if self.credentials.jwt_secret is None:
            if not self.credentials.token_accounts:
                raise NotChecked("the credentials have neither a token secret nor a user token with accounts")
            return self.credentials.token_accounts[0]
        return f"ZX{random.randrange(100_000, 1_000_000)}"

    def token(self, account: str, *, secret: str | None = None, **claims: Any) -> str:
        """A user token for `account`: minted (signed with `secret` instead, `claims` changed), or the given one."""
        forged = secret is not None or bool(claims)
        if self.credentials.jwt_secret is None:
            if forged:
                raise NotChecked("forging a token of this kind needs the token secret in the credentials")
            assert self.credentials.token is not None
            return self.credentials.token
        if not forged and account in self._tokens:
            return self._tokens[account]
        now = int(time.time())
        body = {"sub": f"kit-{account}", "iat": now, "exp": now + 3600, "trading_accounts": [account]}
        if self.credentials.jwt_audience:
            body["aud"] = self.credentials.jwt_audience
        body.update(claims)
        minted = jwt.encode(body, secret or self.credentials.jwt_secret, algorithm="HS256")
        if not forged:  # only the account's own token is remembered
            self._tokens[account] = minted
        return minted

    def user_headers(self, account: str) -> dict[str, str]:
        """The user token and trading account headers of `account`."""
        return {"authorization": f"Bearer {self.token(account)}", "x-trading-account-id": account}

    # -- requests ------------------------------------------------------------------------
    def identity(self, name: str) -> tuple[str, str]:
        """(API key, signing secret) of the identity `name`; NotChecked when the credentials lack it."""
        try:
            return self.credentials.services[name]
        except KeyError:
            raise NotChecked(f"the credentials have no keys for {name}") from None

    def signing_headers(
        self,
        identity: str,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        timestamp: int | None = None,
        nonce: str | None = "",
        signed_nonce: str | None = "",
    ) -> dict[str, str]:
        """The v1 headers of a request (`nonce` sent, `signed_nonce` signed; "" is a fresh one for both)."""
        api_key, secret = self.identity(identity)
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        fresh = secrets.token_urlsafe(16)
        sent_nonce = fresh if nonce == "" else nonce
        signed = fresh if signed_nonce == "" else signed_nonce
        raw_path, _, query = path.partition("?")
        text = string_to_sign(
            timestamp=stamp, method=method, path=raw_path, query=query, identity=identity, nonce=signed, body=body
        )
        headers = {IDENTITY: identity, API_KEY: api_key, TIMESTAMP: stamp, SIGNATURE: signature(secret.encode(), text)}
        if sent_nonce:
            headers[NONCE] = sent_nonce
        return headers

    def signing_headers_v2(
        self,
        identity: str,
        method: str,
        path: str,
        body: bytes,
        covered: Mapping[str, str],
        *,
        listed: str | None = None,
    ) -> dict[str, str]:
        """The v2 headers of a request whose `covered` headers (name: value) are signed; `listed` sends another list."""
        api_key, secret = self.identity(identity)
        stamp, nonce = str(int(time.time())), secrets.token_urlsafe(16)
        raw_path, _, query = path.partition("?")
        names = ";".join(covered)
        text = string_to_sign_v2(
            timestamp=stamp,
            method=method,
            path=raw_path,
            query=query,
            identity=identity,
            nonce=nonce,
            signed_headers=names,
            covered=list(covered.values()),
            body=body,
        )
        return {
            IDENTITY: identity,
            API_KEY: api_key,
            TIMESTAMP: stamp,
            NONCE: nonce,
            SIGNATURE: signature(secret.encode(), text),
            "x-signature-version": "2",
            "x-signed-headers": names,
        }

    def send(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | list[tuple[str, str]] | None = None,
        body: bytes = b"",
        paced: bool = True,
    ) -> Answer:
        """One request as given (headers as a list may repeat a name), paced under the service limit."""
        wait = self._last_send + PACE_SECONDS - time.monotonic()
        if paced and wait > 0:
            time.sleep(wait)
        self._last_send = time.monotonic()
        pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers or [])
        if body and not any(k.lower() == "content-type" for k, _ in pairs):
            pairs.append(("content-type", "application/json"))
        response = self.http.request(method, path, headers=pairs, content=body or None)
        return Answer(method, path, dict(pairs), body, response)

    def signed(
        self,
        identity: str,
        method: str,
        path: str,
        *,
        account: str | None = None,
        order: Mapping[str, Any] | None = None,
        key: str | None = None,
        extra: Mapping[str, str] | None = None,
        paced: bool = True,
        **signing: Any,
    ) -> Answer:
        """A request signed by `identity`, for `account`'s user (when given), with `order` as its JSON body."""
        body = json.dumps(order).encode() if order is not None else b""
        headers = self.signing_headers(identity, method, path, body, **signing)
        if account is not None:
            headers.update(self.user_headers(account))
        if key is not None:
            headers["idempotency-key"] = key
        headers.update(extra or {})
        return self.send(method, path, headers=headers, body=body, paced=paced)

    def place(
        self, account: str, identity: str = "algo_engine", *, key: str | None = None, paced: bool = True, **changes: Any
    ) -> Answer:
        """Place the kit's LIMIT order for `account` (with `changes`), signed by `identity`."""
        order = {**ORDER, **changes}
        return self.signed(identity, "POST", "/orders", account=account, order=order, key=key, paced=paced)

    def placed(self, account: str, **changes: Any) -> dict[str, Any]:
        """An order placed for `account` (201), or Failed with the exchange."""
        answer = self.place(account, key=uuid.uuid4().hex, **changes)
        expect(answer, 201, "an ordinary signed order is placed")
        body: dict[str, Any] = answer.json()
        return body

    # -- what the service shows ----------------------------------------------------------
    def server_second(self) -> int:
        """The service's clock in whole seconds, from the Date header of an answer."""
        answer = self.http.get("/health/ready")
        date = answer.headers.get("date")
        if not date:
            raise NotChecked("the service sends no Date header: its clock cannot be read")
        return int(email.utils.parsedate_to_datetime(date).timestamp())

    def next_second(self) -> int:
        """Wait until a second begins on the service's clock; that second (the next ~second is one window).

        The `Date` header only bounds the service's clock (servers refresh it about once a
        second), so the kit waits for its own clock's next second once the header agrees with
        it to a second: the rules that need an exact second assume clocks synchronised to well
        under one (the same machine, or NTP), and are not checked otherwise.
        """
        offset = self.server_second() - time.time()
        if not -2.0 < offset < 1.0:
            raise NotChecked(f"the service's clock differs from the kit's by {offset:+.1f} s (its Date header)")
        now = time.time()
        time.sleep(int(now) + 1 - now + 0.005)
        return int(time.time())

    def metric(self, name: str, **labels: str) -> float:
        """The sum of `name`'s samples whose labels include `labels` (0 when there is none)."""
        return float(
            sum(
                sample.value
                for family in self._families()
                for sample in family.samples
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
            )
        )

    def metric_names(self) -> set[str]:
        """Every metric family and sample name /metrics shows (a family without samples too)."""
        families = self._families()
        return {f.name for f in families} | {sample.name for f in families for sample in f.samples}

    def _families(self) -> list[Any]:
        return list(text_string_to_metric_families(self.http.get("/metrics").text))

    def close(self) -> None:
        """Close the kit's HTTP client and stop following the log."""
        self.http.close()
        if self.logs is not None:
            self.logs.close()


def expect(answer: Answer, status: int | tuple[int, ...], why: str) -> None:
    """Failed (naming `why`) unless the answer has `status` (one of them)."""
    wanted = (status,) if isinstance(status, int) else status
    if answer.status not in wanted:
        shown = " or ".join(str(s) for s in wanted)
        raise Failed(f"{why}: expected {shown}, got {answer.status}", answer.shown())


def anomaly_types(order: Mapping[str, Any]) -> set[str]:
    """The types of the anomalies an order answer lists."""
    return {a.get("type", "") for a in order.get("anomalies") or []}
