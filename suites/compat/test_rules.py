"""Each rule of `harness compat` on a minimal pair of documents, both ways.

Every case states the findings (rule, level) from the base to the revision and from the
revision back to the base, and nothing else may be found: a rule that fires too often
fails as surely as one that never fires. The classifications come from what a client can
observe (OpenAPI 3.1 and JSON Schema 2020-12): a request the revision may refuse, or an
answer it may give that the base ruled out, is breaking.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from harness.compat.findings import BREAKING, INFO, WARNING
from harness.compat.operations import compare_documents
from suites.compat.documents import document, obj, operation, param, request, response

B, W, N = BREAKING, WARNING, INFO  # N: info, a change no client notices as a failure


@dataclass(frozen=True)
class Case:
    id: str
    base: dict[str, Any]
    revision: dict[str, Any]
    forward: frozenset[tuple[str, str]]
    backward: frozenset[tuple[str, str]]


def case(id: str, base: Any, revision: Any, forward: Any, backward: Any) -> Case:
    return Case(id, base, revision, frozenset(forward), frozenset(backward))


def found(base: dict[str, Any], revision: dict[str, Any]) -> set[tuple[str, str]]:
    return {(f.rule, f.level) for f in compare_documents(base, revision, "things.yaml").findings}


STRING = {"type": "string"}
REF_A = {"$ref": "#/components/schemas/A"}

SCHEMA_CASES = [
    # types, nullability, formats
    case(
        "request type narrowed",
        request({"type": ["string", "integer"]}),
        request(STRING),
        {("request-body-type-narrowed", B)},
        {("request-body-type-widened", N)},
    ),
    case(
        "request type changed",
        request(STRING),
        request({"type": "integer"}),
        {("request-body-type-changed", B)},
        {("request-body-type-changed", B)},
    ),
    case(
        "integer within number",
        request({"type": "number"}),
        request({"type": "integer"}),
        {("request-body-type-narrowed", B)},
        {("request-body-type-widened", N)},
    ),
    case(
        "response type set",
        response({}),
        response(STRING),
        {("response-body-type-set", N)},
        {("response-body-type-unset", B)},
    ),
    case(
        "response became nullable (3.1 type array)",
        response(STRING),
        response({"type": ["string", "null"]}),
        {("response-body-became-nullable", B)},
        {("response-body-became-not-nullable", N)},
    ),
    case(
        "request became not nullable",
        request({"type": ["string", "null"]}),
        request(STRING),
        {("request-body-became-not-nullable", B)},
        {("request-body-became-nullable", N)},
    ),
    case(
        "3.0 nullable is the 3.1 null type",
        response({"type": "string", "nullable": True}, openapi="3.0.3"),
        response({"type": ["string", "null"]}),
        set(),
        set(),
    ),
    case(
        "request format set",
        request(STRING),
        request({"type": "string", "format": "date-time"}),
        {("request-body-format-set", B)},
        {("request-body-format-unset", N)},
    ),
    case(
        "response format unset",
        response({"type": "string", "format": "uuid"}),
        response(STRING),
        {("response-body-format-unset", B)},
        {("response-body-format-set", N)},
    ),
    case(
        "format changed",
        request({"type": "string", "format": "date"}),
        request({"type": "string", "format": "uuid"}),
        {("request-body-format-changed", B)},
        {("request-body-format-changed", B)},
    ),
    case(
        "request int32 to int64 (format and bounds)",
        request({"type": "integer", "format": "int32"}),
        request({"type": "integer", "format": "int64"}),
        {
            ("request-body-format-widened", N),
            ("request-body-minimum-decreased", N),
            ("request-body-maximum-increased", N),
        },
        {
            ("request-body-format-narrowed", B),
            ("request-body-minimum-increased", B),
            ("request-body-maximum-decreased", B),
        },
    ),
    # enums and const
    case(
        "request enum widened (not breaking)",
        request({"enum": ["a", "b"]}),
        request({"enum": ["a", "b", "c"]}),
        {("request-body-enum-value-added", N)},
        {("request-body-enum-value-removed", B)},
    ),
    case(
        "response enum widened",
        response({"enum": ["a"]}),
        response({"enum": ["a", "b"]}),
        {("response-body-enum-value-added", B)},
        {("response-body-enum-value-removed", N)},
    ),
    case(
        "request enum set",
        request(STRING),
        request({"type": "string", "enum": ["a"]}),
        {("request-body-enum-set", B)},
        {("request-body-enum-unset", N)},
    ),
    case("const is a one-value enum", request({"const": "a"}), request({"enum": ["a"]}), set(), set()),
    # numeric and size limits
    case(
        "request minimum increased",
        request({"type": "integer", "minimum": 1}),
        request({"type": "integer", "minimum": 5}),
        {("request-body-minimum-increased", B)},
        {("request-body-minimum-decreased", N)},
    ),
    case(
        "minimum made exclusive",
        request({"type": "number", "minimum": 0}),
        request({"type": "number", "exclusiveMinimum": 0}),
        {("request-body-minimum-increased", B)},
        {("request-body-minimum-decreased", N)},
    ),
    case(
        "response maximum unset",
        response({"type": "integer", "maximum": 9}),
        response({"type": "integer"}),
        {("response-body-maximum-unset", B)},
        {("response-body-maximum-set", N)},
    ),
    case(
        "request max length decreased",
        request({"type": "string", "maxLength": 64}),
        request({"type": "string", "maxLength": 8}),
        {("request-body-max-length-decreased", B)},
        {("request-body-max-length-increased", N)},
    ),
    case(
        "request min length set",
        request(STRING),
        request({"type": "string", "minLength": 2}),
        {("request-body-min-length-set", B)},
        {("request-body-min-length-unset", N)},
    ),
    case(
        "response max items increased",
        response({"type": "array", "maxItems": 10}),
        response({"type": "array", "maxItems": 100}),
        {("response-body-max-items-increased", B)},
        {("response-body-max-items-decreased", N)},
    ),
    case(
        "request min items set",
        request({"type": "array"}),
        request({"type": "array", "minItems": 1}),
        {("request-body-min-items-set", B)},
        {("request-body-min-items-unset", N)},
    ),
    case(
        "request max properties set",
        request({"type": "object"}),
        request({"type": "object", "maxProperties": 3}),
        {("request-body-max-properties-set", B)},
        {("request-body-max-properties-unset", N)},
    ),
    case(
        "response min properties decreased",
        response({"type": "object", "minProperties": 2}),
        response({"type": "object", "minProperties": 1}),
        {("response-body-min-properties-decreased", B)},
        {("response-body-min-properties-increased", N)},
    ),
    case(
        "request multipleOf coarser",
        request({"type": "number", "multipleOf": 0.01}),
        request({"type": "number", "multipleOf": 0.1}),
        {("request-body-multiple-of-narrowed", B)},
        {("request-body-multiple-of-widened", N)},
    ),
    case(
        "multipleOf unrelated",
        request({"type": "integer", "multipleOf": 2}),
        request({"type": "integer", "multipleOf": 3}),
        {("request-body-multiple-of-changed", B)},
        {("request-body-multiple-of-changed", B)},
    ),
    case(
        "request pattern set",
        request(STRING),
        request({"type": "string", "pattern": "^[A-Z]+$"}),
        {("request-body-pattern-set", B)},
        {("request-body-pattern-unset", N)},
    ),
    case(
        "response pattern changed",
        response({"type": "string", "pattern": "^a"}),
        response({"type": "string", "pattern": "^b"}),
        {("response-body-pattern-changed", B)},
        {("response-body-pattern-changed", B)},
    ),
    case(
        "request unique items set",
        request({"type": "array"}),
        request({"type": "array", "uniqueItems": True}),
        {("request-body-unique-items-set", B)},
        {("request-body-unique-items-unset", N)},
    ),
    # properties, required, additionalProperties
    case(
        "request property became required",
        request(obj({"a": STRING})),
        request(obj({"a": STRING}, ["a"])),
        {("request-body-property-became-required", B)},
        {("request-body-property-became-optional", N)},
    ),
    case(
        "response property became optional",
        response(obj({"a": STRING}, ["a"])),
        response(obj({"a": STRING})),
        {("response-body-property-became-optional", B)},
        {("response-body-property-became-required", N)},
    ),
    case(
        "new required request property",
        request(obj({})),
        request(obj({"a": STRING}, ["a"])),
        {("request-body-new-required-property", B)},
        {("request-body-property-removed", B)},
    ),
    case(
        "optional request property added (not breaking)",
        request(obj({})),
        request(obj({"a": STRING})),
        {("request-body-property-added", N)},
        {("request-body-property-removed", B)},
    ),
    case(
        "response property added (not breaking)",
        response(obj({"a": STRING}, ["a"])),
        response(obj({"a": STRING, "b": STRING}, ["a"])),
        {("response-body-property-added", N)},
        {("response-body-property-removed", B)},
    ),
    case(
        "nested property type",
        response(obj({"a": obj({"b": STRING})})),
        response(obj({"a": obj({"b": {"type": "integer"}})})),
        {("response-body-type-changed", B)},
        {("response-body-type-changed", B)},
    ),
    case(
        "request additional properties forbidden",
        request(obj({"a": STRING})),
        request(obj({"a": STRING}, additionalProperties=False)),
        {("request-body-additional-properties-forbidden", B)},
        {("request-body-additional-properties-allowed", N)},
    ),
    case(
        "response additional properties allowed",
        response(obj({}, additionalProperties=False)),
        response(obj({})),
        {("response-body-additional-properties-allowed", B)},
        {("response-body-additional-properties-forbidden", N)},
    ),
    case(
        "additional properties' schema narrowed",
        request(obj({}, additionalProperties=STRING)),
        request(obj({}, additionalProperties={"type": "string", "maxLength": 3})),
        {("request-body-max-length-set", B)},
        {("request-body-max-length-unset", N)},
    ),
    # readOnly and writeOnly
    case(
        "request property became readOnly",
        request(obj({"id": STRING})),
        request(obj({"id": {"type": "string", "readOnly": True}})),
        {("request-body-property-became-read-only", B)},
        {("request-body-property-added", N)},
    ),
    case(
        "readOnly property restricted: no request sends it",
        request(obj({"id": {"type": "string", "readOnly": True}})),
        request(obj({"id": {"type": "integer", "readOnly": True}}, ["id"])),
        set(),
        set(),
    ),
    case(
        "response property became writeOnly",
        response(obj({"pin": STRING})),
        response(obj({"pin": {"type": "string", "writeOnly": True}})),
        {("response-body-property-became-write-only", B)},
        {("response-body-property-added", N)},
    ),
    case(
        "writeOnly property removed: no answer has it",
        response(obj({"a": STRING, "pin": {"type": "string", "writeOnly": True}})),
        response(obj({"a": STRING})),
        set(),
        set(),
    ),
    # composition and references
    case(
        "renamed $ref target, same content",
        response(REF_A, schemas={"A": obj({"a": STRING}, ["a"])}),
        response({"$ref": "#/components/schemas/Renamed"}, schemas={"Renamed": obj({"a": STRING}, ["a"])}),
        set(),
        set(),
    ),
    case(
        "allOf merged into one schema is no change",
        response({"allOf": [REF_A, obj({"b": STRING})]}, schemas={"A": obj({"a": STRING}, ["a"])}),
        response(obj({"a": STRING, "b": STRING}, ["a"])),
        set(),
        set(),
    ),
    case(
        "a property removed inside allOf",
        response({"allOf": [REF_A, obj({"b": STRING})]}, schemas={"A": obj({"a": STRING}, ["a"])}),
        response({"allOf": [REF_A, obj({"b": STRING})]}, schemas={"A": obj({})}),
        {("response-body-property-removed", B)},
        {("response-body-property-added", N)},
    ),
    case(
        "response oneOf alternative added",
        response({"oneOf": [STRING, {"type": "integer"}]}),
        response({"oneOf": [STRING, {"type": "integer"}, {"type": "boolean"}]}),
        {("response-body-alternative-added", B)},
        {("response-body-alternative-removed", N)},
    ),
    case(
        "request anyOf alternative removed",
        request({"anyOf": [STRING, {"type": "integer"}]}),
        request({"anyOf": [STRING]}),
        {("request-body-alternative-removed", B)},
        {("request-body-alternative-added", N)},
    ),
    case(
        "oneOf alternatives reordered",
        response({"oneOf": [STRING, {"type": "integer"}]}),
        response({"oneOf": [{"type": "integer"}, STRING]}),
        set(),
        set(),
    ),
    case(
        "a change inside an alternative",
        request({"oneOf": [obj({"a": STRING}), {"type": "integer"}]}),
        request({"oneOf": [obj({"a": STRING}, ["a"]), {"type": "integer"}]}),
        {("request-body-property-became-required", B)},
        {("request-body-property-became-optional", N)},
    ),
    case(
        "anyOf became oneOf",
        request({"anyOf": [STRING, {"type": "integer"}]}),
        request({"oneOf": [STRING, {"type": "integer"}]}),
        {("request-body-any-of-became-one-of", B)},
        {("request-body-one-of-became-any-of", N)},
    ),
    case(
        "3.0 nullable $ref is 3.1's anyOf with null",
        response({"allOf": [REF_A], "nullable": True}, schemas={"A": obj({"a": STRING})}, openapi="3.0.3"),
        response({"anyOf": [REF_A, {"type": "null"}]}, schemas={"A": obj({"a": STRING})}),
        set(),
        set(),
    ),
    case(
        "array items changed",
        request({"type": "array", "items": STRING}),
        request({"type": "array", "items": {"type": "integer"}}),
        {("request-body-type-changed", B)},
        {("request-body-type-changed", B)},
    ),
    case(
        "recursive schema, changed deep down",
        response(
            {"$ref": "#/components/schemas/Node"},
            schemas={
                "Node": obj(
                    {"name": STRING, "kids": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}},
                    ["name"],
                )
            },
        ),
        response(
            {"$ref": "#/components/schemas/Node"},
            schemas={
                "Node": obj({"name": STRING, "kids": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}})
            },
        ),
        {("response-body-property-became-optional", B)},
        {("response-body-property-became-required", N)},
    ),
    # what is not a change
    case(
        "description and example changed (not breaking)",
        response({"type": "string", "description": "old", "example": "x"}),
        response({"type": "string", "description": "new", "example": "y"}),
        set(),
        set(),
    ),
    case(
        "request default changed",
        request(obj({"n": {"type": "integer", "default": 10}})),
        request(obj({"n": {"type": "integer", "default": 20}})),
        {("request-body-default-changed", W)},
        {("request-body-default-changed", W)},
    ),
]


def test_every_schema_keyword_named_by_the_issue_has_a_case() -> None:
    """The keywords #19 names, each exercised by at least one case's rule."""
    rules = {rule for c in SCHEMA_CASES for rule, _ in c.forward | c.backward}
    for stem in (
        "type",
        "nullable",
        "format",
        "enum",
        "minimum",
        "maximum",
        "length",
        "items",
        "properties",
        "required",
        "additional-properties",
        "read-only",
        "write-only",
        "alternative",
        "multiple-of",
        "pattern",
    ):
        assert any(stem in rule for rule in rules), stem


@pytest.mark.parametrize("case", SCHEMA_CASES, ids=lambda c: c.id)
def test_schema_rule_both_ways(case: Case) -> None:
    assert found(case.base, case.revision) == case.forward
    assert found(case.revision, case.base) == case.backward


def with_body(required: bool = True, media: str = "application/json", schema: Any = None) -> dict[str, Any]:
    return {"requestBody": {"required": required, "content": {media: {"schema": schema or obj({"a": STRING})}}}}


def answering(status: str = "200", media: str | None = "application/json", headers: Any = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": "answer"}
    if media:
        answer["content"] = {media: {"schema": obj({"a": STRING})}}
    if headers:
        answer["headers"] = headers
    return {"responses": {status: answer}}


def two_answers(*statuses: str) -> dict[str, Any]:
    return {"responses": {s: {"description": s} for s in statuses}}


def header(required: bool = False, schema: Any = None) -> dict[str, Any]:
    return {"required": required, "schema": schema or STRING}


def secured(*alternatives: dict[str, list[str]]) -> dict[str, Any]:
    return {"security": list(alternatives)}


SCHEMES = {
    "securitySchemes": {
        "Key": {"type": "apiKey", "in": "header", "name": "X-Key"},
        "Token": {"type": "http", "scheme": "bearer"},
    }
}
OTHER_KEY = {
    "securitySchemes": {
        "Key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
        "Token": {"type": "http", "scheme": "bearer"},
    }
}
ID = param("id", "path", True)

OPERATION_CASES = [
    # paths and operations
    case(
        "operation removed",
        document(
            {
                "/things": {
                    "get": {"responses": {"200": {"description": "ok"}}},
                    "post": {"responses": {"204": {"description": "ok"}}},
                }
            }
        ),
        document({"/things": {"get": {"responses": {"200": {"description": "ok"}}}}}),
        {("api-operation-removed", B)},
        {("api-operation-added", N)},
    ),
    case("path removed", operation({}), document({}), {("api-path-removed", B)}, {("api-operation-added", N)}),
    case(
        "path parameter renamed is the same operation",
        operation({"parameters": [ID]}),
        operation({"parameters": [param("thing_id", "path", True)]}, path="/things/{thing_id}"),
        set(),
        set(),
    ),
    case(
        "base path changed",
        operation({}, servers=[{"url": "https://x.example/v1"}]),
        operation({}, servers=[{"url": "https://x.example/v2"}]),
        {("api-base-path-changed", B)},
        {("api-base-path-changed", B)},
    ),
    case(
        "operationId changed",
        operation({"operationId": "a"}),
        operation({"operationId": "b"}),
        {("operation-id-changed", W)},
        {("operation-id-changed", W)},
    ),
    case("operation deprecated", operation({}), operation({"deprecated": True}), {("api-deprecated", N)}, set()),
    # parameters: path, query, header, cookie
    case(
        "optional query parameter added (not breaking)",
        operation({}),
        operation({"parameters": [param("limit")]}),
        {("new-optional-request-parameter", N)},
        {("request-parameter-removed", B)},
    ),
    case(
        "required header parameter added",
        operation({}),
        operation({"parameters": [param("X-Tenant", "header", True)]}),
        {("new-required-request-parameter", B)},
        {("request-parameter-removed", B)},
    ),
    case(
        "cookie parameter became required",
        operation({"parameters": [param("session", "cookie")]}),
        operation({"parameters": [param("session", "cookie", True)]}),
        {("request-parameter-became-required", B)},
        {("request-parameter-became-optional", N)},
    ),
    case(
        "header names match in any case",
        operation({"parameters": [param("X-Tenant", "header")]}),
        operation({"parameters": [param("x-tenant", "header")]}),
        set(),
        set(),
    ),
    case(
        "query parameter narrowed",
        operation({"parameters": [param("limit", schema={"type": "integer", "maximum": 100})]}),
        operation({"parameters": [param("limit", schema={"type": "integer", "maximum": 50})]}),
        {("request-parameter-maximum-decreased", B)},
        {("request-parameter-maximum-increased", N)},
    ),
    case(
        "path parameter type changed",
        operation({"parameters": [ID]}),
        operation({"parameters": [param("id", "path", True, {"type": "integer"})]}),
        {("request-parameter-type-changed", B)},
        {("request-parameter-type-changed", B)},
    ),
    case(
        "query parameter serialisation changed",
        operation({"parameters": [param("tags", schema={"type": "array"})]}),
        operation({"parameters": [param("tags", schema={"type": "array"}, explode=False)]}),
        {("request-parameter-serialization-changed", B)},
        {("request-parameter-serialization-changed", B)},
    ),
    case(
        "path-level parameter moved to the operation",
        document({"/t": {"parameters": [param("q")], "get": {"responses": {"200": {"description": "ok"}}}}}),
        document({"/t": {"get": {"parameters": [param("q")], "responses": {"200": {"description": "ok"}}}}}),
        set(),
        set(),
    ),
    # request bodies and media types
    case(
        "required request body added",
        operation({}, method="post"),
        operation(with_body(), method="post"),
        {("new-required-request-body", B)},
        {("request-body-removed", B)},
    ),
    case(
        "optional request body added",
        operation({}, method="post"),
        operation(with_body(False), method="post"),
        {("new-optional-request-body", N)},
        {("request-body-removed", B)},
    ),
    case(
        "request body became required",
        operation(with_body(False), method="post"),
        operation(with_body(True), method="post"),
        {("request-body-became-required", B)},
        {("request-body-became-optional", N)},
    ),
    case(
        "request media type removed",
        operation(
            {"requestBody": {"content": {"application/json": {"schema": STRING}, "text/plain": {"schema": STRING}}}},
            method="post",
        ),
        operation({"requestBody": {"content": {"application/json": {"schema": STRING}}}}, method="post"),
        {("request-body-media-type-removed", B)},
        {("request-body-media-type-added", N)},
    ),
    # responses: statuses, media types, bodies, headers
    case(
        "error status removed",
        operation(two_answers("200", "404")),
        operation(two_answers("200")),
        {("response-status-removed", B)},
        {("response-status-added", N)},
    ),
    case(
        "status removed into default",
        operation(two_answers("200", "404", "default")),
        operation(two_answers("200", "default")),
        {("response-status-removed", W)},
        {("response-status-added", N)},
    ),
    case(
        "success status added",
        operation(two_answers("200")),
        operation(two_answers("200", "202")),
        {("response-success-status-added", W)},
        {("response-status-removed", B)},
    ),
    case(
        "response media type removed",
        operation(answering()),
        operation(
            {"responses": {"200": {"description": "x", "content": {"application/xml": {"schema": obj({"a": STRING})}}}}}
        ),
        {("response-media-type-removed", B), ("response-media-type-added", N)},
        {("response-media-type-removed", B), ("response-media-type-added", N)},
    ),
    case(
        "response body removed",
        operation(answering()),
        operation(answering(media=None)),
        {("response-body-removed", B)},
        {("response-body-added", N)},
    ),
    case(
        "required response header removed",
        operation(answering(headers={"X-Rate": header(True)})),
        operation(answering()),
        {("response-header-removed", B)},
        {("response-header-added", N)},
    ),
    case(
        "optional response header removed",
        operation(answering(headers={"X-Rate": header()})),
        operation(answering()),
        {("response-optional-header-removed", W)},
        {("response-header-added", N)},
    ),
    case(
        "response header became optional",
        operation(answering(headers={"X-Rate": header(True)})),
        operation(answering(headers={"X-Rate": header(False)})),
        {("response-header-became-optional", B)},
        set(),
    ),
    case(
        "response header format changed",
        operation(answering(headers={"Date": header(schema={"type": "string", "format": "date"})})),
        operation(answering(headers={"Date": header(schema={"type": "string", "format": "date-time"})})),
        {("response-header-format-changed", B)},
        {("response-header-format-changed", B)},
    ),
    # security
    case(
        "security requirement added",
        operation({}, components=SCHEMES),
        operation(secured({"Key": []}), components=SCHEMES),
        {("security-requirement-added", B)},
        {("security-requirement-relaxed", N)},
    ),
    case(
        "an alternative credential accepted (not breaking)",
        operation(secured({"Key": []}), components=SCHEMES),
        operation(secured({"Key": []}, {"Token": []}), components=SCHEMES),
        {("security-requirement-relaxed", N)},
        {("security-requirement-added", B)},
    ),
    case(
        "a scope required",
        operation(secured({"Token": []}), components=SCHEMES),
        operation(secured({"Token": ["orders:write"]}), components=SCHEMES),
        {("security-requirement-added", B)},
        {("security-requirement-relaxed", N)},
    ),
    case(
        "security scheme's header renamed",
        operation(secured({"Key": []}), components=SCHEMES),
        operation(secured({"Key": []}), components=OTHER_KEY),
        {("security-scheme-changed", B), ("security-requirement-added", B)},
        {("security-scheme-changed", B), ("security-requirement-added", B)},
    ),
]


@pytest.mark.parametrize("case", OPERATION_CASES, ids=lambda c: c.id)
def test_operation_rule_both_ways(case: Case) -> None:
    assert found(case.base, case.revision) == case.forward
    assert found(case.revision, case.base) == case.backward
