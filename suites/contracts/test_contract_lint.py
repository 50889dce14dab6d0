"""Every contract is a valid OpenAPI 3.1 document, complete, and its examples are true."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from openapi_spec_validator import validate

from mocks.registry import CONTRACTS_DIR, SERVICES

CONTRACTS = sorted(CONTRACTS_DIR.glob("*.yaml"))
METHODS = ("get", "put", "post", "delete", "patch")
# Errors every operation documents: unreadable or invalid requests, rate limits, outages.
ERRORS_EVERYWHERE = {"429", "503"}


def load(path: Path) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text()))


def resolve(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = target
    return node


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, item[method])
        for path, item in document["paths"].items()
        for method in METHODS
        if method in item
    ]


def schema_validator(document: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    # The Python reference implementation, independent of the engine's Rust validator.
    return jsonschema.Draft202012Validator(
        {**schema, "components": document.get("components", {})},
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


def test_there_is_one_contract_per_service() -> None:
    assert {p.stem for p in CONTRACTS} == set(SERVICES)


@pytest.mark.parametrize("path", CONTRACTS, ids=lambda p: p.stem)
def test_contract_is_valid_openapi_31(path: Path) -> None:
    document = load(path)
    assert document["openapi"].startswith("3.1")
    validate(document)


@pytest.mark.parametrize("path", CONTRACTS, ids=lambda p: p.stem)
def test_every_operation_is_complete(path: Path) -> None:
    document = load(path)
    problems = []
    for method, route, op in operations(document):
        where = f"{method} {route}"
        if not op.get("operationId"):
            problems.append(f"{where}: no operationId")
        responses = {code: resolve(document, r) for code, r in op["responses"].items()}
        if not any(code.startswith("2") for code in responses):
            problems.append(f"{where}: no 2xx response")
        for code, response in responses.items():
            for media, spec in response.get("content", {}).items():
                if "schema" not in spec:
                    problems.append(f"{where} {code} {media}: no schema")
                if "example" not in spec and "examples" not in spec:
                    problems.append(f"{where} {code} {media}: no example")
            if not response.get("content"):
                problems.append(f"{where} {code}: no body")
        is_health = route.startswith("/health") or route == "/metrics"
        if not is_health:
            missing = ERRORS_EVERYWHERE - set(responses)
            if op.get("parameters") or op.get("requestBody"):
                missing |= {"422"} - set(responses)
            if op.get("requestBody"):
                missing |= {"400", "413", "415"} - set(responses)
            if missing:
                problems.append(f"{where}: documents no {sorted(missing)}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", CONTRACTS, ids=lambda p: p.stem)
def test_every_error_response_is_the_json_error_body(path: Path) -> None:
    document = load(path)
    problems = []
    for method, route, op in operations(document):
        for code, raw in op["responses"].items():
            if not code.startswith(("4", "5")) or route.startswith("/health"):
                continue
            response = resolve(document, raw)
            schema = response.get("content", {}).get("application/json", {}).get("schema", {})
            if schema.get("$ref") != "#/components/schemas/Error":
                problems.append(f"{method} {route} {code}: not the JSON Error schema")
    assert not problems, "\n".join(problems)


def examples_of(document: dict[str, Any]) -> list[tuple[str, dict[str, Any], Any]]:
    """(where, schema, example) for every example in the contract."""
    found = []
    for method, route, op in operations(document):
        body = resolve(document, op.get("requestBody", {}))
        for media, spec in body.get("content", {}).items():
            if "example" in spec:
                found.append((f"{method} {route} request {media}", spec["schema"], spec["example"]))
        for code, raw in op["responses"].items():
            for media, spec in resolve(document, raw).get("content", {}).items():
                if "example" in spec:
                    found.append((f"{method} {route} {code} {media}", spec["schema"], spec["example"]))
                for name, example in spec.get("examples", {}).items():
                    found.append(
                        (f"{method} {route} {code} {media} {name}", spec["schema"], resolve(document, example)["value"])
                    )
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        for example in schema.get("examples", []):
            found.append((f"components.schemas.{name}", {"$ref": f"#/components/schemas/{name}"}, example))
    return found


@pytest.mark.parametrize("path", CONTRACTS, ids=lambda p: p.stem)
def test_every_example_matches_its_schema(path: Path) -> None:
    document = load(path)
    found = examples_of(document)
    assert len(found) >= len(operations(document))
    problems = [
        f"{where}: {error.message} at {'/'.join(map(str, error.absolute_path))}"
        for where, schema, example in found
        for error in schema_validator(document, schema).iter_errors(example)
    ]
    assert not problems, "\n".join(problems)


def test_the_lint_catches_a_broken_example() -> None:
    """The example check above can fail: a wrong example is reported."""
    document = load(CONTRACTS_DIR / "strategy-service.yaml")
    schema = {"$ref": "#/components/schemas/PnlSnapshot"}
    errors = list(schema_validator(document, schema).iter_errors({"strategy_id": "42"}))
    assert any("required" in e.message for e in errors)
    assert any("is not of type 'integer'" in e.message for e in errors)


def test_order_service_redis_health_example_is_the_seed_format() -> None:
    document = load(CONTRACTS_DIR / "order-service.yaml")
    op = document["paths"]["/health/redis"]["get"]
    example = op["responses"]["200"]["content"]["application/json"]["example"]
    assert set(example) == {"status", "redis_health", "redis_usage"}
    assert set(example["redis_health"]) == {
        "is_healthy",
        "memory_usage_percentage",
        "connection_pool_usage",
        "warnings",
        "critical_issues",
    }
    assert set(example["redis_usage"]) == {"total_keys", "total_memory_mb", "patterns"}
    assert set(example["redis_usage"]["patterns"]["idempotency"]) == {"key_count", "memory_usage_mb"}


REQUIRED_ENDPOINTS = {
    "strategy-service": {
        ("GET", "/strategies/{strategy_id}/validate"),
        ("POST", "/strategies/{strategy_id}/sync-pnl"),
        ("GET", "/strategies/default/{account_id}"),
        ("POST", "/strategies/default"),
        ("GET", "/strategies/{strategy_id}/portfolio"),
    },
    "account-service": {
        ("PUT", "/accounts/{account_id}/tier"),
        ("POST", "/accounts/{account_id}/promote-tier"),
        ("GET", "/accounts/tier-summary"),
        ("GET", "/accounts/by-tier/{tier}"),
        ("GET", "/accounts/{account_id}/holdings"),
    },
    "analytics-service": {
        ("POST", "/analytics/pnl/calculate"),
        ("GET", "/analytics/pnl/metrics"),
        ("GET", "/analytics/pnl/drawdown"),
        ("GET", "/analytics/pnl/previous-cumulative"),
        ("POST", "/analytics/pnl/bulk-calculate"),
    },
    "order-service": {
        ("POST", "/orders"),
        ("GET", "/orders"),
        ("PATCH", "/orders/{order_id}"),
        ("DELETE", "/orders/{order_id}"),
        ("GET", "/positions"),
        ("GET", "/health/ready"),
        ("GET", "/health/redis"),
        ("GET", "/health/rate-limiter"),
        ("GET", "/health/circuit-breaker"),
        ("GET", "/metrics"),
    },
}


@pytest.mark.parametrize("service", sorted(REQUIRED_ENDPOINTS))
def test_contract_has_the_endpoints_the_compliance_document_requires(service: str) -> None:
    document = load(CONTRACTS_DIR / f"{service}.yaml")
    served = {(method, route) for method, route, _ in operations(document)}
    assert REQUIRED_ENDPOINTS[service] <= served, REQUIRED_ENDPOINTS[service] - served
