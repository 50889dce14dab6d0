"""PactFlow's own bi-directional check (@pactflow/swagger-mock-validator) accepts every pact.

A provider team using PactFlow compares our pacts with its OpenAPI file by this tool; each
committed pact must pass it against our contract, next to our own pacts-vs-contract check.
The planted pact shows the check can fail: an out-of-schema path value is reported.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from harness.pact_check import BEYOND, PACTFLOW, check_pact
from mocks.contract import load_contract
from mocks.registry import CONTRACTS_DIR
from suites.fixtures import environment
from suites.fixtures.pact import COMMITTED_PACTS, PROVIDERS, pact_file_name, strategy_pact_with

ROOT = Path(__file__).resolve().parents[2]
INSTALLED = ROOT / ".tools" / "node_modules" / ".bin" / "swagger-mock-validator"
STRATEGY = CONTRACTS_DIR / "strategy-service.yaml"


@pytest.fixture(scope="module")
def validator() -> str:
    """The validator's command: HARNESS_SWAGGER_MOCK_VALIDATOR, `make tools`' install, or PATH."""
    explicit = os.environ.get("HARNESS_SWAGGER_MOCK_VALIDATOR")
    if explicit:
        return explicit
    if INSTALLED.exists():
        environment.binary("node", tier="pactflow-validator")  # the script runs on Node.js
        return str(INSTALLED)
    return environment.binary("swagger-mock-validator", tier="pactflow-validator")


def validate(validator: str, contract: Path, pact: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [validator, str(contract), str(pact)], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("provider", PROVIDERS)
def test_pactflow_accepts_every_committed_pact(validator: str, provider: str) -> None:
    result = validate(validator, CONTRACTS_DIR / f"{provider}.yaml", COMMITTED_PACTS / pact_file_name(provider))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "0 error(s)" in output
    assert "0 warning(s)" in output


def test_pactflow_reports_an_out_of_schema_path_value(validator: str, tmp_path: Path) -> None:
    pact = strategy_pact_with("out-of-schema path value")  # strategy_id has minimum 1
    planted = tmp_path / "planted.json"
    planted.write_text(json.dumps(pact))
    result = validate(validator, CONTRACTS_DIR / "strategy-service.yaml", planted)
    assert result.returncode != 0
    assert "request.path-or-method.unknown" in result.stdout + result.stderr


@pytest.mark.parametrize(
    "change",
    ["renamed field", "undocumented status", "unknown path", "bad request body", "undocumented response header"],
)
def test_check_openapi_gives_pactflows_verdict(validator: str, change: str, tmp_path: Path) -> None:
    """Both refuse each planted disagreement (and both accept the committed pacts, above)."""
    pact = strategy_pact_with(change)
    planted = tmp_path / "planted.json"
    planted.write_text(json.dumps(pact))
    pactflow = validate(validator, STRATEGY, planted)
    ours = check_pact(pact, load_contract(STRATEGY, answers=False))
    assert pactflow.returncode != 0, pactflow.stdout
    assert [f for f in ours.findings if f.kind == PACTFLOW], ours.text()


def test_what_pactflow_misses_and_check_openapi_finds(validator: str, tmp_path: Path) -> None:
    """A request that sends a readOnly property, a response expected with a writeOnly one: PactFlow passes both."""
    text = STRATEGY.read_text()
    read_only = text.replace(
        "        open_positions: {type: integer, minimum: 0, maximum: 100000}",
        "        open_positions: {type: integer, minimum: 0, maximum: 100000, readOnly: true}",
    )
    write_only = text.replace(
        "        reason:\n          type: [string, 'null']",
        "        reason:\n          writeOnly: true\n          type: [string, 'null']",
    )
    assert text not in (read_only, write_only)
    committed = COMMITTED_PACTS / pact_file_name("strategy-service")
    for name, spec_text in (("read-only", read_only), ("write-only", write_only)):
        spec = tmp_path / f"{name}.yaml"
        spec.write_text(spec_text)
        pactflow = validate(validator, spec, committed)
        assert pactflow.returncode == 0, pactflow.stdout + pactflow.stderr
        ours = check_pact(json.loads(committed.read_text()), load_contract(spec, answers=False))
        assert ours.findings, name
        assert {f.kind for f in ours.findings} == {BEYOND}
