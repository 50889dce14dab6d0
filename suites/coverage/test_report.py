"""The coverage matrix: statuses counted where the contract documents them, sources kept apart, the gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.coverage.report import Matrix


def contract(tmp_path: Path) -> Path:
    """A contract with a seed operation (200, 404, 422, 5XX) and an ordinary one (200, default)."""
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "Things", "version": "1.0.0"},
        "paths": {
            "/things/{id}": {
                "get": {
                    "x-seed": True,
                    "operationId": "getThing",
                    "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                    "responses": {
                        "200": {"description": "ok"},
                        "404": {"description": "absent"},
                        "422": {"description": "bad id"},
                        "5XX": {"description": "trouble"},
                    },
                }
            },
            "/things": {
                "get": {
                    "operationId": "listThings",
                    "responses": {"200": {"description": "ok"}, "default": {"description": "any"}},
                }
            },
        },
    }
    path = tmp_path / "things.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def cells(matrix: Matrix, operation: str) -> dict[str, dict[str, set[str]]]:
    row = next(r for r in matrix.coverage["things.yaml"].rows if r.operation_id == operation)
    return {status: cell.by for status, cell in row.cells.items()}


def record(
    operation: str, status: int, source: str = "suites", test: str | None = "suites/t.py::test_a"
) -> dict[str, Any]:
    return {"contract": "things.yaml", "operation": operation, "status": status, "source": source, "test": test}


def test_statuses_count_for_their_code_their_range_or_default(tmp_path: Path) -> None:
    matrix = Matrix([contract(tmp_path)])
    matrix.add_records(
        [record("getThing", 404), record("getThing", 503), record("listThings", 418), record("getThing", 401)]
    )
    got = cells(matrix, "getThing")
    assert got["404"] == {"suites": {"suites/t.py::test_a"}}
    assert got["5XX"] == {"suites": {"suites/t.py::test_a"}}  # 503 under its range
    assert got["200"] == got["422"] == {}
    assert cells(matrix, "listThings")["default"] == {"suites": {"suites/t.py::test_a"}}
    row = next(r for r in matrix.coverage["things.yaml"].rows if r.operation_id == "getThing")
    assert row.undocumented == {401: {"suites"}}  # no 4XX, no default: seen, but documented by nothing


def test_sources_are_kept_apart_and_unknown_contracts_ignored(tmp_path: Path) -> None:
    matrix = Matrix([contract(tmp_path)])
    matrix.add_records(
        [
            record("getThing", 200, "schemathesis", "suites/s.py::test_fuzz"),
            record("getThing", 200),
            {
                "contract": "things.yaml",
                "method": "GET",
                "path": "/things/7",
                "status": 422,
                "source": "conformance",
                "test": None,
            },
            {"contract": "other.yaml", "operation": "getThing", "status": 404, "source": "suites"},
            record("noSuchOperation", 200),
        ]
    )
    got = cells(matrix, "getThing")
    assert got["200"] == {"schemathesis": {"suites/s.py::test_fuzz"}, "suites": {"suites/t.py::test_a"}}
    assert got["422"] == {"conformance": set()}  # routed by its path; no test named
    assert got["404"] == {}


def test_pacts_count_by_provider_name(tmp_path: Path) -> None:
    matrix = Matrix([contract(tmp_path)])
    pacts = tmp_path / "pacts"
    pacts.mkdir()
    interaction = {
        "description": "a missing thing",
        "request": {"method": "GET", "path": "/things/9"},
        "response": {"status": 404},
    }
    for provider in ("things", "elsewhere"):
        pact = {"consumer": {"name": "c"}, "provider": {"name": provider}, "interactions": [interaction]}
        (pacts / f"c-{provider}.json").write_text(json.dumps(pact))
    matrix.add_pacts(pacts)
    assert cells(matrix, "getThing")["404"] == {"pacts": {"c-things.json: a missing thing"}}


@pytest.mark.parametrize(
    ("exercised", "gaps"),
    [
        ([], ["404", "422", "5XX"]),
        ([404, 422], ["5XX"]),
        ([404, 422, 500], []),
    ],
)
def test_the_gate_names_error_responses_of_seed_operations_nothing_exercised(
    tmp_path: Path, exercised: list[int], gaps: list[str]
) -> None:
    matrix = Matrix([contract(tmp_path)])
    matrix.add_records(record("getThing", status) for status in exercised)
    found = [(row.operation_id, status) for row, status in matrix.coverage["things.yaml"].gaps()]
    assert found == [("getThing", status) for status in gaps]  # listThings is no seed operation: never a gap


def test_the_json_form_lists_every_documented_status(tmp_path: Path) -> None:
    matrix = Matrix([contract(tmp_path)])
    matrix.add_records([record("getThing", 404)])
    data = matrix.coverage["things.yaml"].as_dict()
    first = next(op for op in data["operations"] if op["operation_id"] == "getThing")
    assert (first["operation_id"], first["seed"]) == ("getThing", True)
    assert first["statuses"] == {"200": {}, "404": {"suites": ["suites/t.py::test_a"]}, "422": {}, "5XX": {}}
