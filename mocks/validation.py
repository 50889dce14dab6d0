"""Check one request against its operation and turn it into a `MockRequest`.

Every problem is collected as a `Violation` and answered in one 422 (or 400 for a body
that cannot be read, 401 for missing credentials, 415 for a body that is not JSON), so
a caller sees all that is wrong at once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qsl

import orjson

from mocks.contract import BodySpec, Operation, Parameter, is_json_media
from mocks.errors import RequestRejected, Violation

_INTEGER = re.compile(r"-?[0-9]{1,1000}")  # JSON Schema integers have no size; the text has one
_MAX_REASON = 300


@dataclass(frozen=True)
class MockRequest:
    """A request that passed validation, with its parameters converted to their types."""

    operation: Operation
    path_params: dict[str, Any]
    query: dict[str, Any]
    headers: Mapping[str, str]  # lower-case names
    body: Any  # the parsed JSON body, None when there is none
    raw_body: bytes

    @property
    def operation_id(self) -> str:
        """The operation's operationId."""
        return self.operation.operation_id


def parse_request(
    operation: Operation,
    path_params: Mapping[str, str],
    query_string: str,
    headers: Mapping[str, str],
    raw_body: bytes,
) -> MockRequest:
    """Validate a request; raise `RequestRejected` naming every problem found."""
    query_pairs = parse_qsl(query_string, keep_blank_values=True) if query_string else []
    cookies = _cookies(headers.get("cookie", ""))
    _check_credentials(operation, headers, query_pairs, cookies)
    violations: list[Violation] = []
    values: dict[str, dict[str, Any]] = {"path": {}, "query": {}, "header": {}, "cookie": {}}
    for param in operation.parameters:
        raw = _raw_value(param, path_params, query_pairs, headers, cookies, violations)
        if raw is None or (raw == "" and param.allow_empty):
            continue
        value = _convert(param, raw, violations)
        if value is _INVALID:
            continue
        violations.extend(_schema_violations(param.validator, value, param.location, param.name))
        values[param.location][param.name] = value

    body = _parse_body(operation, headers, raw_body, violations)
    if violations:
        raise RequestRejected(422, "validation_failed", "the request does not match the contract", tuple(violations))
    return MockRequest(
        operation=operation,
        path_params=values["path"],
        query=values["query"],
        headers=headers,
        body=body,
        raw_body=raw_body,
    )


def _cookies(header: str) -> dict[str, str]:
    found = {}
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name:
            found[name] = value
    return found


def _check_credentials(
    operation: Operation, headers: Mapping[str, str], query_pairs: list[tuple[str, str]], cookies: Mapping[str, str]
) -> None:
    if not operation.security:
        return
    query = dict(query_pairs)
    problems_by_alternative = [
        [p for p in (credential.problem(headers, query, cookies) for credential in alternative) if p]
        for alternative in operation.security
    ]
    if any(not problems for problems in problems_by_alternative):
        return
    fewest = min(problems_by_alternative, key=len)
    raise RequestRejected(401, "unauthorized", "invalid credentials: " + "; ".join(fewest))


Raw = str | list[str] | dict[str, str]


def _raw_value(
    param: Parameter,
    path_params: Mapping[str, str],
    query_pairs: list[tuple[str, str]],
    headers: Mapping[str, str],
    cookies: Mapping[str, str],
    violations: list[Violation],
) -> Raw | None:
    """The parameter's text as the request has it: one string, the strings of an array, or an object's."""
    if param.location == "path":
        value: str | None = path_params[param.name]
    elif param.location == "header":
        value = headers.get(param.wire_name)
    elif param.location == "cookie":
        value = cookies.get(param.name)
    else:
        return _query_value(param, query_pairs, violations)
    if value is None:
        if param.required:
            violations.append(Violation(param.location, param.name, "is required"))
        return None
    return _split(param, value)


def _query_value(param: Parameter, pairs: list[tuple[str, str]], violations: list[Violation]) -> Raw | None:
    if param.shape == "object" and (param.style == "deepObject" or param.explode):
        if param.style == "deepObject":
            prefix = param.name + "["
            fields = {k[len(prefix) : -1]: v for k, v in pairs if k.startswith(prefix) and k.endswith("]")}
        else:
            names = set((param.schema.get("properties") or {}) if isinstance(param.schema, Mapping) else ())
            fields = {k: v for k, v in pairs if k in names}
        if not fields:
            if param.required:
                violations.append(Violation("query", param.name, "is required"))
            return None
        return fields
    found = [v for k, v in pairs if k == param.name]
    if not found:
        if param.required:
            violations.append(Violation("query", param.name, "is required"))
        return None
    if param.shape == "array" and param.explode:
        return found
    if len(found) > 1:
        violations.append(Violation("query", param.name, "given more than once"))
        return None
    return _split(param, found[0])


_DELIMITERS = {"spaceDelimited": " ", "pipeDelimited": "|"}


def _split(param: Parameter, value: str) -> Raw:
    if param.shape == "array":
        return value.split(_DELIMITERS.get(param.style, ",")) if value else []
    if param.shape == "object":
        parts = value.split(",")
        if param.explode and param.style == "simple":
            return dict(p.partition("=")[::2] for p in parts)
        return dict(zip(parts[::2], parts[1::2], strict=False))
    return value


class _Invalid:
    pass


_INVALID = _Invalid()


def _convert(param: Parameter, raw: Raw, violations: list[Violation]) -> Any:
    if param.shape == "json":
        try:
            return orjson.loads(raw if isinstance(raw, str) else "")
        except orjson.JSONDecodeError:
            violations.append(Violation(param.location, param.name, "is not valid JSON"))
            return _INVALID
    if isinstance(raw, list):
        items = [_scalar(param.scalar_type, item) for item in raw]
        bad = next((item for item, value in zip(raw, items, strict=True) if value is _INVALID), None)
        if bad is not None:
            violations.append(Violation(param.location, param.name, f"{_clip(bad)!r} {_REASONS[param.scalar_type]}"))
            return _INVALID
        return items
    if isinstance(raw, dict):
        properties = param.schema.get("properties") or {} if isinstance(param.schema, Mapping) else {}
        return {k: _coerced(properties.get(k), v) for k, v in raw.items()}
    value = _scalar(param.scalar_type, raw)
    if value is _INVALID:
        violations.append(Violation(param.location, param.name, f"{_clip(raw)!r} {_REASONS[param.scalar_type]}"))
    return value


_REASONS: dict[str | None, str] = {
    "integer": "is not an integer",
    "number": "is not a finite number",
    "boolean": "is not true or false",
}


def _scalar(kind: str | None, raw: str) -> Any:
    """`raw` as the JSON type `kind` (None: a string), or _INVALID."""
    if kind is None:
        return raw
    if kind == "integer":
        return int(raw) if _INTEGER.fullmatch(raw) else _INVALID
    if kind == "number":
        number = _finite(raw)
        return number if number is not None else _INVALID
    return raw == "true" if raw in ("true", "false") else _INVALID


def _coerced(schema: Any, raw: str) -> Any:
    """A form field or object member as its schema's scalar type, left as text when it is not one."""
    kind = schema.get("type") if isinstance(schema, Mapping) else None
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    value = _scalar(kind if kind in _REASONS else None, raw)
    return raw if value is _INVALID else value


def _finite(raw: str) -> float | None:
    try:
        number = float(raw)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _parse_body(operation: Operation, headers: Mapping[str, str], raw_body: bytes, violations: list[Violation]) -> Any:
    if not operation.bodies:
        return None
    if not raw_body:
        if operation.body_required:
            kind = "JSON " if all(is_json_media(b.media_type) for b in operation.bodies) else ""
            violations.append(Violation("body", "", f"a {kind}request body is required"))
        return None
    raw_type = headers.get("content-type", "")
    content_type = raw_type.split(";", 1)[0].strip().lower()
    spec = operation.body_for(content_type) if content_type else None
    if spec is None:
        accepted = ", ".join(b.media_type for b in operation.bodies)
        raise RequestRejected(
            415,
            "unsupported_media_type",
            f"content type {content_type or '(none)'!r} is not accepted; use {accepted}",
        )
    body = _decode(spec, content_type, raw_type, raw_body)
    if spec.validator is not None:
        violations.extend(_schema_violations(spec.validator, body, "body", ""))
    return body


def _decode(spec: BodySpec, content_type: str, raw_type: str, raw_body: bytes) -> Any:
    """The body as its validator sees it: JSON parsed, a form's fields (converted), text as text."""
    if is_json_media(content_type) or is_json_media(spec.media_type):
        try:
            return orjson.loads(raw_body)
        except orjson.JSONDecodeError as exc:
            raise RequestRejected(400, "bad_request", f"request body is not valid JSON: {exc}") from exc
    if content_type == "application/x-www-form-urlencoded":
        return _fields(spec, parse_qsl(raw_body.decode("latin-1"), keep_blank_values=True))
    if content_type == "multipart/form-data":
        return _fields(spec, _multipart(raw_type, raw_body))
    if content_type.startswith("text/"):
        return raw_body.decode("utf-8", errors="replace")
    return raw_body


def _fields(spec: BodySpec, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, text in pairs:
        schema = spec.fields.get(name)
        if isinstance(schema, Mapping) and schema.get("type") == "array":
            fields.setdefault(name, []).append(_coerced(schema.get("items"), text))
            continue
        value = _coerced(schema, text)
        if name in fields:
            previous = fields[name]
            fields[name] = [*previous, value] if isinstance(previous, list) else [previous, value]  # undocumented
        else:
            fields[name] = value
    return fields


def _multipart(raw_type: str, raw_body: bytes) -> list[tuple[str, str]]:
    message = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + raw_type.encode("latin-1") + b"\r\n\r\n" + raw_body
    )
    if message.get_boundary() is None:
        raise RequestRejected(400, "bad_request", "a multipart body needs a boundary in its Content-Type")
    if not message.is_multipart():
        return []  # no parts at all
    pairs = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            payload = part.get_payload(decode=True)
            text = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else str(payload or "")
            pairs.append((str(name), text))
    return pairs


def _schema_violations(validator: Any, value: Any, location: str, prefix: str) -> Iterable[Violation]:
    if validator.is_valid(value):
        return []
    found = []
    for error in validator.iter_errors(value):
        parts = [str(part) for part in error.instance_path]
        kind = type(error.kind).__name__
        if kind == "AdditionalProperties":  # one violation per unexpected field, named
            for name in error.kind.unexpected:
                found.append(Violation(location, _dotted(prefix, *parts, name), "is not a field of the contract"))
            continue
        if kind == "Required":
            parts.append(str(error.kind.property))
        found.append(Violation(location, _dotted(prefix, *parts), _clip(error.message, _MAX_REASON)))
    return found


def _dotted(*parts: str) -> str:
    return ".".join(p for p in parts if p)


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
