"""The plugin's fixtures, marker and mock handles, used as a user's tests use them."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from harness.errors import JournalAssertion, MockFailed, UsageError
from harness.redis import worker_url
from harness.servers import InProcessMocks, LiveMocks
from suites.fixtures.processes import child_pytest

pytestmark = pytest.mark.anyio
VALIDATE = "/strategies/42/validate"
KEY = "lost-answer-01"


async def get(mocks: InProcessMocks, path: str, **kwargs: object) -> httpx.Response:
    async with mocks.client("strategy-service") as client:
        return await client.get(path, **kwargs)  # type: ignore[arg-type]


@pytest.mark.harness_fault("strategy-service", "status", status=503, times=1, operation_id="validateStrategy")
async def test_the_marker_puts_a_fault_in_place(harness_mocks: InProcessMocks) -> None:
    assert [(await get(harness_mocks, VALIDATE)).status_code for _ in range(2)] == [503, 200]


async def test_a_test_after_a_marked_one_starts_clean(harness_mocks: InProcessMocks) -> None:
    assert (await get(harness_mocks, VALIDATE)).status_code == 200


async def test_an_outage_lasts_for_its_block(harness_mocks: InProcessMocks) -> None:
    strategy = harness_mocks.service("strategy-service")
    with strategy.outage(kind="status", status=502):
        assert (await get(harness_mocks, VALIDATE)).status_code == 502
    assert (await get(harness_mocks, VALIDATE)).status_code == 200


async def test_assert_called_says_what_was_received(harness_mocks: InProcessMocks) -> None:
    strategy = harness_mocks.service("strategy-service")
    fault_id = strategy.fault("status", status=503, times=1)
    await get(harness_mocks, VALIDATE)
    assert len(strategy.assert_called("validateStrategy", times=1)) == 1
    with pytest.raises(JournalAssertion) as failed:
        strategy.assert_called("validateStrategy", times=3)
    assert str(failed.value) == (
        "strategy-service: expected validateStrategy 3 time(s), received it 1 time(s); "
        f"received in all: GET /strategies/42/validate -> 503 [status#{fault_id}]"
    )
    with pytest.raises(JournalAssertion, match="expected getStrategyPortfolio at least once, received it 0"):
        strategy.assert_called("getStrategyPortfolio")
    strategy.assert_not_called("getStrategyPortfolio")


async def test_assert_applied_once_tells_a_replay_from_a_second_write(harness_mocks: InProcessMocks) -> None:
    strategy = harness_mocks.service("strategy-service")
    body = {
        "as_of": "2026-11-26T15:30:00+05:30",
        "realized_pnl": "1.00",
        "unrealized_pnl": "0.00",
        "total_pnl": "1.00",
        "open_positions": 0,
    }
    async with harness_mocks.client("strategy-service") as client:
        for _ in range(2):  # the same key twice: the second is a replay
            await client.post("/strategies/42/sync-pnl", json=body, headers={"idempotency-key": "sync-key-0001"})
        newer = {**body, "as_of": "2026-11-26T15:31:00+05:30"}
        for _ in range(2):  # a client that made a new key for its retry: applied twice
            await client.post("/strategies/42/sync-pnl", json=newer, headers={"idempotency-key": "sync-key-0002"})
            newer = {**newer, "as_of": "2026-11-26T15:32:00+05:30"}
    assert [e["replayed"] for e in strategy.assert_applied_once("sync-key-0001")] == [False, True]
    strategy.assert_applied_once("sync-key-0002")  # one write per key: each applied once
    nothing = r"Idempotency-Key nobody applied once, applied 0 time\(s\); its requests: nothing"
    with pytest.raises(JournalAssertion, match=nothing):
        strategy.assert_applied_once("nobody")


async def test_a_lost_answer_still_counts_as_applied(harness_mocks: InProcessMocks) -> None:
    strategy = harness_mocks.service("strategy-service")
    body = {
        "as_of": "2026-11-26T15:30:00+05:30",
        "realized_pnl": "1",
        "unrealized_pnl": "0",
        "total_pnl": "1",
        "open_positions": 0,
    }
    with strategy.outage(kind="drop_after", operation_id="syncStrategyPnl"):
        async with harness_mocks.client("strategy-service") as client:
            for _ in range(3):
                with pytest.raises(httpx.TransportError):
                    await client.post("/strategies/42/sync-pnl", json=body, headers={"idempotency-key": KEY})
    entries = strategy.assert_applied_once(KEY)
    assert [e["replayed"] for e in entries] == [False, True, True]


async def test_bad_handles_and_faults_are_usage_errors(harness_mocks: InProcessMocks) -> None:
    with pytest.raises(UsageError, match="no mock 'billing-service'"):
        harness_mocks.service("billing-service")
    with pytest.raises(UsageError, match="operation_id 'noSuchOperation' is not an operation"):
        harness_mocks.service("strategy-service").fault("status", operation_id="noSuchOperation")


PUBLIC = Path(__file__).parents[1] / "mocks" / "public_contracts"


async def test_a_mock_of_any_contract_file_answers_and_keeps_its_journal(harness_mock_of: Any) -> None:
    mocks = harness_mock_of(PUBLIC / "apideck-sms.json", seed=5)
    headers = {"authorization": "Bearer t", "x-apideck-app-id": "a", "x-apideck-consumer-id": "c"}
    async with mocks.client("apideck-sms") as client:
        listed = await client.get("/sms/messages", headers=headers)
        refused = await client.get("/sms/messages")
    assert listed.status_code == 200
    assert refused.status_code == 401
    mocks.service("apideck-sms").assert_called("messagesAll", times=2)


def test_a_contract_the_engine_cannot_serve_fails_the_fixture_at_once(harness_mock_of: Any, tmp_path: Path) -> None:
    from mocks.errors import ContractError

    broken = tmp_path / "broken.yaml"
    document = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/a": {
                "get": {
                    "responses": {
                        "200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/nope"}}}}
                    }
                }
            }
        },
    }
    broken.write_text(json.dumps(document))
    with pytest.raises(ContractError, match=r"broken\.yaml: reference #/nope points nowhere"):
        harness_mock_of(broken)


def test_the_signer_fixture_signs_with_dev_keys(harness_signer: object) -> None:
    request = httpx.Request("GET", "http://order.test/orders")
    auth = harness_signer("algo_engine")  # type: ignore[operator]
    signed = next(auth.auth_flow(request))
    assert signed.headers["x-service-identity"] == "algo_engine"
    assert signed.headers["x-request-signature"]


@pytest.mark.live
def test_live_handles_work_over_http(harness_live_mocks: LiveMocks) -> None:
    strategy = harness_live_mocks.service("strategy-service")
    with strategy.outage(kind="status", status=503, operation_id="validateStrategy"):
        assert httpx.get(strategy.url + VALIDATE, timeout=5).status_code == 503
    assert httpx.get(strategy.url + VALIDATE, timeout=5).status_code == 200
    assert [e["status"] for e in strategy.assert_called("validateStrategy", times=2)] == [503, 200]
    with pytest.raises(UsageError, match="is not an operation of this contract"):
        strategy.fault("status", operation_id="noSuchOperation")


@pytest.mark.redis
def test_the_plugin_gives_a_real_redis_emptied_per_test(harness_redis_client: redis.Redis) -> None:
    assert harness_redis_client.dbsize() == 0
    harness_redis_client.set("left:behind", "1")
    assert harness_redis_client.memory_usage("left:behind")  # a real server: fakeredis has no MEMORY USAGE


@pytest.mark.redis
def test_and_the_next_test_finds_it_empty(harness_redis_client: redis.Redis) -> None:
    assert harness_redis_client.dbsize() == 0


@pytest.mark.parametrize(
    ("url", "worker", "expected"),
    [
        ("redis://h:6379/0", None, "redis://h:6379/0"),
        ("redis://h:6379/0", "gw0", "redis://h:6379/0"),
        ("redis://h:6379/4", "gw3", "redis://h:6379/7"),
        ("redis://:pw@h:6379", "gw2", "redis://:pw@h:6379/2"),
        ("redis://h:6379/1", "master", "redis://h:6379/1"),
    ],
)
def test_each_xdist_worker_takes_its_own_database_of_a_url(url: str, worker: str | None, expected: str) -> None:
    assert worker_url(url, worker) == expected


@pytest.mark.parametrize(("require", "status", "outcome"), [("", 0, "1 skipped"), ("redis", 1, "1 error")])
def test_without_a_redis_the_plugin_skips_or_under_the_switch_fails(require: str, status: int, outcome: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "HARNESS_REQUIRE")}
    env["PATH"] = str(Path(sys.executable).parent)  # the venv only: no redis-server
    env["HARNESS_REDIS_SOURCE"] = "process"
    env["HARNESS_REQUIRE"] = require
    test = "suites/harness/test_plugin.py::test_the_plugin_gives_a_real_redis_emptied_per_test"
    result = child_pytest(test, "-rsf", "-o", "addopts=", env=env, timeout=120)
    assert result.returncode == status, result.stdout
    assert outcome in result.stdout
    assert "no real Redis: REDIS_URL is not set" in result.stdout


async def test_an_error_inside_a_mock_is_raised_in_the_test(harness_mocks: InProcessMocks) -> None:
    """The 500 a broken handler answers is not the end of it: the error itself reaches the test."""
    app = harness_mocks.app("strategy-service")
    original = app.engine.behaviour.handlers["validateStrategy"]

    def broken(request: object) -> object:
        raise ZeroDivisionError("a bug in the mock")

    app.engine.behaviour.handlers["validateStrategy"] = broken  # type: ignore[assignment]
    try:
        assert (await get(harness_mocks, VALIDATE)).status_code == 500
        with pytest.raises(MockFailed, match=r"strategy-service failed inside 1 time\(s\)") as failed:
            harness_mocks.raise_failures()
        assert isinstance(failed.value.__cause__, ZeroDivisionError)
    finally:
        app.engine.behaviour.handlers["validateStrategy"] = original
        harness_mocks.reset()  # the fixture's own check after the test then finds nothing


async def test_a_mock_without_failures_raises_nothing(harness_mocks: InProcessMocks) -> None:
    await get(harness_mocks, VALIDATE)
    harness_mocks.raise_failures()


def test_the_fixture_fails_a_test_whose_mock_failed_inside(tmp_path: Path) -> None:
    planted = tmp_path / "test_planted.py"
    planted.write_text(
        "import pytest\n"
        "pytestmark = pytest.mark.anyio\n"
        "@pytest.fixture\n"
        "def anyio_backend():\n"
        "    return 'asyncio'\n"
        "async def test_ignores_a_500(harness_mocks):\n"
        "    app = harness_mocks.app('strategy-service')\n"
        "    app.engine.behaviour.handlers['validateStrategy'] = lambda request: 1 / 0\n"
        "    async with harness_mocks.client('strategy-service') as client:\n"
        "        await client.get('/strategies/42/validate')\n"
    )
    result = child_pytest(str(planted), "-q", "-o", "addopts=", env=dict(os.environ), timeout=120)
    assert result.returncode == 1, result.stdout
    assert "1 passed, 1 error" in result.stdout
    assert "MockFailed: strategy-service failed inside 1 time(s)" in result.stdout
    assert "ZeroDivisionError" in result.stdout


@pytest.mark.live
@pytest.mark.redis
def test_under_xdist_each_worker_has_its_own_servers(tmp_path: Path) -> None:
    """Two workers at once: each starts its own live mocks and its own Redis, kept for its session."""
    seen = tmp_path / "seen.txt"
    planted = tmp_path / "test_workers.py"
    planted.write_text(
        "import os, pytest\n"
        "@pytest.mark.parametrize('n', range(6))\n"
        "def test_where(n, harness_redis_client, harness_redis, harness_live_mocks):\n"
        "    assert harness_redis_client.dbsize() == 0\n"
        "    harness_redis_client.set(f'mine:{n}', 1)\n"
        f"    with open({str(seen)!r}, 'a') as out:\n"
        "        out.write(f\"{os.environ['PYTEST_XDIST_WORKER']} {harness_redis.url} "
        "{harness_live_mocks.url('strategy-service')}\\n\")\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["HARNESS_REDIS_SOURCE"] = "process"
    result = child_pytest(str(planted), "-n", "2", "-q", "-o", "addopts=", env=env, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "6 passed" in result.stdout
    rows = [line.split() for line in seen.read_text().splitlines()]
    by_worker = {worker: {(redis_url, mocks_url)} for worker, redis_url, mocks_url in rows}
    for worker, redis_url, mocks_url in rows:
        by_worker[worker].add((redis_url, mocks_url))
    assert sorted(by_worker) == ["gw0", "gw1"]
    assert all(len(servers) == 1 for servers in by_worker.values())  # one set per worker's session
    (first,), (second,) = by_worker.values()
    assert first[0] != second[0]  # its own Redis
    assert first[1] != second[1]  # its own mocks


async def test_a_signed_client_places_an_order_on_the_reference_service(harness_signed_client: Any) -> None:
    """The real verifier accepts what the fixture's client sends: signature, user token, account."""
    from order_service.api.app import create_app
    from order_service.security.dev import dev_security_settings
    from order_service.settings import Settings
    from suites.fixtures.orders import LIMIT_ORDER

    app = create_app(Settings(security=dev_security_settings()))
    async with harness_signed_client("http://order.test", transport=httpx.ASGITransport(app=app)) as client:
        placed = await client.post("/orders", json=LIMIT_ORDER)
        assert placed.status_code == 201, placed.text
        assert placed.json()["trading_account_id"] == "ZX1234"
        assert (await client.get("/orders", auth=None)).status_code == 401  # the same client unsigned: refused


@pytest.mark.live
def test_an_error_inside_a_live_mock_comes_back_with_its_traceback(tmp_path: Path) -> None:
    """A contract its mock's handler breaks (a required field it never fills): the process answers 500 and says why."""
    from harness.servers import start_mock_servers, stop_mock_servers
    from mocks.registry import CONTRACTS_DIR

    planted = tmp_path / "contracts"
    planted.mkdir()
    for contract in CONTRACTS_DIR.glob("*.yaml"):
        text = contract.read_text()
        if contract.name == "order-service.yaml":
            planted_text = text.replace(
                "      required: [net, day]\n      properties:\n",
                "      required: [net, day, planted]\n      properties:\n        planted: {type: string}\n",
                1,
            )
            assert planted_text != text
            text = planted_text
        (planted / contract.name).write_text(text)
    live = start_mock_servers(
        tmp_path / "mocks.log", extra=("--no-redis", "--no-order-service", "--contracts-dir", str(planted))
    )
    try:
        live.raise_failures()  # nothing failed yet
        headers = {
            "x-trading-account-id": "ZX1234",
            "authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJl",
            "x-service-identity": "algo_engine",
            "x-internal-api-key": "dev-algo-engine-key-0001",
            "x-request-timestamp": "1795700000",
            "x-request-signature": "f" * 64,
            "x-request-nonce": "n" * 32,
        }
        assert httpx.get(live.url("order-service") + "/positions", headers=headers, timeout=5).status_code == 500
        with pytest.raises(MockFailed) as failed:
            live.raise_failures()
        message = str(failed.value)
        assert message.startswith("order-service failed inside 1 time(s); the first: RuntimeError(")
        assert "getPositions 200 answer breaks the contract" in message
        assert 'File "' in message
        assert "_check_reply" in message
        live.reset()
        live.raise_failures()  # a reset forgets them
    finally:
        stop_mock_servers(live)


async def test_a_mock_failing_again_and_again_keeps_only_the_first_failures(harness_mocks: InProcessMocks) -> None:
    from mocks.engine import FAILURES_KEPT

    app = harness_mocks.app("strategy-service")
    original = app.engine.behaviour.handlers["validateStrategy"]
    app.engine.behaviour.handlers["validateStrategy"] = lambda request: 1 / 0  # type: ignore[assignment,return-value]
    try:
        for _ in range(FAILURES_KEPT + 5):
            await get(harness_mocks, VALIDATE)
        assert (len(app.engine.failures), app.engine.failure_count) == (FAILURES_KEPT, FAILURES_KEPT + 5)
        with pytest.raises(MockFailed, match=rf"failed inside {FAILURES_KEPT + 5} time\(s\)"):
            harness_mocks.raise_failures()
    finally:
        app.engine.behaviour.handlers["validateStrategy"] = original
        harness_mocks.reset()
