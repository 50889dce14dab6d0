"""Bad requests get a clear 4xx JSON error naming the problem, never a 500."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.servers import InProcessMocks
from mocks.app import create_app
from mocks.behaviours.strategy import StrategyBehaviour
from mocks.clock import MockClock
from mocks.contract import load_contract
from mocks.engine import MockSettings
from mocks.errors import ContractError
from mocks.registry import CONTRACTS_DIR
from mocks.transport import MockTransport

pytestmark = pytest.mark.anyio

SYNC = "/strategies/42/sync-pnl"
GOOD_SYNC = {
    "as_of": "2026-11-26T15:30:00+05:30",
    "realized_pnl": "12500.50",
    "unrealized_pnl": "-2300.25",
    "total_pnl": "10200.25",
}
JSON = {"content-type": "application/json"}


def violations(response: httpx.Response) -> set[tuple[str, str]]:
    return {(v["location"], v["field"]) for v in response.json()["violations"]}


async def post(mocks: InProcessMocks, content: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    async with mocks.client("strategy-service") as client:
        return await client.post(SYNC, content=content, headers=headers if headers is not None else JSON)


async def test_malformed_json_is_400_naming_the_position(mocks: InProcessMocks) -> None:
    response = await post(mocks, b'{"as_of": ')
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"] == "bad_request"
    assert "not valid JSON" in body["message"]
    assert "line 1" in body["message"]


async def test_bytes_that_are_not_utf8_are_400(mocks: InProcessMocks) -> None:
    response = await post(mocks, b'{"as_of": "\xff\xfe"}')
    assert response.status_code == 400
    assert "UTF-8" in response.json()["message"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"total_pnl": 10200.25}, ("body", "total_pnl")),  # a float, not a decimal string
        ({"total_pnl": "10,200"}, ("body", "total_pnl")),
        ({"open_positions": "3"}, ("body", "open_positions")),
        ({"open_positions": 10**30}, ("body", "open_positions")),  # a huge number
        ({"as_of": "2026-11-26 15:30"}, ("body", "as_of")),
        ({"unexpected": 1}, ("body", "unexpected")),
    ],
)
async def test_wrong_or_extra_fields_are_422_naming_each(
    mocks: InProcessMocks, change: dict[str, Any], expected: tuple[str, str]
) -> None:
    async with mocks.client("strategy-service") as client:
        response = await client.post(SYNC, json={**GOOD_SYNC, **change})
    assert response.status_code == 422
    assert response.json()["error"] == "validation_failed"
    assert violations(response) == {expected}


async def test_every_missing_field_is_listed(mocks: InProcessMocks) -> None:
    async with mocks.client("strategy-service") as client:
        response = await client.post(SYNC, json={"as_of": GOOD_SYNC["as_of"]})
    assert response.status_code == 422
    assert violations(response) == {("body", "realized_pnl"), ("body", "unrealized_pnl"), ("body", "total_pnl")}


async def test_a_huge_number_is_a_4xx_not_a_500(mocks: InProcessMocks) -> None:
    raw = b'{"as_of": "2026-11-26T15:30:00+05:30", "realized_pnl": "1", "unrealized_pnl": "1",'
    raw += b' "total_pnl": "2", "open_positions": 1' + b"0" * 5000 + b"}"
    response = await post(mocks, raw)
    assert 400 <= response.status_code < 500
    assert response.json()["error"] in ("bad_request", "validation_failed")


async def test_missing_body_is_422(mocks: InProcessMocks) -> None:
    response = await post(mocks, b"")
    assert response.status_code == 422
    assert violations(response) == {("body", "")}


async def test_a_body_that_is_not_json_is_415(mocks: InProcessMocks) -> None:
    response = await post(mocks, b"total_pnl=1", {"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


async def test_a_body_over_the_limit_is_413(mocks: InProcessMocks) -> None:
    response = await post(mocks, b" " * (MockSettings().max_body_bytes + 1))
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


async def test_a_streamed_body_over_the_limit_is_413() -> None:
    """Without a Content-Length the limit is enforced while reading."""
    app = create_app(CONTRACTS_DIR / "strategy-service.yaml", settings=MockSettings(max_body_bytes=1000))

    async def chunks() -> Any:
        for _ in range(20):
            yield b" " * 100

    async with httpx.AsyncClient(transport=MockTransport(app), base_url="http://m") as client:
        response = await client.post(SYNC, content=chunks(), headers=JSON)
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/strategies/abc/validate", "strategy_id"),
        ("/strategies/0/validate", "strategy_id"),
        ("/strategies/1.5/validate", "strategy_id"),
        ("/strategies/99999999999999999999999/validate", "strategy_id"),
        ("/strategies/default/zx1234", "account_id"),
    ],
)
async def test_path_parameters_of_the_wrong_type_are_422(mocks: InProcessMocks, path: str, field: str) -> None:
    async with mocks.client("strategy-service") as client:
        response = await client.get(path)
    assert response.status_code == 422
    assert violations(response) == {("path", field)}


async def test_query_parameters_are_converted_and_checked(mocks: InProcessMocks) -> None:
    async with mocks.client("account-service") as client:
        bad = await client.get("/accounts/by-tier/hot", params={"limit": "many"})
        low = await client.get("/accounts/by-tier/hot", params={"limit": "0"})
        twice = await client.get("/accounts/by-tier/hot?limit=1&limit=2")
        good = await client.get("/accounts/by-tier/hot", params={"limit": "2"})
    assert bad.status_code == low.status_code == twice.status_code == 422
    assert violations(bad) == violations(low) == violations(twice) == {("query", "limit")}
    assert good.status_code == 200
    assert len(good.json()["items"]) == 2


async def test_a_missing_required_query_parameter_is_named(mocks: InProcessMocks) -> None:
    async with mocks.client("analytics-service") as client:
        response = await client.get("/analytics/pnl/previous-cumulative", params={"strategy_id": "42"})
    assert response.status_code == 422
    assert violations(response) == {("query", "before_date")}


async def test_unknown_path_is_404_and_wrong_method_405_both_json(mocks: InProcessMocks) -> None:
    async with mocks.client("strategy-service") as client:
        missing = await client.get("/strategies")
        wrong = await client.delete("/strategies/42/validate")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    assert wrong.status_code == 405
    assert wrong.json()["error"] == "method_not_allowed"
    assert wrong.headers["allow"] == "GET"


async def test_literal_path_segments_win_over_parameters(mocks: InProcessMocks) -> None:
    async with mocks.client("account-service") as client:
        listing = await client.get("/accounts/by-tier/warm")
        put_on_listing = await client.put("/accounts/by-tier/tier", json={"tier": "hot"})
    assert listing.status_code == 200
    # PUT /accounts/{account_id}/tier matches too, and "by-tier" is not a valid account id.
    assert put_on_listing.status_code == 422
    assert violations(put_on_listing) == {("path", "account_id")}


async def test_missing_or_malformed_credentials_are_401(mocks: InProcessMocks) -> None:
    async with mocks.client("order-service") as client:
        none = await client.get("/positions", headers={"x-trading-account-id": "ZX1234"})
        malformed = await client.get(
            "/positions",
            headers={
                "x-trading-account-id": "ZX1234",
                "authorization": "Bearer not-a-jwt",
                "x-service-identity": "algo_engine",
                "x-internal-api-key": "dev-algo-engine-key-0001",
                "x-request-timestamp": "1795700000",
                "x-request-signature": "f" * 64,
            },
        )
    assert none.status_code == 401
    assert "X-Request-Signature is missing" in none.json()["message"]
    assert malformed.status_code == 401
    assert malformed.json()["message"] == "invalid credentials: Authorization is malformed"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    return path


VALID = (CONTRACTS_DIR / "config-service.yaml").read_text()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("openapi: 3.1.0\ninfo: [unclosed", "not valid YAML"),
        ("- a list", "must be a YAML mapping"),
        ("swagger: '2.0'\ninfo: {title: x, version: '1'}\npaths: {}", "only OpenAPI 3.0 and 3.1"),
        ("openapi: 3.1.0\npaths: {}", 'not a valid OpenAPI 3.1 document at # (the root): "info" is a required'),
        (
            "openapi: 3.0.3\ninfo: {title: x, version: '1'}\npaths: {/a: {get: {responses: {'2OO': {}}}}}",
            "not a valid OpenAPI 3.0 document at #/paths/~1a/get/responses",
        ),
        (
            VALID.replace("/services/{service_name}:", "/services/{name}:"),
            "path parameters ['name'] are declared as ['service_name']",
        ),
        (
            VALID.replace("operationId: getServiceEndpoint", "operationId: listServices"),
            "operationId listServices at #/paths/~1services~1{service_name}/get is not unique",
        ),
        (
            VALID.replace("$ref: '#/components/schemas/ServiceList'", "$ref: '#/components/schemas/Nope'"),
            "reference #/components/schemas/Nope points nowhere (at #/paths/~1services/get/responses/200/content",
        ),
        (
            VALID.replace("$ref: '#/components/schemas/ServiceList'", "$ref: 'other.yaml#/ServiceList'"),
            "only local references are served, got 'other.yaml#/ServiceList'",
        ),
    ],
    ids=[
        "yaml",
        "not-a-mapping",
        "swagger-2.0",
        "no-info",
        "bad-status",
        "undeclared-path-parameter",
        "duplicate-id",
        "dangling-ref",
        "external-ref",
    ],
)
def test_an_invalid_contract_fails_at_start_naming_file_and_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ContractError) as caught:
        load_contract(path)
    assert str(path) in str(caught.value)
    assert problem in str(caught.value)


def test_a_missing_contract_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match=r"missing\.yaml: cannot read"):
        load_contract(tmp_path / "missing.yaml")


def test_handlers_for_operations_the_contract_lacks_are_refused() -> None:
    behaviour = StrategyBehaviour(MockClock())
    with pytest.raises(ValueError, match="validateStrategy"):
        create_app(CONTRACTS_DIR / "account-service.yaml", behaviour)


@pytest.mark.parametrize(
    ("value", "shown"),
    [("x" * 60, "x" * 60), ("x" * 61, "x" * 57 + "..."), ("y" * 500, "y" * 57 + "...")],
)
async def test_a_long_bad_value_is_quoted_cut_to_60_characters(mocks: InProcessMocks, value: str, shown: str) -> None:
    async with mocks.client("strategy-service") as client:
        response = await client.get(f"/strategies/{value}/validate")
    assert response.status_code == 422
    assert response.json()["violations"] == [
        {"location": "path", "field": "strategy_id", "reason": f"'{shown}' is not an integer"}
    ]


async def test_a_long_schema_message_is_cut_to_300_characters(mocks: InProcessMocks) -> None:
    long_number = "1" * 400
    response = await post(mocks, json.dumps({**GOOD_SYNC, "realized_pnl": long_number}).encode())
    [violation] = response.json()["violations"]
    assert violation["field"] == "realized_pnl"
    assert len(violation["reason"]) == 300
    assert violation["reason"] == f'"{long_number}"'[:297] + "..."
