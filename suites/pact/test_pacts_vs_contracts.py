"""Every interaction of every pact is valid for its contract operation: path, method, status, schemas.

A pact and a contract that disagree fail here, naming the interaction and the field, so
the pacts provider teams verify can never ask for more, or other, than the contracts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.pact_check import check_pact
from mocks.contract import Contract, load_contract
from mocks.registry import CONTRACTS_DIR
from suites.fixtures.pact import COMMITTED_PACTS, PAIRS, PROVIDERS, pact_file_name, strategy_pact_with


def problems_of(pact: dict[str, Any], contract: Contract) -> list[str]:
    """Every disagreement between a pact's interactions and the contract, one line each (`harness check-openapi`)."""
    return [str(finding) for finding in check_pact(pact, contract).findings]


@pytest.mark.parametrize(("consumer", "provider"), PAIRS)
def test_committed_pact_agrees_with_the_contract(consumer: str, provider: str) -> None:
    pact = json.loads((COMMITTED_PACTS / pact_file_name(provider, consumer)).read_text())
    contract = load_contract(CONTRACTS_DIR / f"{provider}.yaml")
    assert pact["interactions"], "an empty pact checks nothing"
    problems = problems_of(pact, contract)
    assert not problems, "\n".join(problems)


def drifted(change: str) -> list[str]:
    pact = strategy_pact_with(change)
    return problems_of(pact, load_contract(CONTRACTS_DIR / "strategy-service.yaml"))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("renamed field", "a validation of an active strategy: response 200 body (body):"),
        (
            "undocumented status",
            "a validation of an active strategy: response: validateStrategy does not document status 202",
        ),
        ("unknown path", "a validation of an active strategy: request: GET /strategies/42/check is no operation"),
        ("bad request body", "a P&L sync: request body total_pnl:"),
        ("out-of-schema path value", "a validation of an active strategy: request path strategy_id:"),
    ],
)
def test_a_disagreement_names_the_interaction_and_field(change: str, expected: str) -> None:
    problems = drifted(change)
    assert any(p.startswith(expected) for p in problems), problems


def test_pact_files_are_v4_between_the_named_participants(tmp_path: Path) -> None:
    for provider in PROVIDERS:
        pact = json.loads((COMMITTED_PACTS / pact_file_name(provider)).read_text())
        assert pact["consumer"]["name"] == "order-service"
        assert pact["provider"]["name"] == provider
        assert pact["metadata"]["pactSpecification"]["version"] == "4.0"
