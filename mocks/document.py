"""Read an OpenAPI 3.0 or 3.1 document, check it, and bring its schemas to one dialect.

The engine compiles JSON Schema 2020-12 (the dialect of OpenAPI 3.1). A 3.0 document's
schemas are rewritten to it once, at load: `nullable` adds `null` to the `type` (or allows it
beside a schema without one), boolean `exclusiveMinimum`/`exclusiveMaximum` become numbers,
siblings of a `$ref` go (3.0 ignores them), and (in 3.1 too) `int32`/`int64` become bounds.
A request and a response see a schema differently (`readOnly` properties are not required in
a request, `writeOnly` ones not in a response): `view` makes each copy.

Every problem is a `ContractError` naming the file and the JSON pointer it is at.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import jsonschema_rs
import orjson
import yaml

from mocks import yaml_events
from mocks.errors import ContractError

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
# keywords whose value is one schema, a list of schemas, or a mapping of names to schemas
_ONE: tuple[str, ...] = ("items", "additionalProperties", "not", "contains", "if", "then", "else", "propertyNames")
_ONE += ("unevaluatedItems", "unevaluatedProperties", "additionalItems")
_MANY = ("allOf", "anyOf", "oneOf", "prefixItems")
_NAMED = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")

_SUBSCHEMAS = {**dict.fromkeys(_ONE, "one"), **dict.fromkeys(_MANY, "many"), **dict.fromkeys(_NAMED, "named")}

Schema = dict[str, Any]


def read_document(path: Path) -> dict[str, Any]:
    """The file's document (JSON or YAML), checked against the OpenAPI schema of its version."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ContractError(f"{path}: cannot read the contract: {exc}") from exc
    return parse_document(raw, str(path))


def parse_document(raw: bytes, path: str) -> dict[str, Any]:
    """The document in `raw` (JSON or YAML), checked as `read_document` does; `path` names it in errors."""
    document = _parse(path, raw)
    if not isinstance(document, dict):
        raise ContractError(f"{path}: a contract must be a YAML mapping, got {type(document).__name__}")
    version = str(document.get("openapi", document.get("swagger", "")))
    if not version.startswith(("3.0", "3.1")):
        raise ContractError(f"{path}: only OpenAPI 3.0 and 3.1 are served (openapi: {version or None!r})")
    errors = list(_meta_validator(version[:3]).iter_errors(document))
    if errors:
        first = min(errors, key=lambda e: len(e.instance_path))
        where = pointer(*first.instance_path) if first.instance_path else "# (the root)"
        raise ContractError(f"{path}: not a valid OpenAPI {version[:3]} document at {where}: {first.message}")
    return document


def _parse(path: str, raw: bytes) -> Any:
    if raw.lstrip()[:1] in (b"{", b"["):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # YAML's flow style starts so too
    try:
        loaded = yaml_events.load(raw.decode("utf-8"))
        return copied(loaded)  # JSON's data model from here on: string keys, dates as text
    except UnicodeDecodeError as exc:
        raise ContractError(f"{path}: cannot read the contract: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ContractError(f"{path}: not valid YAML: {exc}") from exc


@cache
def _meta_validator(version: str) -> Any:
    """The OpenAPI project's schema of the document format (as openapi-spec-validator ships it)."""
    resource = files("openapi_spec_validator") / "resources" / "schemas" / f"v{version}" / "schema.json"
    # formats off: its `regex` format is ECMA 262's, stricter than the patterns the engine compiles
    return jsonschema_rs.validator_for(json.loads(resource.read_text(encoding="utf-8")), validate_formats=False)


def pointer(*parts: Any) -> str:
    """A JSON pointer to `parts`, as a fragment: `#/paths/~1orders/get` (not percent-encoded: read by people)."""
    return "#" + "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def parts_of(ref: str) -> list[str]:
    """The parts of a local reference `#/a/b~1c`."""
    return [unquote(p).replace("~1", "/").replace("~0", "~") for p in ref[2:].split("/")] if ref != "#" else []


def resolve(document: Mapping[str, Any], node: Any) -> Any:
    """`node`, following local `$ref`s until it is not one.

    Raises:
        ContractError: a reference that is not local, points nowhere, or only at itself.
    """
    seen: set[str] = set()
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if ref in seen:
            raise ContractError(f"reference cycle at {ref}")
        seen.add(ref)
        node = target(document, ref)
    return node


def target(document: Mapping[str, Any], ref: str) -> Any:
    """What the local reference `ref` points at."""
    if not ref.startswith("#"):
        raise ContractError(f"only local references are served, got {ref!r}")
    node: Any = document
    for part in parts_of(ref):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            raise ContractError(f"reference {ref} points nowhere")
    return node


def copied(document: Any) -> Any:
    """A deep copy, through JSON (fast for megabytes; YAML's integer keys and dates become strings)."""
    return orjson.loads(orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS))


_REF = re.compile(rb'"\$ref":"((?:[^"\\]|\\.)*)"')


def check_references(document: Mapping[str, Any]) -> None:
    """Every `$ref` in the document is local and points at something."""
    found = set(_REF.findall(orjson.dumps(document)))
    refs = {orjson.loads(b'"' + ref + b'"') if b"\\" in ref else ref.decode() for ref in found}
    for ref in refs:
        try:
            target(document, ref)
        except ContractError as exc:
            raise ContractError(f"{exc} (at {_first_use(document, ref)})") from None


def _first_use(document: Mapping[str, Any], ref: str) -> str:
    """Where `ref` is first used (looked for only once it is known to be wrong)."""
    stack: list[tuple[tuple[Any, ...], Any]] = [((), document)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, Mapping):
            if node.get("$ref") == ref:
                return pointer(*where)
            stack.extend(((*where, k), v) for k, v in reversed(list(node.items())) if isinstance(v, (Mapping, list)))
        elif isinstance(node, list):
            stack.extend(((*where, i), v) for i, v in reversed(list(enumerate(node))))
    return "#"


def absolute_refs(document: Any, base: str) -> Any:
    """A copy whose local references start with `base` (percent-encoded, as a URI must be)."""

    def absolute(found: re.Match[bytes]) -> bytes:
        fragment = quote(unquote(found.group(1).decode()[1:]), safe="/~:@!$&'()*+,;=-._")
        return b'"$ref":"' + base.encode() + b"#" + fragment.encode() + b'"'

    raw = orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS)
    return orjson.loads(re.sub(rb'"\$ref":"(#[^"\\]*)"', absolute, raw))


def schema_places(document: Mapping[str, Any]) -> Iterator[tuple[Any, Any]]:
    """(container, key) of every schema the document holds outside other schemas."""
    components = document.get("components") or {}
    for name in components.get("schemas") or {}:
        yield components["schemas"], name
    for section in ("parameters", "headers"):
        for item in (components.get(section) or {}).values():
            yield from _schemas_of_parameter(item)
    for section in ("responses", "requestBodies"):
        for item in (components.get(section) or {}).values():
            yield from _schemas_of_content_holder(item)
    for item in (document.get("paths") or {}).values():
        if not isinstance(item, Mapping):
            continue
        for param in item.get("parameters") or []:
            yield from _schemas_of_parameter(param)
        for method in HTTP_METHODS:
            op = item.get(method)
            if not isinstance(op, Mapping):
                continue
            for param in op.get("parameters") or []:
                yield from _schemas_of_parameter(param)
            if isinstance(op.get("requestBody"), Mapping):
                yield from _schemas_of_content_holder(op["requestBody"])
            for response in (op.get("responses") or {}).values():
                yield from _schemas_of_content_holder(response)


def _schemas_of_parameter(item: Any) -> Iterator[tuple[Any, Any]]:
    if isinstance(item, Mapping):
        if "schema" in item:
            yield item, "schema"
        yield from _schemas_of_content_holder(item)


def _schemas_of_content_holder(item: Any) -> Iterator[tuple[Any, Any]]:
    if not isinstance(item, Mapping):
        return
    for media in (item.get("content") or {}).values():
        if isinstance(media, Mapping) and "schema" in media:
            yield media, "schema"
    for header in (item.get("headers") or {}).values():
        yield from _schemas_of_parameter(header)


def rewrite_schemas(document: dict[str, Any], change: Callable[[Any], Any]) -> None:
    """Apply `change` to every schema and subschema of `document`, innermost first, in place."""
    for container, key in list(schema_places(document)):
        container[key] = _rewrite(container[key], change)


def _rewrite(schema: Any, change: Callable[[Any], Any]) -> Any:
    if not isinstance(schema, dict):
        return schema
    for key, value in schema.items():  # assigning existing keys only: safe while iterating
        kind = _SUBSCHEMAS.get(key)
        if kind is None:
            continue
        if isinstance(value, dict):
            if kind == "named":
                schema[key] = {name: _rewrite(sub, change) for name, sub in value.items()}
            elif kind == "one":
                schema[key] = _rewrite(value, change)
        elif isinstance(value, list) and kind != "named":  # `items` as a list: the 2019 tuple form
            schema[key] = [_rewrite(sub, change) for sub in value]
    return change(schema)


def to_2020_12(document: dict[str, Any]) -> dict[str, Any]:
    """A copy with its schemas in JSON Schema 2020-12 (a 3.0 document's rewritten), integer formats as bounds.

    OpenAPI's `int32` and `int64` are not JSON Schema formats (a validator ignores them):
    they become the `minimum` and `maximum` they mean.
    """
    is_30 = not str(document.get("openapi", "")).startswith("3.1")
    raw = orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS)
    sized = b'"int32"' in raw or b'"int64"' in raw
    if not is_30 and not sized:
        return document
    converted: dict[str, Any] = orjson.loads(raw)

    def change(schema: Schema) -> Schema:
        schema = _integer_bounds(schema) if sized else schema
        return _schema_30_to_2020(schema) if is_30 else schema

    rewrite_schemas(converted, change)
    return converted


_INTEGER_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


def _integer_bounds(schema: Schema) -> Schema:
    bounds = _INTEGER_RANGES.get(str(schema.get("format")))
    if bounds is None:
        return schema
    low, high = bounds
    if not isinstance(schema.get("minimum"), (int, float)) or schema["minimum"] < low:
        schema["minimum"] = low
    if not isinstance(schema.get("maximum"), (int, float)) or schema["maximum"] > high:
        schema["maximum"] = high
    return schema


def _schema_30_to_2020(schema: Schema) -> Schema:
    if "$ref" in schema:
        return {"$ref": schema["$ref"]}  # 3.0: "properties alongside a $ref SHALL be ignored"
    for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        if isinstance(schema.get(exclusive), bool) and schema.pop(exclusive) and bound in schema:
            schema[exclusive] = schema.pop(bound)
    if schema.pop("nullable", False) is not True:
        return schema
    if isinstance(schema.get("type"), str):
        # 3.0.3: "adds null to the allowed types"; other keywords (an enum without null) may still refuse it
        schema["type"] = [schema["type"], "null"]
        return schema
    # no type (an allOf around a $ref, say): read as null or the schema, as schemathesis and most tools do
    return {"anyOf": [schema, {"type": "null"}]}


def view(document: dict[str, Any], hidden: str) -> dict[str, Any]:
    """A copy in which properties marked `hidden` (`readOnly` or `writeOnly`) are never required.

    A request need not send a `readOnly` property, and a response need not hold a
    `writeOnly` one: each direction compiles its own copy of the schemas.
    """
    if f'"{hidden}":true'.encode() not in orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS):
        return document  # nothing to hide: both directions share it
    seen: dict[str, Any] = copied(document)

    def drop_hidden(schema: Schema) -> Schema:
        required = schema.get("required")
        properties = schema.get("properties")
        if isinstance(required, list) and isinstance(properties, dict):
            kept = [name for name in required if not _marked(seen, properties.get(name), hidden)]
            if len(kept) != len(required):
                schema["required"] = kept
        return schema

    rewrite_schemas(seen, drop_hidden)
    return seen


def _marked(document: Mapping[str, Any], schema: Any, flag: str) -> bool:
    try:
        resolved = resolve(document, schema)
    except ContractError:
        return False  # check_references names it
    return isinstance(resolved, Mapping) and resolved.get(flag) is True
