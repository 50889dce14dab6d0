"""Each kind of request violation, named exactly, on a small contract written for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from mocks.app import create_app
from mocks.transport import MockTransport

pytestmark = pytest.mark.anyio

CONTRACT = {
    "openapi": "3.1.0",
    "info": {"title": "validation probe", "version": "1"},
    "paths": {
        "/probe": {
            "get": {
                "operationId": "probe",
                "parameters": [
                    {"name": "i", "in": "query", "required": True, "schema": {"type": "integer"}},
                    {"name": "n", "in": "query", "schema": {"type": "number"}},
                    {"name": "b", "in": "query", "schema": {"type": ["boolean", "null"]}},
                    {"name": "X-Tag", "in": "header", "required": True, "schema": {"type": "string"}},
                ],
                "responses": {"200": {"description": "ok", "content": {"application/json": {"example": {}}}}},
            },
            "post": {
                "operationId": "submit",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Submission"}}},
                },
                "responses": {"200": {"description": "ok", "content": {"application/json": {"example": {}}}}},
            },
        }
    },
    "components": {
        "schemas": {
            "Submission": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "items"],
                "properties": {
                    "name": {"type": "string", "maxLength": 5},
                    "items": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["qty"],
                            "properties": {"qty": {"type": "integer"}},
                        },
                    },
                },
            }
        }
    },
}


@pytest.fixture
async def probe(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    path = tmp_path / "probe.yaml"
    path.write_text(yaml.safe_dump(CONTRACT))
    async with httpx.AsyncClient(transport=MockTransport(create_app(path)), base_url="http://probe.test") as client:
        yield client


def reasons(response: httpx.Response) -> list[tuple[str, str, str]]:
    assert response.status_code == 422, response.text
    return [(v["location"], v["field"], v["reason"]) for v in response.json()["violations"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("i=1&i=2", [("query", "i", "given more than once")]),
        ("", [("query", "i", "is required")]),
        ("i=x", [("query", "i", "'x' is not an integer")]),
        ("i=1&n=abc", [("query", "n", "'abc' is not a finite number")]),
        ("i=1&n=inf", [("query", "n", "'inf' is not a finite number")]),
        ("i=1&n=nan", [("query", "n", "'nan' is not a finite number")]),
        ("i=1&b=yes", [("query", "b", "'yes' is not true or false")]),
        ("i=1&b=True", [("query", "b", "'True' is not true or false")]),
    ],
)
async def test_each_parameter_problem_is_named(probe: httpx.AsyncClient, query: str, expected: list[Any]) -> None:
    assert reasons(await probe.get(f"/probe?{query}", headers={"x-tag": "t"})) == expected


async def test_good_parameters_pass_in_their_types(probe: httpx.AsyncClient) -> None:
    for query in ("i=1", "i=-3&n=2.5", "i=0&n=-1e3&b=true", "i=7&b=false"):
        response = await probe.get(f"/probe?{query}", headers={"x-tag": "t"})
        assert response.status_code == 200, (query, response.text)


async def test_a_missing_required_header_is_named(probe: httpx.AsyncClient) -> None:
    assert reasons(await probe.get("/probe?i=1")) == [("header", "X-Tag", "is required")]


async def test_every_body_problem_is_listed_with_its_path(probe: httpx.AsyncClient) -> None:
    body = {"name": "toolong", "extra": 1, "items": [{"qty": 1}, {"qty": "x", "colour": "red", "size": 2}, {}]}
    found = reasons(await probe.post("/probe", json=body))
    assert sorted(found) == sorted(
        [
            ("body", "extra", "is not a field of the contract"),
            ("body", "items.1.colour", "is not a field of the contract"),
            ("body", "items.1.size", "is not a field of the contract"),
            ("body", "name", '"toolong" is longer than 5 characters'),
            ("body", "items.1.qty", '"x" is not of type "integer"'),
            ("body", "items.2.qty", '"qty" is a required property'),
        ]
    )
