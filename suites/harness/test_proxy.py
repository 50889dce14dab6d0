"""`harness proxy`: traffic checked both ways against a contract, with a mock and a drifted one as upstream."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.processes import stop_process
from harness.proxy import ValidatingProxy
from harness.servers import free_port
from mocks.app import MockApp, create_app
from mocks.contract import load_contract
from mocks.registry import build_mock
from suites.fixtures.processes import start_answering
from suites.harness.drift import STRATEGY, drifted_strategy_contract

pytestmark = pytest.mark.anyio
VALIDATE = "/strategies/42/validate"


def _proxy(upstream: MockApp, tmp_path: Path, *, enforce: bool = False) -> ValidatingProxy:
    return ValidatingProxy(
        load_contract(STRATEGY),
        "http://upstream",
        enforce=enforce,
        log=tmp_path / "violations.jsonl",
        record=tmp_path / "exchanges.jsonl",
        transport=httpx.ASGITransport(app=upstream),
    )


def _client(proxy: ValidatingProxy) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=proxy), base_url="http://proxy")


async def test_conforming_traffic_passes_untouched_and_is_recorded(tmp_path: Path) -> None:
    upstream = build_mock("strategy-service")
    proxy = _proxy(upstream, tmp_path)
    async with _client(proxy) as client:
        answer = await client.get(VALIDATE)
        violations = (await client.get("/__admin/violations")).json()
    assert answer.status_code == 200
    assert answer.json()["valid"] is True
    assert violations["entries"] == []
    assert not (tmp_path / "violations.jsonl").exists()
    exchange = json.loads((tmp_path / "exchanges.jsonl").read_text())
    assert exchange["operation_id"] == "validateStrategy"
    assert exchange["response"] == {"status": 200, "body": answer.json()}


async def test_a_request_off_the_contract_is_logged_and_still_forwarded(tmp_path: Path) -> None:
    upstream = build_mock("strategy-service")
    proxy = _proxy(upstream, tmp_path)
    async with _client(proxy) as client:
        answer = await client.get("/strategies/abc/validate")
        journal = (await client.get("/__admin/journal", params={"operation_id": "validateStrategy"})).json()
    assert answer.status_code == 422  # the provider's own answer
    assert upstream.engine.journal.total == 1
    [entry] = journal["entries"]
    assert entry["problems"] == [
        {"direction": "request", "field": "path strategy_id", "reason": "'abc' is not an integer"}
    ]
    logged = json.loads((tmp_path / "violations.jsonl").read_text())
    assert (logged["operation_id"], logged["status"]) == ("validateStrategy", 422)


async def test_enforced_a_request_off_the_contract_never_reaches_the_provider(tmp_path: Path) -> None:
    upstream = build_mock("strategy-service")
    proxy = _proxy(upstream, tmp_path, enforce=True)
    async with _client(proxy) as client:
        answer = await client.get("/strategies/abc/validate")
    assert answer.status_code == 422
    assert answer.json()["violations"] == [
        {"location": "path", "field": "strategy_id", "reason": "'abc' is not an integer"}
    ]
    assert upstream.engine.journal.total == 0


async def test_an_answer_off_the_contract_is_logged_naming_the_field(tmp_path: Path) -> None:
    drifted = create_app(load_contract(drifted_strategy_contract(tmp_path)))
    proxy = _proxy(drifted, tmp_path)
    async with _client(proxy) as client:
        answer = await client.get(VALIDATE)
        violations = (await client.get("/__admin/violations")).json()
    assert answer.status_code == 200  # passed through: observing, not enforcing
    assert answer.json()["is_valid"] is True
    problems = violations["entries"][0]["problems"]
    assert {"direction": "response", "field": "(body)", "reason": '"valid" is a required property'} in problems
    assert not (tmp_path / "exchanges.jsonl").exists()  # only conforming exchanges are recorded


async def test_enforced_an_answer_off_the_contract_becomes_a_502_naming_the_problem(tmp_path: Path) -> None:
    drifted = create_app(load_contract(drifted_strategy_contract(tmp_path)))
    proxy = _proxy(drifted, tmp_path, enforce=True)
    async with _client(proxy) as client:
        answer = await client.get(VALIDATE)
    assert answer.status_code == 502
    body = answer.json()
    assert body["error"] == "contract_violation"
    assert {"direction": "response", "field": "(body)", "reason": '"valid" is a required property'} in body["problems"]


async def test_the_admin_surface_filters_clears_and_names_bad_filters(tmp_path: Path) -> None:
    proxy = _proxy(build_mock("strategy-service"), tmp_path)
    async with _client(proxy) as client:
        await client.get(VALIDATE)
        await client.get("/strategies/abc/validate")
        assert len((await client.get("/__admin/journal", params={"status": 200})).json()["entries"]) == 1
        bad = await client.get("/__admin/journal", params={"colour": "red"})
        assert bad.status_code == 422
        assert "colour" in bad.json()["message"]
        assert (await client.delete("/__admin/journal")).json() == {"status": "cleared"}
        assert (await client.get("/__admin/violations")).json() == {"total": 0, "entries": []}


@pytest.fixture
def live_pair(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`mocks serve` of a drifted provider behind `harness proxy`, both real processes on loopback."""
    upstream_port, proxy_port = free_port(), free_port()
    upstream_url, proxy_url = f"http://127.0.0.1:{upstream_port}", f"http://127.0.0.1:{proxy_port}"
    drifted = str(drifted_strategy_contract(tmp_path))
    upstream = start_answering(
        [sys.executable, "-m", "mocks", "serve", drifted, "--port", str(upstream_port)],
        upstream_url + "/__admin/journal",
        tmp_path / "up.log",
    )
    log = tmp_path / "violations.jsonl"
    command = [sys.executable, "-m", "harness", "proxy", str(STRATEGY), "--upstream", upstream_url]
    command += ["--port", str(proxy_port), "--log", str(log)]
    try:
        proxy = start_answering(command, proxy_url + "/__admin/journal", tmp_path / "proxy.log")
        try:
            yield proxy_url, log
        finally:
            stop_process(proxy)
    finally:
        stop_process(upstream)


@pytest.mark.live
def test_harness_proxy_over_real_sockets_logs_a_drifted_answer(live_pair: tuple[str, Path]) -> None:
    url, log = live_pair
    answer = httpx.get(url + VALIDATE, timeout=10)
    assert answer.status_code == 200
    line = json.loads(log.read_text().splitlines()[0])
    assert line["operation_id"] == "validateStrategy"
    assert {"direction": "response", "field": "(body)", "reason": '"valid" is a required property'} in line["problems"]
