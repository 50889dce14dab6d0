"""Checking a signed internal request (request signing, version 1).

In order: the four headers present, each exactly once; a known identity and its API key
(constant time, against stored hashes); the timestamp within the tolerance, past or
future, both ends inclusive; the signature well formed and equal (constant time) to the
HMAC under any of the identity's active secrets, computed over the raw path, query and
body bytes as received; and, last, the signature never seen within the window (a replay
store in Redis). An unknown identity, a wrong key and a wrong signature fail alike.
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as aioredis

from order_service import keys
from order_service.security.credentials import CredentialStore, hash_api_key
from order_service.security.errors import AuthenticationError
from order_service.security.signing import API_KEY, IDENTITY, NONCE, SIGNATURE, TIMESTAMP, signature, string_to_sign

_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_REQUIRED = (IDENTITY, API_KEY, TIMESTAMP, SIGNATURE)
_DUMMY_SECRET = b"no such identity: compute anyway so timing does not tell"


@dataclass(frozen=True)
class SignedRequest:
    """A request as received: raw path and query, headers (lower-case names, every value), raw body."""

    method: str
    path: str
    query: str
    headers: Mapping[str, Sequence[str]]
    body: bytes


class ReplayStore(Protocol):
    async def first_seen(self, signature: str, until: int) -> bool:
        """Record a signature until the unix time `until`; False when it was already recorded."""
        ...


class InMemoryReplayStore:
    """For unit tests; a real deployment shares replays across replicas in Redis."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._seen: dict[str, int] = {}
        self._clock = clock

    async def first_seen(self, signature: str, until: int) -> bool:
        now = self._clock()
        self._seen = {s: t for s, t in self._seen.items() if t > now}  # gone at `until`, as Redis EXAT is
        if signature in self._seen:
            return False
        self._seen[signature] = until
        return True


class RedisReplayStore:
    def __init__(self, client: aioredis.Redis, *, prefix: str = keys.REPLAY) -> None:
        self._redis = client
        self._prefix = prefix

    async def first_seen(self, signature: str, until: int) -> bool:
        return bool(await self._redis.set(f"{self._prefix}:{signature}", 1, nx=True, exat=until))


class RequestVerifier:
    def __init__(
        self,
        credentials: CredentialStore,
        replay: ReplayStore | None,
        *,
        tolerance: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._credentials = credentials
        self._replay = replay
        self._tolerance = tolerance
        self._clock = clock

    async def verify(self, request: SignedRequest) -> str:
        """The caller's identity; `AuthenticationError` with the exact reason otherwise."""
        identity, timestamp, sent = self.check(request)
        if self._replay is not None and not await self._replay.first_seen(sent, timestamp + self._tolerance + 1):
            raise AuthenticationError("replayed", "signature already used within the window", identity=identity)
        return identity

    def check(self, request: SignedRequest) -> tuple[str, int, str]:
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
        signed = string_to_sign(
            timestamp=raw_timestamp,
            method=request.method,
            path=request.path,
            query=request.query,
            identity=identity,
            nonce=nonces[0] if nonces else None,
            body=request.body,
        )
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
