"""Every interaction of every pact is valid for its contract operation: path, method, status, schemas.

A pact and a contract that disagree fail here, naming the interaction and the field, so
the pacts provider teams verify can never ask for more, or other, than the contracts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from mocks.contract import Contract, load_contract
from mocks.errors import RequestRejected
from mocks.registry import CONTRACTS_DIR
from mocks.router import Router
from mocks.validation import parse_request
from suites.fixtures.pact import COMMITTED_PACTS, PROVIDERS, pact_file_name


def problems_of(pact: dict[str, Any], contract: Contract) -> list[str]:
    """Every disagreement between a pact's interactions and the contract, one line each."""
    router = Router(contract.operations)
    found = []
    for interaction in pact["interactions"]:
        name = interaction["description"]
        request, response = interaction["request"], interaction["response"]
        try:
            op, path_params = router.match(request["method"], request["path"])
        except RequestRejected as exc:
            found.append(
                f"{name}: {request['method']} {request['path']} is no operation of the contract ({exc.message})"
            )
            continue
        status = response["status"]
        spec = op.responses.get(status)
        if spec is None:
            found.append(f"{name}: {op.operation_id} does not document status {status}")
            continue
        body = response.get("body", {}).get("content")
        if spec.validator is not None:
            found += [
                f"{name}: response {status} field {'.'.join(map(str, e.instance_path)) or '(body)'}: {e.message}"
                for e in spec.validator.iter_errors(body)
            ]
        found += _request_problems(name, op, path_params, request, status)
    return found


def _request_problems(
    name: str, op: Any, path_params: dict[str, str], request: dict[str, Any], status: int
) -> list[str]:
    query = urlencode([(k, v) for k, values in request.get("query", {}).items() for v in values])
    headers = {k.lower(): v[0] for k, v in request.get("headers", {}).items()}
    raw = json.dumps(request["body"]["content"]).encode() if "body" in request else b""
    try:
        parse_request(op, path_params, query, headers, raw)
    except RequestRejected as exc:
        # Even an interaction about a refusal sends a request the contract allows: a provider team
        # checking pacts against its OpenAPI (PactFlow's bi-directional contracts) refuses any other.
        return [f"{name}: request field {v.field or '(body)'} ({v.location}): {v.reason}" for v in exc.violations] or [
            f"{name}: request refused with {exc.status}: {exc.message}"
        ]
    if status in (400, 413, 415):  # a valid request never gets these; a 422 may depend on the owner's state
        return [f"{name}: expects {status} but the request is valid for the contract"]
    return []


@pytest.mark.parametrize("provider", PROVIDERS)
def test_committed_pact_agrees_with_the_contract(provider: str) -> None:
    pact = json.loads((COMMITTED_PACTS / pact_file_name(provider)).read_text())
    contract = load_contract(CONTRACTS_DIR / f"{provider}.yaml")
    assert pact["interactions"], "an empty pact checks nothing"
    problems = problems_of(pact, contract)
    assert not problems, "\n".join(problems)


def drifted(change: str) -> list[str]:
    pact = json.loads((COMMITTED_PACTS / pact_file_name("strategy-service")).read_text())
    target = next(i for i in pact["interactions"] if i["description"] == "a validation of an active strategy")
    if change == "renamed field":
        body = target["response"]["body"]["content"]
        body["strategyId"] = body.pop("strategy_id")
    elif change == "undocumented status":
        target["response"]["status"] = 202
    elif change == "unknown path":
        target["request"]["path"] = "/strategies/42/check"
    elif change == "out-of-schema path value":
        target["request"]["path"] = "/strategies/0/validate"
    elif change == "bad request body":
        sync = next(i for i in pact["interactions"] if i["description"] == "a P&L sync")
        sync["request"]["body"]["content"]["total_pnl"] = 1250.75
    return problems_of(pact, load_contract(CONTRACTS_DIR / "strategy-service.yaml"))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("renamed field", "a validation of an active strategy: response 200 field (body):"),
        ("undocumented status", "a validation of an active strategy: validateStrategy does not document status 202"),
        ("unknown path", "a validation of an active strategy: GET /strategies/42/check is no operation"),
        ("bad request body", "a P&L sync: request field total_pnl (body):"),
        ("out-of-schema path value", "a validation of an active strategy: request field strategy_id (path):"),
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
