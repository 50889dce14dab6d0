"""Any OpenAPI file, no code: 3.0 and 3.1 semantics, generated answers, Prefer, documented refusals.

Each test writes a small contract of its own, so what it checks is visible beside it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml

from harness.processes import stop_process
from harness.servers import free_port
from mocks.app import create_app
from mocks.contract import load_contract
from mocks.errors import ContractError
from suites.fixtures.processes import start_answering

pytestmark = pytest.mark.anyio


def _contract(tmp_path: Path, paths: dict[str, Any], version: str = "3.0.3", **extra: Any) -> Path:
    document = {"openapi": version, "info": {"title": "t", "version": "1"}, "paths": paths, **extra}
    path = tmp_path / "contract.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _json_response(schema: dict[str, Any], status: str = "200", **more: Any) -> dict[str, Any]:
    return {status: {"description": "ok", "content": {"application/json": {"schema": schema, **more}}}}


async def _call(path: Path, method: str, target: str, seed: int = 0, **kwargs: Any) -> httpx.Response:
    app = create_app(load_contract(path, seed=seed))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock") as client:
        return await client.request(method, target, **kwargs)


ITEM: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "created", "owner_email", "code", "kind", "secret"],
    "properties": {
        "id": {"type": "string", "format": "uuid", "readOnly": True},
        "name": {"type": "string", "minLength": 3, "maxLength": 12},
        "created": {"type": "string", "format": "date-time"},
        "owner_email": {"type": "string", "format": "email"},
        "code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
        "kind": {"type": "string", "enum": ["book", "film"]},
        "secret": {"type": "string", "writeOnly": True},
        "rating": {"type": "number", "minimum": 1, "maximum": 5, "multipleOf": 0.5},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "uniqueItems": True},
        "note": {"type": "string", "nullable": True},
    },
}
TREE: dict[str, Any] = {
    "type": "object",
    "required": ["label", "children"],
    "properties": {
        "label": {"type": "string"},
        "children": {"type": "array", "items": {"$ref": "#/components/schemas/Tree"}},
    },
}


def _items_contract(tmp_path: Path) -> Path:
    return _contract(
        tmp_path,
        {
            "/items/{id}": {
                "get": {
                    "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                    "responses": _json_response({"$ref": "#/components/schemas/Item"}),
                }
            },
            "/items": {
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}},
                    },
                    "responses": _json_response({"$ref": "#/components/schemas/Item"}, "201"),
                }
            },
            "/tree": {"get": {"responses": _json_response({"$ref": "#/components/schemas/Tree"})}},
        },
        components={"schemas": {"Item": ITEM, "Tree": TREE}},
    )


async def test_an_answer_without_an_example_is_generated_valid_and_writeonly_free(tmp_path: Path) -> None:
    answer = await _call(_items_contract(tmp_path), "GET", "/items/7")
    assert answer.status_code == 200
    body = answer.json()
    response_view = {**ITEM, "required": [n for n in ITEM["required"] if n != "secret"]}
    response_view["properties"] = {**ITEM["properties"], "note": {"type": ["string", "null"]}}
    jsonschema.validate(body, response_view, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    assert "secret" not in body  # an answer never carries a writeOnly property
    assert body["kind"] in ("book", "film")
    assert len(body["tags"]) >= 2


async def test_generated_answers_are_fixed_by_the_seed(tmp_path: Path) -> None:
    path = _items_contract(tmp_path)
    first = (await _call(path, "GET", "/items/7", seed=1)).json()
    again = (await _call(path, "GET", "/items/7", seed=1)).json()
    other = (await _call(path, "GET", "/items/7", seed=2)).json()
    assert first == again
    assert first != other


async def test_a_schema_that_refers_to_itself_gives_a_finite_answer(tmp_path: Path) -> None:
    body = (await _call(_items_contract(tmp_path), "GET", "/tree")).json()
    depth, node = 0, body
    while node["children"]:
        node, depth = node["children"][0], depth + 1
    assert set(body) == {"label", "children"}
    assert depth < 10


async def test_a_request_need_not_send_a_readonly_property_but_must_send_a_writeonly_one(tmp_path: Path) -> None:
    path = _items_contract(tmp_path)
    item = {
        "name": "Dune",
        "created": "2026-01-05T09:15:00Z",
        "owner_email": "a@example.com",
        "code": "ABC-1234",
        "kind": "book",
        "secret": "s",
    }
    assert (await _call(path, "POST", "/items", json=item)).status_code == 201
    without_secret = {k: v for k, v in item.items() if k != "secret"}
    refused = await _call(path, "POST", "/items", json=without_secret)
    assert refused.status_code == 422
    assert {"location": "body", "field": "secret", "reason": '"secret" is a required property'} in refused.json()[
        "violations"
    ]


async def test_openapi_30_nullable_allows_null_but_an_enum_without_null_still_refuses_it(tmp_path: Path) -> None:
    body = {
        "type": "object",
        "properties": {
            "note": {"type": "string", "nullable": True},
            "side": {"type": "string", "enum": ["BUY", "SELL"], "nullable": True},
            "qty": {"type": "integer", "minimum": 0, "exclusiveMinimum": True},
            "ref": {"allOf": [{"$ref": "#/components/schemas/Ref"}], "nullable": True},
        },
    }
    path = _contract(
        tmp_path,
        {
            "/x": {
                "post": {
                    "requestBody": {"content": {"application/json": {"schema": body}}},
                    "responses": {"204": {"description": "done"}},
                }
            }
        },
        components={
            "schemas": {"Ref": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}}
        },
    )
    assert (await _call(path, "POST", "/x", json={"note": None, "ref": None, "qty": 1})).status_code == 204
    wrongs: list[dict[str, Any]] = [{"side": None}, {"qty": 0}, {"ref": {}}]
    for wrong in wrongs:
        assert (await _call(path, "POST", "/x", json=wrong)).status_code == 422, wrong


async def test_prefer_picks_a_documented_status_or_a_named_example(tmp_path: Path) -> None:
    responses = {
        **_json_response(
            {"type": "object", "properties": {"n": {"type": "integer"}}},
            examples={"one": {"value": {"n": 1}}, "two": {"value": {"n": 2}}},
        ),
        **_json_response(
            {"type": "object", "properties": {"gone": {"type": "boolean"}}}, "404", example={"gone": True}
        ),
    }
    path = _contract(tmp_path, {"/n": {"get": {"operationId": "getN", "responses": responses}}})
    assert (await _call(path, "GET", "/n")).json() == {"n": 1}
    assert (await _call(path, "GET", "/n", headers={"Prefer": "example=two"})).json() == {"n": 2}
    missing = await _call(path, "GET", "/n", headers={"Prefer": "code=404"})
    assert (missing.status_code, missing.json()) == (404, {"gone": True})
    unknown = await _call(path, "GET", "/n", headers={"Prefer": "code=418"})
    assert unknown.status_code == 400
    assert unknown.json()["message"] == "Prefer: code=418 is not documented for getN (200, 404)"


async def test_a_refusal_takes_the_contracts_own_error_body_and_says_why_in_a_header(tmp_path: Path) -> None:
    error = {
        "type": "object",
        "required": ["code", "detail"],
        "properties": {"code": {"type": "integer"}, "detail": {"type": "string"}},
    }
    responses = {
        **_json_response({"type": "string"}),
        **_json_response(error, "400", example={"code": 40, "detail": "bad"}),
    }
    param = {"name": "limit", "in": "query", "required": True, "schema": {"type": "integer", "maximum": 10}}
    path = _contract(tmp_path, {"/list": {"get": {"parameters": [param], "responses": responses}}})
    refused = await _call(path, "GET", "/list?limit=11")
    assert refused.status_code == 400  # the contract documents 400, not 422
    assert refused.json() == {"code": 40, "detail": "bad"}
    assert refused.headers["x-mock-problem"].startswith("the request does not match the contract: query limit")
    assert (await _call(path, "GET", "/list?limit=3")).status_code == 200


async def test_documented_response_headers_are_sent(tmp_path: Path) -> None:
    headers = {
        "X-Rate-Remaining": {"schema": {"type": "integer", "minimum": 0, "maximum": 100}},
        "ETag": {"schema": {"type": "string"}, "example": '"v1"'},
    }
    responses = {
        "200": {
            "description": "ok",
            "headers": headers,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    }
    answer = await _call(_contract(tmp_path, {"/h": {"get": {"responses": responses}}}), "GET", "/h")
    assert answer.headers["etag"] == '"v1"'
    assert 0 <= int(answer.headers["x-rate-remaining"]) <= 100


async def test_the_first_servers_path_is_the_base_path(tmp_path: Path) -> None:
    path = _contract(
        tmp_path,
        {"/ping": {"get": {"responses": _json_response({"type": "string"}, example="pong")}}},
        version="3.1.0",
        servers=[
            {
                "url": "https://{host}/api/{version}",
                "variables": {"host": {"default": "x.example"}, "version": {"default": "v2"}},
            }
        ],
    )
    assert (await _call(path, "GET", "/api/v2/ping")).json() == "pong"


async def test_credentials_in_a_query_parameter_a_cookie_and_basic_auth_are_checked(tmp_path: Path) -> None:
    schemes = {
        "Key": {"type": "apiKey", "in": "query", "name": "key"},
        "Session": {"type": "apiKey", "in": "cookie", "name": "sid"},
        "Basic": {"type": "http", "scheme": "basic"},
    }
    ops = {
        f"/{name.lower()}": {
            "get": {"security": [{name: []}], "responses": _json_response({"type": "string"}, example="ok")}
        }
        for name in schemes
    }
    path = _contract(tmp_path, ops, components={"securitySchemes": schemes})
    assert (await _call(path, "GET", "/key")).status_code == 401
    assert (await _call(path, "GET", "/key?key=abc")).status_code == 200
    assert (await _call(path, "GET", "/session", headers={"Cookie": "sid=1"})).status_code == 200
    assert (await _call(path, "GET", "/basic", headers={"Authorization": "Basic bm90LWJhc2U2NA"})).status_code == 401
    assert (await _call(path, "GET", "/basic", auth=("u", "p"))).status_code == 200


async def test_a_form_body_is_converted_by_its_schema_and_checked(tmp_path: Path) -> None:
    form = {
        "type": "object",
        "required": ["qty"],
        "properties": {
            "qty": {"type": "integer", "minimum": 1},
            "ids": {"type": "array", "items": {"type": "integer"}},
        },
    }
    body = {"content": {"application/x-www-form-urlencoded": {"schema": form}}}
    path = _contract(tmp_path, {"/f": {"post": {"requestBody": body, "responses": {"204": {"description": "ok"}}}}})
    assert (await _call(path, "POST", "/f", data={"qty": "2", "ids": ["1", "2"]})).status_code == 204
    refused = await _call(path, "POST", "/f", data={"qty": "0"})
    assert refused.status_code == 422
    assert refused.json()["violations"][0]["field"] == "qty"
    assert (await _call(path, "POST", "/f", json={"qty": 2})).status_code == 415


def test_a_response_no_value_can_satisfy_fails_at_start_naming_its_pointer(tmp_path: Path) -> None:
    schema = {"type": "integer", "minimum": 5, "maximum": 1}
    path = _contract(tmp_path, {"/n": {"get": {"responses": _json_response(schema)}}})
    with pytest.raises(ContractError) as caught:
        load_contract(path)
    message = str(caught.value)
    assert str(path) in message
    assert "#/paths/~1n/get/responses/200/content/application~1json/schema" in message


def test_an_example_that_breaks_its_schema_is_set_aside_with_a_warning(tmp_path: Path) -> None:
    path = _contract(tmp_path, {"/n": {"get": {"responses": _json_response({"type": "integer"}, example="seven")}}})
    contract = load_contract(path)
    assert isinstance(contract.operations["GET /n"].success.example, int)
    where = "#/paths/~1n/get/responses/200/content/application~1json"
    assert contract.warnings == [f"GET /n 200: the example 'example' at {where} breaks its schema; not used"]


@pytest.mark.live
def test_mocks_serve_takes_a_contract_file(tmp_path: Path) -> None:
    """`python -m mocks serve FILE` on a real socket: a public contract answers over HTTP."""
    contract = Path(__file__).parent / "public_contracts" / "apideck-sms.json"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "mocks", "serve", str(contract), "--port", str(port), "--seed", "3"]
    process = start_answering(command, url + "/__admin/journal", tmp_path / "mock.log")
    try:
        headers = {"Authorization": "Bearer t", "x-apideck-app-id": "a", "x-apideck-consumer-id": "c"}
        answer = httpx.get(url + "/sms/messages", headers=headers, timeout=10)
        assert answer.status_code == 200
        assert json.loads(answer.text)["status_code"] == 200
    finally:
        stop_process(process)
