"""Checking a signed internal request (request signing, versions 1 and 2).

In order: the four headers present, each exactly once; the version (absent is v1, refused
when `accept_v1` is off; "2" needs a well-formed `X-Signed-Headers` that covers what the
endpoint requires, each listed header sent exactly once); a known identity and its API key
(constant time, against stored hashes); the timestamp within the tolerance, past or
future, both ends inclusive; the signature well formed and equal (constant time) to the
HMAC under any of the identity's active secrets, computed over the raw path, query and
body bytes as received; and, last, the signature never seen within the window (a replay
store in Redis). An unknown identity, a wrong key and a wrong signature fail alike.

When Redis loses its data, the signatures it held are gone; the store's epoch (the moment
it started empty, kept beside them and made again on an empty Redis) says so: a request
signed before the epoch may have been seen before the loss, and is refused as one that
cannot be checked. A signature is kept for the rest of its window as a duration measured
on the service's clock (`EX`), so a Redis clock ahead of the service's cannot shorten it.
Timestamps are whole seconds, so the epoch is too: a request signed in the very second the
store was found empty is not refused by it (earlier ones are).
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import redis.asyncio as aioredis

from order_service import keys, tracing
from order_service.security.credentials import CredentialStore, hash_api_key
from order_service.security.errors import AuthenticationError
from order_service.security.signing import (
    API_KEY,
    IDENTITY,
    NEVER_SIGNED,
    NONCE,
    SIGNATURE,
    SIGNED_HEADERS,
    TIMESTAMP,
    VERSION,
    signature,
    string_to_sign,
    string_to_sign_v2,
)

_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_REQUIRED = (IDENTITY, API_KEY, TIMESTAMP, SIGNATURE)
MAX_SIGNED_HEADERS = 512  # characters of X-Signed-Headers (the contract's maxLength)
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9a-z-]+")  # an RFC 9110 token, lower case
_DUMMY_SECRET = b"no such identity: compute anyway so timing does not tell"


@dataclass(frozen=True)
class SignedRequest:
    """A request as received: raw path and query, headers (lower-case names, every value), raw body."""

    method: str
    path: str
    query: str
    headers: Mapping[str, Sequence[str]]
    body: bytes


@dataclass(frozen=True)
class Coverage:
    """What a v2 signature must cover on an endpoint: `always`, each of `when_sent` that is sent, and
    `content-type` when there is a body."""

    always: tuple[str, ...] = ()
    when_sent: tuple[str, ...] = ("idempotency-key",)

    def required(self, headers: Mapping[str, Sequence[str]], body: bytes) -> list[str]:
        """The header names the list must contain for this request."""
        needed = [*self.always, *(name for name in self.when_sent if name in headers)]
        return [*needed, "content-type"] if body else needed


ORDER_ENDPOINTS = Coverage(always=("authorization", "x-trading-account-id"))
SERVICE_ONLY = Coverage()  # an operation without a user or an account


class BeforeEpoch(Exception):
    """The request was signed before the replay store last started empty: it cannot be checked."""


class ReplayStore(Protocol):
    async def ensure_epoch(self) -> None:
        """Start the epoch now unless there is one."""
        ...

    async def first_seen(self, signature: str, timestamp: int, ttl: int) -> bool:
        """Record a signature for `ttl` seconds; False when it was already recorded.

        Raises:
            BeforeEpoch: `timestamp` (the request's) is older than the store's epoch.
        """
        ...


class InMemoryReplayStore:
    """For unit tests and runs without Redis; its epoch is its creation (a new process remembers nothing)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._seen: dict[str, float] = {}
        self._clock = clock
        self.epoch = int(clock())

    async def ensure_epoch(self) -> None:
        pass  # its epoch is its creation

    async def first_seen(self, signature: str, timestamp: int, ttl: int) -> bool:
        if timestamp < self.epoch:
            raise BeforeEpoch(f"signed at {timestamp}, before the replay store started at {self.epoch}")
        now = self._clock()
        self._seen = {s: t for s, t in self._seen.items() if t > now}  # gone after `ttl`, as Redis EX is
        if signature in self._seen:
            return False
        self._seen[signature] = now + ttl
        return True


# KEYS: the epoch, the signature; ARGV: now (the service's clock), the request's timestamp, ttl.
# 1: first seen; 0: seen before; -1: signed before the epoch (made here when Redis lost it).
_FIRST_SEEN = """
local epoch = redis.call('GET', KEYS[1])
if not epoch then
    redis.call('SET', KEYS[1], ARGV[1])
    epoch = ARGV[1]
end
if tonumber(ARGV[2]) < tonumber(epoch) then return -1 end
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[3]) then return 1 end
return 0
"""


class RedisReplayStore:
    """Signatures in Redis, shared by replicas, with the epoch of the data they are in (see the module doc)."""

    def __init__(
        self, client: aioredis.Redis, *, prefix: str = keys.REPLAY, clock: Callable[[], float] = time.time
    ) -> None:
        self._redis = client
        self._prefix = prefix
        self._clock = clock
        self._script = client.register_script(_FIRST_SEEN)

    @property
    def epoch_key(self) -> str:
        """Where the epoch lives (never expires; a Redis that lost it gets a new one)."""
        return f"{self._prefix}:epoch"

    async def ensure_epoch(self) -> None:
        """Start the epoch now if Redis has none (at service start, so the first requests are not refused)."""
        await self._redis.set(self.epoch_key, int(self._clock()), nx=True)

    async def first_seen(self, signature: str, timestamp: int, ttl: int) -> bool:
        now = int(self._clock())
        found = await self._script(keys=[self.epoch_key, f"{self._prefix}:{signature}"], args=[now, timestamp, ttl])
        if found == -1:
            raise BeforeEpoch(f"signed at {timestamp}, before the replay store's data began (it was lost)")
        return bool(found == 1)


class RequestVerifier:
    def __init__(
        self,
        credentials: CredentialStore,
        replay: ReplayStore | None,
        *,
        tolerance: int = 300,
        clock: Callable[[], float] = time.time,
        accept_v1: bool = True,
    ) -> None:
        self._accept_v1 = accept_v1
        self._credentials = credentials
        self._replay = replay
        self._tolerance = tolerance
        self._clock = clock

    async def verify(self, request: SignedRequest, coverage: Coverage = ORDER_ENDPOINTS) -> str:
        """The caller's identity; `AuthenticationError` with the exact reason otherwise."""
        with tracing.span("verify signature"):
            identity = await self._verify(request, coverage)
            tracing.set_attributes({"enduser.id": identity})
            return identity

    async def _verify(self, request: SignedRequest, coverage: Coverage) -> str:
        identity, timestamp, sent = self.check(request, coverage)
        if self._replay is None:
            return identity
        # kept until the first second its timestamp is stale, counted on this service's clock
        ttl = max(1, timestamp + self._tolerance + 1 - int(self._clock()))
        try:
            with tracing.span("redis replay_check", tracing.REDIS):
                first = await self._replay.first_seen(sent, timestamp, ttl)
        except BeforeEpoch as exc:
            raise AuthenticationError(
                "replay_unverifiable", f"request cannot be checked for replay: {exc}", identity=identity
            ) from exc
        if not first:
            raise AuthenticationError("replayed", "signature already used within the window", identity=identity)
        return identity

    def check(self, request: SignedRequest, coverage: Coverage = ORDER_ENDPOINTS) -> tuple[str, int, str]:
        """Everything but the replay check: (identity, timestamp, signature)."""
        values = {}
        for name in _REQUIRED:
            found = request.headers.get(name)
            if not found or not found[0]:
                raise AuthenticationError("missing_header", f"{name} is missing")
            if len(found) > 1:
                raise AuthenticationError("duplicate_header", f"{name} was sent {len(found)} times")
            values[name] = found[0]
        nonces = request.headers.get(NONCE, ())
        if len(nonces) > 1:
            raise AuthenticationError("duplicate_header", f"{NONCE} was sent {len(nonces)} times")
        identity = values[IDENTITY]
        version = self._version(request, identity)

        raw_timestamp = values[TIMESTAMP]
        if not _TIMESTAMP.fullmatch(raw_timestamp):
            raise AuthenticationError("bad_timestamp", "timestamp is not unix seconds", identity=identity)
        timestamp = int(raw_timestamp)
        skew = int(self._clock()) - timestamp  # whole seconds, as sent: both edges of the window inside
        if abs(skew) > self._tolerance:
            raise AuthenticationError(
                "stale_timestamp",
                f"timestamp is {skew:+.0f} s from now (tolerance {self._tolerance} s)",
                identity=identity,
            )

        credential = self._credentials.get(identity)
        offered_key = hash_api_key(values[API_KEY])
        key_hashes = credential.api_key_hashes if credential else (b"\0" * 32,)
        key_ok = any([hmac.compare_digest(offered_key, known) for known in key_hashes])  # no short-circuit

        sent = values[SIGNATURE]
        sent_bytes = sent.encode()  # compare_digest refuses non-ASCII str; header text (latin-1) always encodes
        fields: dict[str, Any] = {
            "timestamp": raw_timestamp,
            "method": request.method,
            "path": request.path,
            "query": request.query,
            "identity": identity,
            "nonce": nonces[0] if nonces else None,
            "body": request.body,
        }
        if version == 1:
            signed = string_to_sign(**fields)
        else:
            listed, covered = _covered(request, coverage, identity)
            signed = string_to_sign_v2(**fields, signed_headers=listed, covered=covered)
        secrets = credential.signing_secrets if credential else (_DUMMY_SECRET,)
        well_formed = bool(_SIGNATURE.fullmatch(sent))
        signature_ok = any([hmac.compare_digest(signature(secret, signed).encode(), sent_bytes) for secret in secrets])

        if credential is None:
            raise AuthenticationError("unknown_identity", f"no credentials for {identity!r}", identity=identity)
        if not key_ok:
            raise AuthenticationError("bad_api_key", "API key does not match a key of the identity", identity=identity)
        if not well_formed:
            raise AuthenticationError(
                "malformed_signature", "signature is not 64 lowercase hex digits", identity=identity
            )
        if not signature_ok:
            raise AuthenticationError("bad_signature", "signature does not match the request", identity=identity)
        return identity, timestamp, sent

    def _version(self, request: SignedRequest, identity: str) -> int:
        versions = request.headers.get(VERSION, ())
        if len(versions) > 1:
            raise AuthenticationError(
                "duplicate_header", f"{VERSION} was sent {len(versions)} times", identity=identity
            )
        if not versions:
            if SIGNED_HEADERS in request.headers:
                raise AuthenticationError(
                    "version_missing", f"{SIGNED_HEADERS} sent without {VERSION}: 2", identity=identity
                )
            if not self._accept_v1:
                raise AuthenticationError("v1_refused", "signing version 1 is no longer accepted", identity=identity)
            return 1
        if versions[0] != "2":
            raise AuthenticationError(
                "unsupported_version", f"no signing version {versions[0][:20]!r}", identity=identity
            )
        return 2


def _covered(request: SignedRequest, coverage: Coverage, identity: str) -> tuple[str, list[str]]:
    """The `X-Signed-Headers` value as sent and the values it covers, after checking every rule of the list."""
    lists = request.headers.get(SIGNED_HEADERS, ())
    if not lists:
        raise AuthenticationError("missing_header", f"{SIGNED_HEADERS} is missing", identity=identity)
    if len(lists) > 1:
        raise AuthenticationError(
            "duplicate_header", f"{SIGNED_HEADERS} was sent {len(lists)} times", identity=identity
        )
    listed = lists[0]
    names = listed.split(";") if listed else []  # sent empty: nothing covered (enough where nothing is required)

    def broken(detail: str) -> AuthenticationError:
        return AuthenticationError("bad_signed_headers", f"{SIGNED_HEADERS} {detail}", identity=identity)

    if len(listed) > MAX_SIGNED_HEADERS:
        raise broken(f"is {len(listed)} characters long (at most {MAX_SIGNED_HEADERS})")
    bad = [name for name in names if not _HEADER_NAME.fullmatch(name)]
    if bad:
        raise broken(f"has {bad[0][:40]!r}, not a lower-case header name (';' between names, no spaces)")
    if len(set(names)) != len(names):
        raise broken("lists a name twice")
    forbidden = sorted(NEVER_SIGNED.intersection(names))
    if forbidden:
        raise broken(f"lists {', '.join(forbidden)}, which may not be covered")
    uncovered = [name for name in coverage.required(request.headers, request.body) if name not in names]
    if uncovered:
        raise broken(f"does not cover {', '.join(uncovered)}")
    covered = []
    for name in names:
        found = request.headers.get(name, ())
        if not found:
            raise AuthenticationError("missing_signed_header", f"{name} is listed but not sent", identity=identity)
        if len(found) > 1:
            raise AuthenticationError("duplicate_header", f"{name} was sent {len(found)} times", identity=identity)
        covered.append(found[0])
    return listed, covered
