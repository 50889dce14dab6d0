"""Each mock serves exactly its contract's operations: none missing, none extra."""

from __future__ import annotations

from typing import Any

import pytest

from harness.servers import InProcessMocks
from mocks.contract import Operation
from mocks.engine import ADMIN_PREFIX
from mocks.registry import SERVICES

pytestmark = pytest.mark.anyio
ALL_METHODS = ("GET", "PUT", "POST", "DELETE", "PATCH")


def sample(schema: dict[str, Any], document: dict[str, Any]) -> str:
    """A value a path parameter's schema accepts, from the contract itself."""
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if "examples" in schema:
        return str(schema["examples"][0])
    if "enum" in schema:
        return str(schema["enum"][0])
    if schema.get("type") == "integer":
        return "42"
    if schema.get("format") == "date":
        return "2026-11-26"
    if schema.get("pattern") == "^[0-9]{15}$":
        return "261126000000001"
    raise AssertionError(f"no sample for {schema}")


def concrete_path(op: Operation, document: dict[str, Any]) -> str:
    path = op.path
    for param in op.parameters:
        if param.location == "path":
            path = path.replace("{" + param.name + "}", sample(dict(param.schema), document))
    return path


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_every_contract_path_answers_its_methods_and_405s_the_rest(mocks: InProcessMocks, service: str) -> None:
    app = mocks.app(service)
    contract = app.engine.contract
    by_path: dict[str, set[str]] = {}
    samples: dict[str, str] = {}
    for op in contract.operations.values():
        by_path.setdefault(op.path, set()).add(op.method)
        samples[op.path] = concrete_path(op, contract.document)
    problems = []
    async with mocks.client(service) as client:
        for template, methods in by_path.items():
            for method in ALL_METHODS:
                response = await client.request(method, samples[template])
                unrouted = response.status_code == 405 or "no operation" in response.text
                if method in methods and unrouted:
                    problems.append(f"{method} {template}: not served")
                if method not in methods and response.status_code != 405:
                    problems.append(f"{method} {template}: {response.status_code}, expected 405")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_nothing_outside_the_contract_is_served(mocks: InProcessMocks, service: str) -> None:
    async with mocks.client(service) as client:
        assert (await client.get(ADMIN_PREFIX + "/health")).status_code == 200
        for path in ("/", "/docs", "/openapi.json", "/health", "/strategies", "/accounts", "/admin/reset"):
            response = await client.get(path)
            assert response.status_code == 404, path
            assert response.json()["error"] == "not_found"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_engine_routes_equal_the_contract_operations(mocks: InProcessMocks, service: str) -> None:
    contract = mocks.app(service).engine.contract
    document_ops = {
        (method.upper(), path)
        for path, item in contract.document["paths"].items()
        for method in ("get", "put", "post", "delete", "patch")
        if method in item
    }
    assert {(op.method, op.path) for op in contract.operations.values()} == document_ops
