"""`pytest --harness-coverage FILE` records each mock answer with its test, whoever built the mock."""

from __future__ import annotations

import json
import os
from pathlib import Path

from suites.fixtures.processes import child_pytest

TESTS = """
import subprocess, sys, socket, time
import httpx, pytest
from mocks.app import create_app
from mocks.registry import CONTRACTS_DIR

pytestmark = pytest.mark.anyio

@pytest.fixture
def anyio_backend():
    return "asyncio"

async def test_plugin_mock(harness_mocks):
    async with harness_mocks.client("strategy-service") as client:
        answer = await client.get("/strategies/999/validate", headers={"Authorization": "Bearer secret-token"})
        assert answer.status_code == 404

@pytest.mark.schemathesis
async def test_fuzzed():
    app = create_app(CONTRACTS_DIR / "account-service.yaml")  # a mock the test builds itself
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock") as client:
        assert (await client.get("/accounts/tier-summary")).status_code == 200

def test_live_mock():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "mocks", "serve", "config-service", "--port", str(port)])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/services/nowhere-service")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert answer.status_code == 404
    finally:
        server.terminate()
        server.wait(10)
"""


def test_in_process_self_built_and_live_mocks_are_all_recorded(tmp_path: Path) -> None:
    tests = tmp_path / "test_recorded.py"
    tests.write_text(TESTS)
    records = tmp_path / "out" / "coverage.jsonl"
    records.parent.mkdir()
    records.write_text('{"stale": "from an earlier run"}\n')
    env = {k: v for k, v in os.environ.items() if k != "HARNESS_COVERAGE"}
    result = child_pytest(str(tests), "-q", "-o", "addopts=", f"--harness-coverage={records}", env=env, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]
    lines = [json.loads(line) for line in records.read_text().splitlines()]
    # the node id is relative to the child run's rootdir, which depends on where tmp_path is
    seen = {(r["contract"], r["operation"], r["status"], r["source"], _file_and_test(r["test"])) for r in lines}
    node = f"{tests.name}::"
    assert seen == {
        ("strategy-service.yaml", "validateStrategy", 404, "suites", f"{node}test_plugin_mock"),
        ("account-service.yaml", "getTierSummary", 200, "schemathesis", f"{node}test_fuzzed"),
        ("config-service.yaml", "getServiceEndpoint", 404, "suites", None),  # the live mock writes it itself
    }, lines
    plugin_mock = next(r for r in lines if r["operation"] == "validateStrategy")
    assert plugin_mock["request"]["path"] == "/strategies/999/validate"
    assert plugin_mock["request"]["headers"]["authorization"] == "(left out)"  # a credential's value never recorded
    assert "secret-token" not in records.read_text()


def _file_and_test(node: str | None) -> str | None:
    return None if node is None else node.rsplit("/", 1)[-1]
