"""A mock's ledger: applied writes survive the mock (in-process, and a real process killed with SIGKILL)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from harness.processes import stop_process, wait_until
from harness.servers import free_port
from mocks.engine import MockSettings
from mocks.ledger import read_ledger
from mocks.registry import build_mock
from mocks.transport import MockTransport

pytestmark = pytest.mark.anyio

SYNC = "/strategies/42/sync-pnl"
PNL = {"as_of": "2026-12-02T10:00:00+05:30", "realized_pnl": "10", "unrealized_pnl": "5", "total_pnl": "15"}


def strategy_client(ledger: Path) -> httpx.AsyncClient:
    app = build_mock("strategy-service", settings=MockSettings(ledger=ledger))
    return httpx.AsyncClient(transport=MockTransport(app), base_url="http://strategy-service")


async def test_a_mock_started_again_on_its_ledger_answers_an_applied_key_without_applying_it(tmp_path: Path) -> None:
    ledger = tmp_path / "strategy.ledger"
    async with strategy_client(ledger) as first:
        applied = await first.post(SYNC, json=PNL, headers={"idempotency-key": "sync-0001"})
    assert applied.status_code == 200, applied.text
    async with strategy_client(ledger) as second:
        again = await second.post(SYNC, json={**PNL, "total_pnl": "99"}, headers={"idempotency-key": "sync-0001"})
        fresh = await second.post(SYNC, json=PNL, headers={"idempotency-key": "sync-0002"})
        journal = (await second.get("/__admin/journal", params={"operation_id": "syncStrategyPnl"})).json()
    assert again.json() == applied.json()  # the first answer, not an application of the new body
    assert [e["replayed"] for e in journal["entries"]] == [True, False]
    assert fresh.status_code == 200
    assert [(a.operation_id, a.key) for a in read_ledger(ledger)] == [
        ("syncStrategyPnl", "sync-0001"),
        ("syncStrategyPnl", "sync-0002"),
    ]


async def test_reads_and_keyless_writes_are_not_kept(tmp_path: Path) -> None:
    ledger = tmp_path / "strategy.ledger"
    async with strategy_client(ledger) as client:
        assert (await client.get("/strategies/42/validate")).status_code == 200
        assert (await client.post(SYNC, json=PNL)).status_code == 200
    assert list(read_ledger(ledger)) == []


async def test_a_line_cut_short_by_a_kill_is_left_out_and_a_reset_empties_the_ledger(tmp_path: Path) -> None:
    ledger = tmp_path / "strategy.ledger"
    async with strategy_client(ledger) as client:
        await client.post(SYNC, json=PNL, headers={"idempotency-key": "sync-0001"})
    with ledger.open("ab") as out:
        out.write(b'{"operation_id": "syncStrategyPnl", "key": "sync-0002", "at"')
    assert [a.key for a in read_ledger(ledger)] == ["sync-0001"]
    async with strategy_client(ledger) as client:
        assert (await client.post("/__admin/reset")).status_code == 200
    assert ledger.read_bytes() == b""


@pytest.mark.live
def test_a_real_mock_killed_with_sigkill_keeps_what_it_applied(tmp_path: Path) -> None:
    ledger = tmp_path / "strategy.ledger"
    port = free_port()
    command = [sys.executable, "-m", "mocks", "serve", "strategy-service", "--port", str(port), "--ledger", str(ledger)]
    url = f"http://127.0.0.1:{port}"

    def serve() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(command)
        wait_until(lambda: _answers(url), timeout=20, what="the strategy mock")
        return process

    process = serve()
    try:
        first = httpx.post(url + SYNC, json=PNL, headers={"idempotency-key": "sync-killed"})
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        process = serve()
        again = httpx.post(url + SYNC, json=PNL, headers={"idempotency-key": "sync-killed"})
        journal = httpx.get(url + "/__admin/journal", params={"operation_id": "syncStrategyPnl"}).json()
    finally:
        stop_process(process, timeout=5)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert [e["replayed"] for e in journal["entries"]] == [True]
    assert [json.loads(line)["key"] for line in ledger.read_text().splitlines()] == ["sync-killed"]


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/__admin/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
