"""`harness check-openapi`: a provider's own spec against our pacts, and what PactFlow's check does not see."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.pact_check import BEYOND, PACTFLOW, check_pact
from mocks.contract import load_contract
from mocks.registry import CONTRACTS_DIR
from suites.fixtures.pact import COMMITTED_PACTS, pact_file_name

STRATEGY = CONTRACTS_DIR / "strategy-service.yaml"
SYNC = "a P&L sync"
VALIDATION = "a validation of an active strategy"


def _pact() -> dict[str, Any]:
    pact: dict[str, Any] = json.loads((COMMITTED_PACTS / pact_file_name("strategy-service")).read_text())
    return pact


def _interaction(pact: dict[str, Any], description: str) -> dict[str, Any]:
    return next(i for i in pact["interactions"] if i["description"] == description)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "harness", "check-openapi", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_our_contracts_satisfy_our_pacts_through_the_command(tmp_path: Path) -> None:
    done = _run(
        str(STRATEGY),
        "--pacts",
        str(COMMITTED_PACTS),
        "--provider",
        "strategy-service",
        "--junit-xml",
        str(tmp_path / "c.xml"),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "ok: 11 interaction(s), 0 finding(s) that fail the check"
    assert 'failures="0"' in (tmp_path / "c.xml").read_text()


def test_a_spec_that_renamed_a_field_fails_naming_the_interaction(tmp_path: Path) -> None:
    spec = tmp_path / "strategy.yaml"
    text = STRATEGY.read_text()
    spec.write_text(
        text.replace(
            "required: [strategy_id, valid, status, reason, checked_at]",
            "required: [strategy_id, is_valid, status, reason, checked_at]",
        )
    )
    done = _run(str(spec), "--pact", str(COMMITTED_PACTS / pact_file_name("strategy-service")))
    assert done.returncode == 1
    assert f'  - {VALIDATION}: response 200 body (body): "is_valid" is a required property' in done.stdout


def test_a_response_header_the_pact_expects_must_be_documented_and_valid(tmp_path: Path) -> None:
    pact = _pact()
    _interaction(pact, VALIDATION)["response"].setdefault("headers", {})["X-Strategy-Version"] = ["seven"]
    findings = check_pact(pact, load_contract(STRATEGY)).findings
    where = "response header x-strategy-version"
    assert [(f.interaction, f.where, f.kind) for f in findings] == [(VALIDATION, where, PACTFLOW)]
    assert "does not document it for 200" in findings[0].reason
    spec = tmp_path / "strategy.yaml"
    documented = STRATEGY.read_text().replace(
        "          description: The strategy exists; `valid` says whether it accepts orders.\n          content:",
        "          description: The strategy exists; `valid` says whether it accepts orders.\n"
        "          headers:\n            X-Strategy-Version: {schema: {type: integer}}\n          content:",
    )
    spec.write_text(documented)
    findings = check_pact(pact, load_contract(spec)).findings
    assert [(f.where, f.reason) for f in findings] == [(where, '"seven" is not of type "integer"')]
    _interaction(pact, VALIDATION)["response"]["headers"]["X-Strategy-Version"] = ["7"]
    assert check_pact(pact, load_contract(spec)).findings == []


WRITE_ONLY = (
    "        reason:\n          type: [string, 'null']",
    "        reason:\n          writeOnly: true\n          type: [string, 'null']",
)


def test_a_response_property_the_spec_marks_write_only_is_found(tmp_path: Path) -> None:
    spec = tmp_path / "strategy.yaml"
    text = STRATEGY.read_text()
    marked = text.replace(*WRITE_ONLY)
    assert marked != text
    spec.write_text(marked)
    findings = [f for f in check_pact(_pact(), load_contract(spec)).findings if f.where == "response body reason"]
    assert findings
    assert {f.kind for f in findings} == {BEYOND}


def test_a_request_that_sends_a_read_only_property_is_found(tmp_path: Path) -> None:
    spec = tmp_path / "strategy.yaml"
    text = STRATEGY.read_text()
    marked = text.replace(
        "        open_positions: {type: integer, minimum: 0, maximum: 100000}",
        "        open_positions: {type: integer, minimum: 0, maximum: 100000, readOnly: true}",
    )
    assert marked != text
    spec.write_text(marked)
    findings = check_pact(_pact(), load_contract(spec)).findings
    assert {f.interaction for f in findings} == {SYNC, "a P&L sync older than the stored snapshot"}
    assert {(f.where, f.kind) for f in findings} == {("request body open_positions", BEYOND)}
    assert "readOnly" in findings[0].reason
    assert _run(str(spec), "--pact", str(COMMITTED_PACTS / pact_file_name("strategy-service"))).returncode == 1
    only = _run(str(spec), "--pact", str(COMMITTED_PACTS / pact_file_name("strategy-service")), "--only-pactflow")
    assert only.returncode == 0, only.stdout
    assert "[beyond PactFlow's check]" in only.stdout


def test_a_request_the_spec_refuses_is_a_pactflow_finding() -> None:
    pact = _pact()
    _interaction(pact, SYNC)["request"]["body"]["content"]["total_pnl"] = 1250.75
    findings = check_pact(pact, load_contract(STRATEGY)).findings
    assert [(f.where, f.kind) for f in findings] == [("request body total_pnl", PACTFLOW)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pacts", "pacts"], "--pacts needs --provider"),
        ([], "no pact to check"),
        (["--pact", "missing.json"], "cannot read a pact"),
    ],
)
def test_usage_errors_are_named(args: list[str], message: str) -> None:
    done = _run(str(STRATEGY), *args)
    assert done.returncode == 2
    assert message in done.stderr
