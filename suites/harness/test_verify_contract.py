"""`harness verify-contract` over real sockets: our mock passes its contract, a drifted provider fails it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.processes import stop_process
from harness.servers import free_port
from suites.fixtures.processes import start_answering
from suites.harness.drift import STRATEGY, drifted_strategy_contract

pytestmark = pytest.mark.live


def _serve(target: str, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "mocks", "serve", target, "--port", str(port)]
    process = start_answering(command, url + "/__admin/journal", tmp_path / f"mock-{port}.log")
    try:
        yield url
    finally:
        stop_process(process)


@pytest.fixture
def strategy_mock(tmp_path: Path) -> Iterator[str]:
    yield from _serve("strategy-service", tmp_path)


@pytest.fixture
def drifted_provider(tmp_path: Path) -> Iterator[str]:
    """A provider that renamed `valid` to `is_valid` in its validation answer (its own contract, examples and all)."""
    yield from _serve(str(drifted_strategy_contract(tmp_path)), tmp_path)


def _verify(url: str, junit: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "harness", "verify-contract", str(STRATEGY), "--url", url]
    command += ["--seed", "3", "--max-examples", "5", "--junit-xml", str(junit)]
    # in a folder of its own: schemathesis keeps a cache of the failures it found where it runs, and replays them
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False, cwd=junit.parent)


def test_the_strategy_mock_passes_its_own_contract(strategy_mock: str, tmp_path: Path) -> None:
    done = _verify(strategy_mock, tmp_path / "contract.xml")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "No issues found" in done.stdout
    junit = (tmp_path / "contract.xml").read_text()
    assert 'failures="0"' in junit
    assert "validateStrategy" in junit or "/strategies/{strategy_id}/validate" in junit


def test_a_provider_that_drifted_fails_naming_the_operation_and_the_field(
    drifted_provider: str, tmp_path: Path
) -> None:
    done = _verify(drifted_provider, tmp_path / "contract.xml")
    assert done.returncode == 1, done.stdout[-3000:]
    assert "GET /strategies/{strategy_id}/validate" in done.stdout
    assert "Response violates schema" in done.stdout
    assert '"valid" is a required property' in done.stdout
    assert 'failures="0"' not in (tmp_path / "contract.xml").read_text()


def test_a_missing_contract_or_a_bad_header_is_a_usage_error(tmp_path: Path) -> None:
    for extra in (["--url", "http://127.0.0.1:9"], ["--url", "http://127.0.0.1:9", "-H", "no-colon"]):
        target = str(tmp_path / "missing.yaml") if extra == ["--url", "http://127.0.0.1:9"] else str(STRATEGY)
        done = subprocess.run(
            [sys.executable, "-m", "harness", "verify-contract", target, *extra],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("error: ")
