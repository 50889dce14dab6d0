"""Each committed pact verified against our mock of its provider, states set through the admin surface.

This proves consumer, contract and mock agree. The drift tests show what a provider team
sees when its service no longer keeps the pact.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest

from harness.servers import LiveMocks
from harness.verify import PACTS, verify_provider
from suites.fixtures.pact import CONSUMER, PROVIDERS, pact_file_name

pytestmark = pytest.mark.live


def verify_pacts(*args: str) -> subprocess.CompletedProcess[str]:
    """`harness verify-pacts ARGS` as a provider team runs it; its output captured."""
    command = [sys.executable, "-m", "harness", "verify-pacts", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def drifted_strategy_service(live_mocks: LiveMocks) -> str:
    """The strategy mock answering portfolios with a renamed field, and default lookups with 500."""
    admin = live_mocks.admin("strategy-service")
    renamed = {
        "strategy_id": 42,
        "accountId": "ZX1234",
        "positions": [],
        "pnl": None,
        "as_of": "2026-11-26T10:15:00+05:30",
    }
    with httpx.Client(timeout=5) as client:
        client.post(
            f"{admin}/faults",
            json={"kind": "respond", "status": 200, "body": renamed, "operation_id": "getStrategyPortfolio"},
        ).raise_for_status()
        client.post(
            f"{admin}/faults", json={"kind": "status", "status": 500, "operation_id": "getDefaultStrategy"}
        ).raise_for_status()
    return live_mocks.url("strategy-service")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_pact_holds_against_our_mock(live_mocks: LiveMocks, provider: str) -> None:
    report = verify_provider(provider, live_mocks.url(provider), live_mocks.admin(provider) + "/states")
    assert report.ok, str(report)
    assert len(report.interactions) >= 3


def test_a_drifted_provider_fails_with_each_mismatch_named(
    live_mocks: LiveMocks, drifted_strategy_service: str
) -> None:
    report = verify_provider(
        "strategy-service", drifted_strategy_service, live_mocks.admin("strategy-service") + "/states"
    )
    assert not report.ok
    failing = {m.interaction for m in report.mismatches}
    assert failing == {
        "a request for a strategy's portfolio",
        "a request for the portfolio of a strategy that does not exist",
        "a request for an account's default strategy",
        "a request for the default strategy of an account without one",
    }
    portfolio = [m for m in report.mismatches if m.interaction == "a request for a strategy's portfolio"]
    assert any(m.where == "$" and "account_id" in m.problem for m in portfolio)
    statuses = [m for m in report.mismatches if m.where == "status"]
    assert any("expected 200 but was 500" in m.problem for m in statuses)
    assert "4 of 11 interactions failed" in str(report)


def against_the_drifted_mock(live_mocks: LiveMocks, url: str) -> tuple[str, ...]:
    """The command-line arguments that verify the strategy pact against the drifted mock."""
    return (
        "--provider",
        "strategy-service",
        "--url",
        url,
        "--states-url",
        live_mocks.admin("strategy-service") + "/states",
    )


def test_the_command_exits_non_zero_with_a_readable_report(
    live_mocks: LiveMocks, drifted_strategy_service: str
) -> None:
    result = verify_pacts(*against_the_drifted_mock(live_mocks, drifted_strategy_service))
    assert result.returncode == 1
    assert result.stdout.startswith("strategy-service: 4 of 11 interactions failed")
    assert "  a request for a strategy's portfolio\n    - $: Actual map is missing the following keys: account_id" in (
        result.stdout
    )
    assert "\x1b[" not in result.stdout  # no terminal colour codes in the report


def test_the_command_refuses_an_unknown_provider() -> None:
    result = verify_pacts("--provider", "billing", "--url", "http://127.0.0.1:1")
    assert result.returncode == 2
    assert "no pact for provider 'billing'" in result.stderr
    assert "(pacts for: account-service, analytics-service, config-service, strategy-service)" in result.stderr


def test_a_pact_without_interactions_fails(live_mocks: LiveMocks, tmp_path: Path) -> None:
    empty = {
        "consumer": {"name": CONSUMER},
        "provider": {"name": "config-service"},
        "interactions": [],
        "metadata": {"pactSpecification": {"version": "4.0"}},
    }
    (tmp_path / pact_file_name("config-service")).write_text(json.dumps(empty))
    result = verify_pacts(
        "--provider", "config-service", "--url", live_mocks.url("config-service"), "--pact-dir", str(tmp_path)
    )
    assert result.returncode == 1, result.stdout
    assert result.stdout.strip() == "config-service: the pact has no interactions, so nothing was verified"


def test_an_unreachable_provider_fails_every_interaction() -> None:
    report = verify_provider("config-service", "http://127.0.0.1:9")
    assert not report.ok
    assert {m.interaction for m in report.mismatches} == {
        "a listing of the registry",
        "a lookup of a registered service",
        "a lookup of a service that is not registered",
    }


def test_the_command_writes_junit_xml_a_ci_reads(
    live_mocks: LiveMocks, drifted_strategy_service: str, tmp_path: Path
) -> None:
    junit = tmp_path / "pact.xml"
    result = verify_pacts(*against_the_drifted_mock(live_mocks, drifted_strategy_service), "--junit-xml", str(junit))
    assert result.returncode == 1, result.stderr
    suite = ElementTree.parse(junit).getroot()
    assert (suite.tag, suite.get("tests"), suite.get("failures")) == ("testsuite", "11", "4")
    cases = {case.get("name"): case.find("failure") for case in suite.iter("testcase")}
    assert len(cases) == 11
    failed = {name for name, failure in cases.items() if failure is not None}
    assert "a request for a strategy's portfolio" in failed
    assert len(failed) == 4
    portfolio = cases["a request for a strategy's portfolio"]
    assert portfolio is not None
    assert "account_id" in (portfolio.text or "")


# pact-python's own state-callback server (pact._server) leaves a socket for the garbage collector
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_states_may_be_set_by_a_python_callable(live_mocks: LiveMocks) -> None:
    """What a provider team written in Python passes instead of a states URL."""
    seen: list[tuple[str, str]] = []

    def states(state: str, action: str, parameters: dict[str, Any] | None) -> None:
        seen.append((state, action))
        httpx.post(
            live_mocks.admin("strategy-service") + "/states",
            json={"state": state, "action": action, "params": parameters or {}},
            timeout=5,
        ).raise_for_status()

    report = verify_provider("strategy-service", live_mocks.url("strategy-service"), states)
    assert report.ok, str(report)
    assert ("strategy 42 exists", "setup") in seen
    assert ("strategy 42 exists", "teardown") in seen


def test_one_pact_file_may_be_named(live_mocks: LiveMocks, tmp_path: Path) -> None:
    pact = json.loads((PACTS / pact_file_name("config-service")).read_text())
    pact["interactions"] = pact["interactions"][:1]
    one = tmp_path / "just-one.json"
    one.write_text(json.dumps(pact))
    report = verify_provider("config-service", live_mocks.url("config-service"), pact=one)
    assert report.ok, str(report)
    assert len(report.interactions) == 1
