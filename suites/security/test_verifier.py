"""The verifier's cases: tolerance edges, replays, malformed signatures, headers, keys, rotation."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis

from order_service.security.credentials import CredentialStore
from order_service.security.errors import AuthenticationError
from order_service.security.verifying import BeforeEpoch, InMemoryReplayStore, RedisReplayStore, RequestVerifier
from suites.fixtures.redis import RealRedis
from suites.security.helpers import API_KEY, NOW, OLD_SECRET, SECRET, STORE, replace, signed, with_header

pytestmark = pytest.mark.anyio


async def reason(verifier: RequestVerifier, request: object) -> str | None:
    try:
        await verifier.verify(request)  # type: ignore[arg-type]
    except AuthenticationError as exc:
        return exc.reason
    return None


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        (-300, True),
        (-301, False),
        (300, True),
        (301, False),
        (0, True),
        (-86_400, False),
        (10**6, False),
    ],
)
async def test_timestamp_tolerance_is_inclusive_both_ways(offset: int, accepted: bool) -> None:
    """|now - timestamp| <= 300 s is accepted: the edge itself is inside, past and future alike."""
    verifier = RequestVerifier(STORE, None, tolerance=300, clock=lambda: NOW)
    outcome = await reason(verifier, signed(timestamp=NOW + offset))
    assert (outcome is None) is accepted
    if not accepted:
        assert outcome == "stale_timestamp"


@pytest.mark.parametrize("fraction", [0.0, 0.2, 0.999])
@pytest.mark.parametrize(("offset", "accepted"), [(-300, True), (300, True), (-301, False), (301, False)])
async def test_the_window_is_whole_seconds_on_a_fractional_clock(offset: int, accepted: bool, fraction: float) -> None:
    """The clock reads 1795700000.999: a timestamp exactly 300 s old is inside, as is one 300 s ahead."""
    verifier = RequestVerifier(STORE, None, tolerance=300, clock=lambda: NOW + fraction)
    outcome = await reason(verifier, signed(timestamp=NOW - offset))
    assert (outcome is None) is accepted, outcome


@pytest.mark.parametrize("value", ["", "17957e5", "-1795700000", "1795700000.5", " 1795700000", "9" * 13])
async def test_a_timestamp_that_is_not_unix_seconds_is_refused(value: str) -> None:
    verifier = RequestVerifier(STORE, None, clock=lambda: NOW)
    request = with_header(signed(), "x-request-timestamp", [value])
    assert await reason(verifier, request) in ("bad_timestamp", "missing_header")


async def test_a_replay_is_refused_within_the_window_and_stale_after_it() -> None:
    clock = [float(NOW)]
    verifier = RequestVerifier(STORE, InMemoryReplayStore(clock=lambda: clock[0]), clock=lambda: clock[0])
    request = signed()
    assert await reason(verifier, request) is None
    assert await reason(verifier, request) == "replayed"
    clock[0] += 299
    assert await reason(verifier, request) == "replayed"
    clock[0] += 1.9  # 300.9 s: the last moment the timestamp is inside, and the record still is
    assert await reason(verifier, request) == "replayed"
    clock[0] += 0.1  # the replay record expired, and so did the timestamp
    assert await reason(verifier, request) == "stale_timestamp"


class RecordingStore:
    def __init__(self) -> None:
        self.kept: list[tuple[str, int]] = []

    async def ensure_epoch(self) -> None:
        pass

    async def first_seen(self, signature: str, timestamp: int, ttl: int) -> bool:
        self.kept.append((signature, ttl))
        return True


async def test_a_signature_is_remembered_exactly_while_its_timestamp_can_be_accepted() -> None:
    """Until timestamp + tolerance + 1: the first second its timestamp is stale (no longer, it costs memory)."""
    store = RecordingStore()
    verifier = RequestVerifier(STORE, store, tolerance=300, clock=lambda: NOW)
    request = signed(timestamp=NOW - 10)
    assert await reason(verifier, request) is None
    assert [ttl for _, ttl in store.kept] == [301 - 10]  # seconds from now, on the service's clock


async def test_the_memory_store_forgets_a_signature_after_its_ttl_as_redis_ex_does() -> None:
    clock = [100.0]
    store = InMemoryReplayStore(clock=lambda: clock[0])
    assert await store.first_seen("sig", 100, ttl=10)
    clock[0] = 109.999
    assert not await store.first_seen("sig", 100, ttl=20)
    clock[0] = 110.0
    assert await store.first_seen("sig", 100, ttl=20)  # gone at 110, so first seen again


async def test_the_memory_store_refuses_what_was_signed_before_it_began() -> None:
    store = InMemoryReplayStore(clock=lambda: 1000.0)
    with pytest.raises(BeforeEpoch):
        await store.first_seen("sig", 999, ttl=10)
    assert await store.first_seen("sig", 1000, ttl=10)


@pytest.mark.redis
async def test_the_redis_store_keeps_a_signature_for_exactly_its_ttl(
    real_redis: RealRedis, redis_client: redis.Redis
) -> None:
    client = aioredis.Redis.from_url(real_redis.url)
    try:
        now = int(time.time())
        store = RedisReplayStore(client, prefix="replay-test", clock=lambda: now)
        assert await store.first_seen("sig", now, ttl=3600)
        assert 3599 <= redis_client.ttl("replay-test:sig") <= 3600
        assert not await store.first_seen("sig", now, ttl=3600)
    finally:
        await client.aclose()


@pytest.mark.redis
async def test_replays_are_shared_through_real_redis(real_redis: RealRedis, redis_client: redis.Redis) -> None:
    first = aioredis.Redis.from_url(real_redis.url)
    second = aioredis.Redis.from_url(real_redis.url)
    try:
        import time

        now = int(time.time())
        replica_a = RequestVerifier(STORE, RedisReplayStore(first), clock=lambda: now)
        replica_b = RequestVerifier(STORE, RedisReplayStore(second), clock=lambda: now)
        request = signed(timestamp=now)
        assert await reason(replica_a, request) is None
        assert await reason(replica_b, request) == "replayed"  # the other replica saw it
        ttl = redis_client.ttl(f"replay:{request.headers['x-request-signature'][0]}")
        assert 0 < ttl <= 301  # kept only as long as the timestamp could still pass
    finally:
        await first.aclose()
        await second.aclose()


@pytest.mark.parametrize("value", ["abc", "0" * 63, "0" * 65, "G" * 64, "A" * 64, "é" * 64, "\x00" * 64, " " * 64])
async def test_a_malformed_signature_is_refused_without_an_exception(value: str) -> None:
    verifier = RequestVerifier(STORE, None, clock=lambda: NOW)
    assert await reason(verifier, with_header(signed(), "x-request-signature", [value])) == "malformed_signature"


@pytest.mark.parametrize(
    "header", ["x-service-identity", "x-internal-api-key", "x-request-timestamp", "x-request-signature"]
)
async def test_each_missing_header_is_refused(header: str) -> None:
    verifier = RequestVerifier(STORE, None, clock=lambda: NOW)
    assert await reason(verifier, with_header(signed(), header, None)) == "missing_header"
    assert await reason(verifier, with_header(signed(), header, [""])) == "missing_header"


@pytest.mark.parametrize(
    "header",
    ["x-service-identity", "x-internal-api-key", "x-request-timestamp", "x-request-signature", "x-request-nonce"],
)
async def test_each_duplicated_header_is_refused(header: str) -> None:
    verifier = RequestVerifier(STORE, None, clock=lambda: NOW)
    request = signed()
    doubled = with_header(request, header, [*request.headers[header], *request.headers[header]])
    assert await reason(verifier, doubled) == "duplicate_header"


async def test_the_path_is_signed_exactly_as_sent() -> None:
    verifier = RequestVerifier(STORE, None, clock=lambda: NOW)
    encoded = signed(method="DELETE", path="/orders/AB%2F12", body=b"")
    dotted = signed(method="DELETE", path="/orders/x/../261126000000042", body=b"")
    assert await reason(verifier, encoded) is None
    assert await reason(verifier, replace(encoded, path="/orders/AB/12")) == "bad_signature"
    assert await reason(verifier, replace(encoded, path="/orders/AB%2f12")) == "bad_signature"
    assert await reason(verifier, dotted) is None
    assert await reason(verifier, replace(dotted, path="/orders/261126000000042")) == "bad_signature"


async def test_an_empty_body_is_not_an_empty_object() -> None:
    verifier = RequestVerifier(STORE, None, clock=lambda: NOW)
    empty = signed(method="PATCH", body=b"")
    assert await reason(verifier, empty) is None
    assert await reason(verifier, replace(empty, body=b"{}")) == "bad_signature"


async def test_unknown_identity_and_revoked_key() -> None:
    verifier = RequestVerifier(STORE, None, clock=lambda: NOW)
    assert await reason(verifier, signed(identity="billing")) == "unknown_identity"
    assert await reason(verifier, signed(api_key="revoked-key")) == "bad_api_key"


async def test_rotation_any_active_secret_verifies_a_removed_one_does_not() -> None:
    verifier = RequestVerifier(STORE, None, clock=lambda: NOW)
    assert await reason(verifier, signed(secret=SECRET)) is None
    assert await reason(verifier, signed(secret=OLD_SECRET)) is None
    rotated = CredentialStore.from_mapping(
        {"services": {"algo_engine": {"api_keys": [API_KEY], "signing_secrets": [SECRET.decode()]}}}
    )
    after_rotation = RequestVerifier(rotated, None, clock=lambda: NOW)
    assert await reason(after_rotation, signed(secret=OLD_SECRET)) == "bad_signature"


def test_credentials_refuse_an_identity_without_keys() -> None:
    with pytest.raises(ValueError, match="algo_engine: needs at least one API key"):
        CredentialStore.from_mapping({"services": {"algo_engine": {"signing_secrets": ["s"]}}})


@pytest.mark.parametrize(
    ("request_", "reason_", "identity", "detail"),
    [
        (lambda: with_header(signed(), "x-request-signature", None), "missing_header", None,
         "x-request-signature is missing"),
        (lambda: with_header(signed(), "x-request-timestamp", ["1", "2"]), "duplicate_header", None,
         "x-request-timestamp was sent 2 times"),
        (lambda: with_header(signed(), "x-request-nonce", ["a", "b"]), "duplicate_header", None,
         "x-request-nonce was sent 2 times"),
        (lambda: with_header(signed(), "x-request-timestamp", ["17957e5"]), "bad_timestamp", "algo_engine",
         "timestamp is not unix seconds"),
        (lambda: signed(timestamp=NOW - 301), "stale_timestamp", "algo_engine",
         "timestamp is +301 s from now (tolerance 300 s)"),
        (lambda: signed(identity="billing"), "unknown_identity", "billing", "no credentials for 'billing'"),
        (lambda: signed(api_key="revoked-key"), "bad_api_key", "algo_engine",
         "API key does not match a key of the identity"),
        (lambda: with_header(signed(), "x-request-signature", ["ab" * 31]), "malformed_signature", "algo_engine",
         "signature is not 64 lowercase hex digits"),
        (lambda: signed(secret=b"wrong"), "bad_signature", "algo_engine", "signature does not match the request"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)  # fmt: skip
async def test_each_refusal_tells_the_audit_log_exactly_what_failed_and_for_whom(
    request_: Any, reason_: str, identity: str | None, detail: str
) -> None:
    """The answer says which check failed in general words; the audit line (reason, detail, identity) exactly."""
    verifier = RequestVerifier(STORE, None, tolerance=300, clock=lambda: NOW)
    with pytest.raises(AuthenticationError) as caught:
        await verifier.verify(request_())
    assert (caught.value.reason, caught.value.identity, caught.value.detail) == (reason_, identity, detail)


async def test_a_replay_is_audited_with_its_identity() -> None:
    verifier = RequestVerifier(STORE, InMemoryReplayStore(clock=lambda: NOW), clock=lambda: NOW)
    request = signed()
    await verifier.verify(request)
    with pytest.raises(AuthenticationError) as caught:
        await verifier.verify(request)
    assert (caught.value.reason, caught.value.identity, caught.value.detail) == (
        "replayed",
        "algo_engine",
        "signature already used within the window",
    )


@pytest.mark.redis
async def test_a_replay_after_redis_lost_its_data_is_refused_and_new_requests_pass(
    real_redis: RealRedis, redis_client: redis.Redis
) -> None:
    client = aioredis.Redis.from_url(real_redis.url)
    try:
        now = int(time.time())
        clock = [now - 10]
        store = RedisReplayStore(client, clock=lambda: clock[0])
        await store.ensure_epoch()  # the service started ten seconds ago
        clock[0] = now
        verifier = RequestVerifier(STORE, store, clock=lambda: now)
        captured = signed(timestamp=now - 5)
        assert await reason(verifier, captured) is None
        assert await reason(verifier, captured) == "replayed"
        redis_client.flushall()  # Redis restarted empty: every signature it held is gone
        assert await reason(verifier, captured) == "replay_unverifiable"  # not accepted a second time
        assert await reason(verifier, signed(timestamp=now)) is None  # signed after the loss: checked as usual
    finally:
        await client.aclose()


@pytest.mark.redis
async def test_a_redis_clock_ahead_of_the_service_does_not_shorten_the_window(
    real_redis: RealRedis, redis_client: redis.Redis
) -> None:
    client = aioredis.Redis.from_url(real_redis.url)
    try:
        behind = int(time.time()) - 3600  # the service's clock an hour behind Redis's
        verifier = RequestVerifier(STORE, RedisReplayStore(client, clock=lambda: behind), clock=lambda: behind)
        request = signed(timestamp=behind)
        assert await reason(verifier, request) is None
        assert await reason(verifier, request) == "replayed"  # still remembered on Redis's clock
        assert 300 <= redis_client.ttl(f"replay:{request.headers['x-request-signature'][0]}") <= 301
    finally:
        await client.aclose()
