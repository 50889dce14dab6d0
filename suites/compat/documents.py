"""Minimal OpenAPI documents for the compat rules: one operation, the part under test varied."""

from __future__ import annotations

import copy
from typing import Any

Doc = dict[str, Any]


def document(
    paths: dict[str, Any], *, schemas: dict[str, Any] | None = None, openapi: str = "3.1.0", **top: Any
) -> Doc:
    """A document with these paths (and components.schemas)."""
    doc: Doc = {"openapi": openapi, "info": {"title": "Things", "version": "1.0.0"}, "paths": paths}
    if schemas:
        doc["components"] = {"schemas": schemas}
    doc.update(copy.deepcopy(top))
    return doc


def request(schema: Any, **kw: Any) -> Doc:
    """POST /things taking `schema` as its JSON body, answering 204 with nothing."""
    op = {
        "operationId": "addThing",
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
        "responses": {"204": {"description": "added"}},
    }
    return document({"/things": {"post": op}}, **kw)


def response(schema: Any, **kw: Any) -> Doc:
    """GET /things answering 200 with `schema` as its JSON body."""
    op = {
        "operationId": "getThings",
        "responses": {"200": {"description": "the things", "content": {"application/json": {"schema": schema}}}},
    }
    return document({"/things": {"get": op}}, **kw)


def operation(op: dict[str, Any], path: str = "/things/{id}", method: str = "get", **kw: Any) -> Doc:
    """One operation as given (with an operationId and a 200 unless it has its own)."""
    full = {"operationId": "thing", "responses": {"200": {"description": "ok"}}, **op}
    return document({path: {method: full}}, **kw)


def obj(properties: dict[str, Any], required: list[str] | None = None, **more: Any) -> Doc:
    """An object schema."""
    schema: Doc = {"type": "object", "properties": properties, **more}
    if required:
        schema["required"] = required
    return schema


def param(name: str, where: str = "query", required: bool = False, schema: Any = None, **more: Any) -> Doc:
    """A parameter."""
    return {"name": name, "in": where, "required": required, "schema": schema or {"type": "string"}, **more}
