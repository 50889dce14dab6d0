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

from mocks.registry import CONTRACTS_DIR
from suites.fixtures import environment
from suites.fixtures.pact import COMMITTED_PACTS, PROVIDERS, pact_file_name

ROOT = Path(__file__).resolve().parents[2]
INSTALLED = ROOT / ".tools" / "node_modules" / ".bin" / "swagger-mock-validator"


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
    pact = json.loads((COMMITTED_PACTS / pact_file_name("strategy-service")).read_text())
    target = next(i for i in pact["interactions"] if i["description"] == "a validation of an active strategy")
    target["request"]["path"] = "/strategies/0/validate"  # strategy_id has minimum 1
    planted = tmp_path / "planted.json"
    planted.write_text(json.dumps(pact))
    result = validate(validator, CONTRACTS_DIR / "strategy-service.yaml", planted)
    assert result.returncode != 0
    assert "request.path-or-method.unknown" in result.stdout + result.stderr
