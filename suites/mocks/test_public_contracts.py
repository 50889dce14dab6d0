"""Real public contracts, served with no code: each starts, and schemathesis finds every answer as documented.

The contracts (`public_contracts/`, sources and licences in its SOURCES.md) range from 5
to 516 operations, OpenAPI 3.0 and 3.1, with `allOf`/`oneOf`/`anyOf`, `nullable`,
`readOnly`/`writeOnly`, patterns and formats, most responses without an example. For each,
valid requests get a documented status with a schema-valid body, documented headers and
content type; invalid ones get a documented 4xx; nothing is a server error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig

from mocks.app import MockApp, create_app
from mocks.contract import Operation, is_json_media, load_contract

pytestmark = pytest.mark.schemathesis

HERE = Path(__file__).parent / "public_contracts"
CONTRACTS = sorted(HERE.glob("*.json"))
SEED = int(os.environ.get("HARNESS_FUZZ_SEED", "20261202"))
EXAMPLES = int(os.environ.get("HARNESS_PUBLIC_EXAMPLES", "3"))
# CI runs every operation of each contract but the largest, of whose paths every SAMPLE-th (about a
# quarter of its 516 operations); `make fuzz` sets HARNESS_PUBLIC_SAMPLE=1 for all of them.
SAMPLE = int(os.environ.get("HARNESS_PUBLIC_SAMPLE", "4"))
LARGE = 300  # paths: a contract with more is sampled


# Defects of the contracts themselves, where no mock can answer as schemathesis expects: the
# checks named are off for the operations chosen, and only there. (stem, why, which, checks)
CONTRACT_DEFECTS: list[tuple[str, str, Callable[[Operation], bool], tuple[str, ...]]] = [
    (
        "bbc-iplayer",
        "`mixin` is `type: array` with a string `enum`: no value is valid, yet schemathesis sends strings",
        lambda op: any(param.name == "mixin" for param in op.parameters),
        ("positive_data_acceptance",),
    ),
    (
        "asana",
        "204 documented with a JSON body: HTTP forbids a body on 204, so the documented one cannot be sent",
        lambda op: 204 in op.responses and op.responses[204].media_type is not None,
        ("content_type_conformance", "response_schema_conformance"),
    ),
]


def _defect_overrides(stem: str, app: MockApp) -> list[dict[str, Any]]:
    overrides = []
    for contract, _, chosen, checks in CONTRACT_DEFECTS:
        if contract != stem:
            continue
        for op in app.engine.contract.operations.values():
            if chosen(op):
                off = {check: {"enabled": False} for check in checks}
                overrides.append({"include-path": op.path, "include-method": op.method, "checks": off})
    return overrides


def _sampled(document: dict[str, Any]) -> dict[str, Any]:
    """The document schemathesis runs: a large one with every SAMPLE-th path only (the mock serves them all)."""
    paths = document.get("paths") or {}
    if len(paths) <= LARGE or SAMPLE <= 1:
        return document
    kept = {template: item for index, (template, item) in enumerate(paths.items()) if index % SAMPLE == 0}
    return {**document, "paths": kept}


def _credentials(document: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Credentials of the right form for each security scheme (the mock checks form, not truth)."""
    auth: dict[str, Any] = {}
    headers: dict[str, str] = {}
    for name, scheme in (document.get("components", {}).get("securitySchemes") or {}).items():
        kind = scheme.get("type")
        if kind == "apiKey":
            auth[name] = {"api_key": "mock-key"}
        elif kind == "http" and scheme.get("scheme", "").lower() == "basic":
            auth[name] = {"username": "mock", "password": "secret"}
        elif kind == "http":
            auth[name] = {"bearer": "mock-token"}
        else:  # oauth2, openIdConnect: schemathesis has no scheme of its own for these; they send a bearer token
            headers["Authorization"] = "Bearer mock-token"
    return auth, headers


@pytest.fixture(scope="module", params=CONTRACTS, ids=lambda p: p.stem)
def served(request: pytest.FixtureRequest) -> tuple[Path, MockApp]:
    path: Path = request.param
    return path, create_app(load_contract(path, seed=SEED))


@pytest.fixture
def public_schema(served: tuple[Path, MockApp]) -> schemathesis.schemas.BaseSchema:
    path, app = served
    auth, headers = _credentials(app.engine.contract.document)
    settings: dict[str, Any] = {
        "seed": SEED,
        "generation": {"mode": "all", "max-examples": EXAMPLES},
        "checks": {
            "positive_data_acceptance": {"expected-statuses": ["2xx", "3xx"]},  # an operation may only redirect
            # A mock checks the form of a credential, never its truth: a well-formed wrong token passes.
            # That a missing one is refused is checked below, per operation.
            "ignored_auth": {"enabled": False},
        },
        "phases": {"stateful": {"enabled": False}},
    }
    # Where an operation documents no status for a malformed request (400, 422, 4XX or default), no
    # answer to invalid data can be documented: the mock refuses it (negative_data_rejection still
    # checks that) with a status the contract lacks.
    settings["operations"] = [
        {
            "include-path": op.path,
            "include-method": op.method,
            "checks": {"status_code_conformance": {"enabled": False}},
        }
        for op in app.engine.contract.operations.values()
        if not op.responses.keys() & {400, 422} and not op.ranges.keys() & {"4XX", "default"}
    ]
    # A text or raw body with a string schema takes any bytes: what schemathesis sends as invalid
    # (an object, serialized) arrives as a valid string, so there is nothing to refuse.
    settings["operations"] += [
        {
            "include-path": op.path,
            "include-method": op.method,
            "checks": {"negative_data_rejection": {"enabled": False}},
        }
        for op in app.engine.contract.operations.values()
        if op.bodies and all(not is_json_media(body.media_type) for body in op.bodies)
    ]
    settings["operations"] += _defect_overrides(path.stem, app)

    if auth:
        settings["auth"] = {"openapi": auth}
    if headers:
        settings["headers"] = headers
    schema = schemathesis.openapi.from_dict(
        _sampled(app.engine.contract.document), config=SchemathesisConfig.from_dict(settings)
    )
    schema.app = app
    return schema


lazy = schemathesis.pytest.from_fixture("public_schema")


@lazy.parametrize()
def test_a_public_contract_is_served_as_documented(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
    case.call_and_validate()


@pytest.mark.parametrize("path", CONTRACTS, ids=lambda p: p.stem)
def test_every_operation_of_a_public_contract_answers_a_valid_example_body(path: Path) -> None:
    """Without schemathesis: each operation's own answer (its example or a generated value) fits its schema."""
    contract = load_contract(path, seed=SEED)
    assert len(contract.operations) >= 5
    for op in contract.operations.values():
        success = op.success
        if success.validator is not None:
            assert success.validator.is_valid(success.example), (op.operation_id, success.example)


SECURED = [HERE / name for name in ("apideck-sms.json", "asana.json", "bbc-iplayer.json")]  # the others need none


@pytest.mark.anyio
@pytest.mark.parametrize("path", SECURED, ids=lambda p: p.stem)
async def test_every_secured_operation_refuses_a_request_without_credentials(path: Path) -> None:
    """What the ignored_auth check cannot see in a mock: no credential at all is a 401, on each operation."""
    app = create_app(load_contract(path, seed=SEED))
    secured = [op for op in app.engine.contract.operations.values() if op.security]
    assert secured
    base = app.engine.contract.base_path
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mock") as client:
        for op in secured:
            target = base + re.sub(r"\{[^{}/]+\}", "1", op.path)
            answer = await client.request(op.method, target)
            assert answer.status_code == 401, (op.operation_id, answer.status_code, answer.text[:200])
