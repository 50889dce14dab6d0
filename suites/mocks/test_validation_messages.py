"""Each kind of request violation, named exactly, on a small contract written for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from mocks.app import create_app
from mocks.behaviour import Behaviour, Reply
from mocks.clock import MockClock
from mocks.transport import MockTransport
from mocks.validation import MockRequest

pytestmark = pytest.mark.anyio

CONTRACT: dict[str, Any] = {
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


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("n=abc", [("query", "i", "is required"), ("query", "n", "'abc' is not a finite number")]),
        ("i=x&n=abc", [("query", "i", "'x' is not an integer"), ("query", "n", "'abc' is not a finite number")]),
        ("i=1&n=", [("query", "n", "'' is not a finite number")]),  # a blank value is a value
    ],
)
async def test_every_parameter_is_checked_after_a_bad_one(
    probe: httpx.AsyncClient, query: str, expected: list[Any]
) -> None:
    response = await probe.get(f"/probe?{query}", headers={"x-tag": "t"})
    assert reasons(response) == expected
    assert response.json()["message"] == "the request does not match the contract"


class Echo(Behaviour):
    """Answers what the handler was given: the converted parameters, the operation, the body's size."""

    def __init__(self, clock: MockClock) -> None:
        super().__init__(clock)
        self.handlers = {"probe": self.echo, "submit": self.echo}

    def echo(self, request: MockRequest) -> Reply:
        return Reply(
            200,
            {
                "operation": request.operation_id,
                "query": request.query,
                "header": request.headers.get("x-tag"),
                "body": request.body,
                "raw_body": len(request.raw_body),
            },
        )


@pytest.fixture
async def echo(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    path = tmp_path / "probe.yaml"
    path.write_text(yaml.safe_dump(CONTRACT))
    app = create_app(path, Echo(MockClock()))
    async with httpx.AsyncClient(transport=MockTransport(app), base_url="http://probe.test") as client:
        yield client


@pytest.mark.parametrize(
    ("query", "converted"),
    [
        ("i=7", {"i": 7}),
        ("i=-3&n=2.5", {"i": -3, "n": 2.5}),
        ("i=0&b=true", {"i": 0, "b": True}),
        ("i=0&b=false", {"i": 0, "b": False}),
    ],
)
async def test_handlers_get_parameters_in_their_types(echo: httpx.AsyncClient, query: str, converted: Any) -> None:
    answer = (await echo.get(f"/probe?{query}", headers={"x-tag": "t"})).json()
    assert answer == {"operation": "probe", "query": converted, "header": "t", "body": None, "raw_body": 0}


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "application/json;a=1;b=2",
        "application/merge-patch+json",
        " application/json ",
    ],
)
async def test_json_bodies_are_known_by_their_media_type(echo: httpx.AsyncClient, content_type: str) -> None:
    raw = b'{"name": "ab", "items": []}'
    response = await echo.post("/probe", content=raw, headers={"content-type": content_type})
    assert response.status_code == 200, response.text
    assert response.json()["body"] == {"name": "ab", "items": []}
    assert response.json()["raw_body"] == len(raw)


@pytest.mark.parametrize(
    ("headers", "shown"),
    [({"content-type": "text/plain"}, "'text/plain'"), ({}, "'(none)'"), ({"content-type": "json"}, "'json'")],
)
async def test_other_media_types_are_refused_by_name(
    echo: httpx.AsyncClient, headers: dict[str, str], shown: str
) -> None:
    response = await echo.post("/probe", content=b'{"name": "ab", "items": []}', headers=headers)
    assert response.status_code == 415
    assert response.json() == {
        "error": "unsupported_media_type",
        "message": f"content type {shown} is not accepted; use application/json",
    }


async def test_a_missing_required_body_is_named(echo: httpx.AsyncClient) -> None:
    response = await echo.post("/probe", headers={"content-type": "application/json"})
    assert reasons(response) == [("body", "", "a JSON request body is required")]


SECURED: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "credentials probe", "version": "1"},
    "paths": {
        "/secret": {
            "get": {
                "operationId": "secret",
                # either Zeta alone, or Alpha and Beta together
                "security": [{"zeta": []}, {"alpha": [], "beta": []}],
                "responses": {"200": {"description": "ok", "content": {"application/json": {"example": {}}}}},
            }
        }
    },
    "components": {
        "securitySchemes": {
            "zeta": {"type": "apiKey", "in": "header", "name": "X-Zeta"},
            "alpha": {"type": "apiKey", "in": "header", "name": "X-Alpha"},
            "beta": {"type": "apiKey", "in": "header", "name": "X-Beta", "x-pattern": "^[0-9]+$"},
        }
    },
}


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "invalid credentials: X-Zeta is missing"),  # the alternative closest to being met
        ({"x-alpha": "a"}, "invalid credentials: X-Zeta is missing"),
        ({"x-alpha": "a", "x-beta": "b", "x-zeta": ""}, "invalid credentials: X-Zeta is missing"),
    ],
)
async def test_credentials_name_what_the_nearest_alternative_lacks(
    tmp_path: Path, headers: dict[str, str], message: str
) -> None:
    path = tmp_path / "secured.yaml"
    path.write_text(yaml.safe_dump(SECURED))
    async with httpx.AsyncClient(transport=MockTransport(create_app(path)), base_url="http://s.test") as client:
        response = await client.get("/secret", headers=headers)
        assert (response.status_code, response.json()) == (401, {"error": "unauthorized", "message": message})
        both_wrong = await client.get("/secret", headers={"x-alpha": "", "x-beta": "b"})
        assert both_wrong.json()["message"] == "invalid credentials: X-Zeta is missing"
        allowed = [await client.get("/secret", headers=h) for h in ({"x-zeta": "z"}, {"x-alpha": "a", "x-beta": "7"})]
        assert [r.status_code for r in allowed] == [200, 200]


async def test_every_problem_of_the_nearest_alternative_is_listed(tmp_path: Path) -> None:
    two = {
        **SECURED,
        "paths": {"/secret": {"get": {**SECURED["paths"]["/secret"]["get"], "security": [{"alpha": [], "beta": []}]}}},
    }
    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump(two))
    async with httpx.AsyncClient(transport=MockTransport(create_app(path)), base_url="http://s.test") as client:
        response = await client.get("/secret", headers={"x-beta": "b"})
    assert response.json()["message"] == ("invalid credentials: X-Alpha is missing; X-Beta is malformed")
