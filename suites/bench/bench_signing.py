"""`make bench`, part three: verifying a signed 1 KiB request.

The median time of the verifier's checks (headers, API key, timestamp, HMAC over the raw
body) without the replay check, against a target of 20 us for v1 and 25 us for v2 (which
also checks and covers the user token, the account, the idempotency key and the content
type), with v2's cost over v1 in the same run; then with the replay check
against a real Redis on loopback (a throwaway redis-server, or REDIS_URL), and the cost
that adds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import statistics
import time
from typing import Any

import redis.asyncio as aioredis

from order_service.security.credentials import CredentialStore
from order_service.security.signing import signature, string_to_sign, string_to_sign_v2
from order_service.security.verifying import RedisReplayStore, RequestVerifier, SignedRequest
from suites.fixtures.redis import redis_server_process

STORE = CredentialStore.from_mapping(
    {"services": {"algo_engine": {"api_keys": ["k" * 24], "signing_secrets": ["s" * 32]}}}
)
BODY = (b'{"exchange":"NSE","tradingsymbol":"INFY","pad":"' + b"x" * 1024)[:1022] + b'"}'
COVERED = {
    "authorization": "Bearer " + "t" * 200,  # about a dev user token's length
    "x-trading-account-id": "ZX1234",
    "idempotency-key": "bench-key-0000000001",
    "content-type": "application/json",
}
LISTED = ";".join(COVERED)


def request(timestamp: int, nonce: str, version: int = 1) -> SignedRequest:
    """The 1 KiB order, signed with `version` (v2 covering the four headers of `COVERED`)."""
    fields: dict[str, Any] = {
        "timestamp": str(timestamp),
        "method": "POST",
        "path": "/orders",
        "query": "",
        "identity": "algo_engine",
        "nonce": nonce,
        "body": BODY,
    }
    if version == 1:
        text, extra = string_to_sign(**fields), {}
    else:
        text = string_to_sign_v2(**fields, signed_headers=LISTED, covered=list(COVERED.values()))
        extra = {"x-signature-version": ["2"], "x-signed-headers": [LISTED]} | {k: [v] for k, v in COVERED.items()}
    headers = {
        "x-service-identity": ["algo_engine"],
        "x-internal-api-key": ["k" * 24],
        "x-request-timestamp": [str(timestamp)],
        "x-request-signature": [signature(b"s" * 32, text)],
        "x-request-nonce": [nonce],
        **extra,
    }
    return SignedRequest("POST", "/orders", "", headers, BODY)


def bench_check(rounds: int, version: int = 1) -> list[float]:
    now = int(time.time())
    verifier = RequestVerifier(STORE, None, clock=lambda: now)
    signed = request(now, "bench-nonce", version)
    for _ in range(200):
        verifier.check(signed)
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        verifier.check(signed)
        times.append(time.perf_counter() - began)
    return times


async def bench_replay(url: str, rounds: int) -> list[float]:
    client = aioredis.Redis.from_url(url)
    now = int(time.time())
    store = RedisReplayStore(client, clock=lambda: now)
    await store.ensure_epoch()  # as `serve` does at start: requests signed from now on are checked
    verifier = RequestVerifier(STORE, store, clock=lambda: now)
    requests = [request(now, f"nonce-{n:08d}") for n in range(rounds + 200)]  # distinct signatures
    for signed in requests[:200]:
        await verifier.verify(signed)
    times = []
    for signed in requests[200:]:
        began = time.perf_counter()
        await verifier.verify(signed)
        times.append(time.perf_counter() - began)
    await client.aclose()
    return times


def main() -> int:
    rounds = 20_000
    check = statistics.median(bench_check(rounds))
    check_v2 = statistics.median(bench_check(rounds, version=2))
    print(
        f"\nverify a signed 1 KiB request, no replay check: median {check * 1e6:.1f} us over {rounds:,} "
        f"(target < 20 us)"
    )
    print(
        f"the same request signed with v2 (four covered headers): median {check_v2 * 1e6:.1f} us "
        f"(target < 25 us; {check_v2 / check:.2f}x v1 in this run)"
    )
    url = os.environ.get("REDIS_URL")
    binary = shutil.which("redis-server")
    if url:
        with_replay = statistics.median(asyncio.run(bench_replay(url, 5_000)))
    elif binary:
        with contextlib.contextmanager(redis_server_process)(binary) as server:
            with_replay = statistics.median(asyncio.run(bench_replay(server.url, 5_000)))
    else:
        print("with the replay check: skipped (no REDIS_URL and no redis-server)")
        return 0
    print(
        "with the replay check in Redis (the epoch and the signature in one script, loopback): "
        f"median {with_replay * 1e6:.1f} us, adding {(with_replay - check) * 1e6:.1f} us"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
