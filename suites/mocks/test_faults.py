"""Fault injection, in-process and over real sockets."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from harness.servers import InProcessMocks, LiveMocks

pytestmark = pytest.mark.anyio

VALIDATE = "/strategies/42/validate"
PORTFOLIO = "/strategies/42/portfolio"


async def add_fault(client: httpx.AsyncClient, **spec: Any) -> dict[str, Any]:
    response = await client.post("/__admin/faults", json=spec)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_latency_delays_the_answer(mocks: InProcessMocks) -> None:
    async with mocks.client("strategy-service") as client:
        await add_fault(client, kind="latency", delay_ms=150)
        started = time.monotonic()
        response = await client.get(VALIDATE)
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.15


async def test_status_fault_answers_503_with_retry_after(mocks: InProcessMocks) -> None:
    async with mocks.client("strategy-service") as client:
        await add_fault(client, kind="status", status=503, retry_after=7)
        response = await client.get(VALIDATE)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    assert response.json()["error"] == "unavailable"


async def test_429_is_rate_limited(mocks: InProcessMocks) -> None:
    async with mocks.client("strategy-service") as client:
        await add_fault(client, kind="status", status=429, retry_after=1)
        response = await client.get(VALIDATE)
    assert response.status_code == 429
    assert response.json()["error"] == "rate_limited"


async def statuses_with_error_rate(mocks: InProcessMocks, seed: int) -> list[int]:
    mocks.reset()
    async with mocks.client("strategy-service") as client:
        await add_fault(client, kind="status", status=503, probability=0.3, seed=seed)
        return [(await client.get(VALIDATE)).status_code for _ in range(100)]


async def test_error_rate_is_random_but_repeatable_with_a_seed(mocks: InProcessMocks) -> None:
    first = await statuses_with_error_rate(mocks, seed=7)
    again = await statuses_with_error_rate(mocks, seed=7)
    other = await statuses_with_error_rate(mocks, seed=8)
    assert first == again
    assert first != other
    assert set(first) == {200, 503}
    assert 15 <= first.count(503) <= 45  # a 30 % rate over 100 requests


async def test_times_limits_how_often_a_fault_fires(mocks: InProcessMocks) -> None:
    async with mocks.client("strategy-service") as client:
        await add_fault(client, kind="status", status=503, times=2)
        statuses = [(await client.get(VALIDATE)).status_code for _ in range(4)]
        listed = (await client.get("/__admin/faults")).json()
    assert statuses == [503, 503, 200, 200]
    assert listed[0]["hits"] == 2
    assert listed[0]["remaining"] == 0


async def test_a_fault_scoped_to_an_operation_spares_the_others(mocks: InProcessMocks) -> None:
    async with mocks.client("strategy-service") as client:
        await add_fault(client, kind="status", status=503, operation_id="validateStrategy")
        hit = await client.get(VALIDATE)
        spared = await client.get(PORTFOLIO)
    assert hit.status_code == 503
    assert spared.status_code == 200


async def test_respond_answers_off_contract_on_purpose(mocks: InProcessMocks) -> None:
    drifted = {"strategyId": 42, "isValid": True}
    async with mocks.client("strategy-service") as client:
        await add_fault(client, kind="respond", status=200, body=drifted, operation_id="validateStrategy")
        response = await client.get(VALIDATE)
    assert response.status_code == 200
    assert response.json() == drifted


async def test_drop_is_a_network_error_in_process(mocks: InProcessMocks) -> None:
    async with mocks.client("strategy-service") as client:
        await add_fault(client, kind="drop", times=1)
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(VALIDATE)
        assert (await client.get(VALIDATE)).status_code == 200


async def assert_applied_then_dropped(client: httpx.AsyncClient) -> None:
    """A `drop_after` fault: the default is created, yet the caller only sees the connection cut."""
    await add_fault(client, kind="drop_after", times=1, operation_id="createDefaultStrategy")
    assert (await client.get("/strategies/default/QQ7777")).status_code == 404
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post("/strategies/default", json={"account_id": "QQ7777"})
    assert (await client.get("/strategies/default/QQ7777")).status_code == 200  # applied all the same
    journal = (await client.get("/__admin/journal", params={"operation_id": "createDefaultStrategy"})).json()
    [entry] = journal["entries"]
    assert entry["status"] == 201
    assert entry["fault"].startswith("drop_after#")


async def test_drop_after_applies_the_request_and_loses_the_answer_in_process(mocks: InProcessMocks) -> None:
    async with mocks.client("strategy-service") as client:
        await assert_applied_then_dropped(client)


async def test_hang_ends_in_the_clients_read_timeout_in_process(mocks: InProcessMocks) -> None:
    async with mocks.client("strategy-service", timeout=httpx.Timeout(5, read=0.2)) as client:
        await add_fault(client, kind="hang", hang_seconds=30, times=1)
        with pytest.raises(httpx.ReadTimeout):
            await client.get(VALIDATE)


async def test_faults_are_journaled_and_removable(mocks: InProcessMocks) -> None:
    async with mocks.client("strategy-service") as client:
        fault = await add_fault(client, kind="status", status=503)
        await client.get(VALIDATE)
        removed = await client.delete(f"/__admin/faults/{fault['id']}")
        again = await client.delete(f"/__admin/faults/{fault['id']}")
        after = await client.get(VALIDATE)
        journal = (await client.get("/__admin/journal", params={"operation_id": "validateStrategy"})).json()
    assert removed.status_code == 200
    assert again.status_code == 404
    assert after.status_code == 200
    assert [e["status"] for e in journal["entries"]] == [503, 200]
    assert journal["entries"][0]["fault"] == f"status#{fault['id']}"
    assert journal["entries"][1]["fault"] is None


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"kind": "explode"}, "kind"),
        ({"kind": "latency"}, ""),
        ({"kind": "status", "probability": 2}, "probability"),
        ({"kind": "status", "status": 42}, "status"),
        ({"kind": "status", "colour": "red"}, "colour"),
    ],
)
async def test_a_bad_fault_spec_is_422_naming_the_field(
    mocks: InProcessMocks, spec: dict[str, Any], field: str
) -> None:
    async with mocks.client("strategy-service") as client:
        response = await client.post("/__admin/faults", json=spec)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_failed"
    assert field in {v["field"] for v in body["violations"]}


async def test_a_fault_for_an_unknown_operation_is_refused(mocks: InProcessMocks) -> None:
    async with mocks.client("strategy-service") as client:
        response = await client.post("/__admin/faults", json={"kind": "drop", "operation_id": "nope"})
    assert response.status_code == 422
    assert "nope" in response.json()["message"]


@pytest.mark.live
async def test_drop_cuts_a_real_connection(live_mocks: LiveMocks) -> None:
    async with httpx.AsyncClient(base_url=live_mocks.url("strategy-service"), timeout=5) as client:
        await add_fault(client, kind="drop", times=1)
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(VALIDATE)
        assert (await client.get(VALIDATE)).status_code == 200


@pytest.mark.live
async def test_drop_after_applies_the_request_and_cuts_a_real_connection(live_mocks: LiveMocks) -> None:
    async with httpx.AsyncClient(base_url=live_mocks.url("strategy-service"), timeout=5) as client:
        await client.post("/__admin/reset")
        await assert_applied_then_dropped(client)


@pytest.mark.live
async def test_hang_holds_a_real_connection_until_the_client_gives_up(live_mocks: LiveMocks) -> None:
    async with httpx.AsyncClient(base_url=live_mocks.url("strategy-service"), timeout=httpx.Timeout(5, read=0.3)) as c:
        await add_fault(c, kind="hang", hang_seconds=60, times=1)
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            await c.get(VALIDATE)
        assert time.monotonic() - started >= 0.3
        assert (await c.get(VALIDATE)).status_code == 200  # the server is not stuck


@pytest.mark.live
async def test_a_hang_that_outlasts_hang_seconds_drops_the_connection(live_mocks: LiveMocks) -> None:
    async with httpx.AsyncClient(base_url=live_mocks.url("strategy-service"), timeout=5) as client:
        await add_fault(client, kind="hang", hang_seconds=0.2, times=1)
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(VALIDATE)
