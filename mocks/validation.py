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
from typing import Any
from urllib.parse import parse_qsl

import orjson

from mocks.contract import Operation, Parameter
from mocks.errors import RequestRejected, Violation

_INTEGER = re.compile(r"-?[0-9]{1,30}")
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
    _check_credentials(operation, headers)
    violations: list[Violation] = []
    query_pairs = parse_qsl(query_string, keep_blank_values=True) if query_string else []
    values: dict[str, dict[str, Any]] = {"path": {}, "query": {}, "header": {}}
    for param in operation.parameters:
        raw = _raw_value(param, path_params, query_pairs, headers, violations)
        if raw is None:
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


def _check_credentials(operation: Operation, headers: Mapping[str, str]) -> None:
    if not operation.security:
        return
    problems_by_alternative = [
        [p for p in (credential.problem(headers) for credential in alternative) if p]
        for alternative in operation.security
    ]
    if any(not problems for problems in problems_by_alternative):
        return
    fewest = min(problems_by_alternative, key=len)
    raise RequestRejected(401, "unauthorized", "invalid credentials: " + "; ".join(fewest))


def _raw_value(
    param: Parameter,
    path_params: Mapping[str, str],
    query_pairs: list[tuple[str, str]],
    headers: Mapping[str, str],
    violations: list[Violation],
) -> str | None:
    if param.location == "path":
        return path_params[param.name]
    if param.location == "header":
        value = headers.get(param.wire_name)
    else:
        found = [v for k, v in query_pairs if k == param.name]
        if len(found) > 1:
            violations.append(Violation("query", param.name, "given more than once"))
            return None
        value = found[0] if found else None
    if value is None and param.required:
        violations.append(Violation(param.location, param.name, "is required"))
    return value


class _Invalid:
    pass


_INVALID = _Invalid()


def _convert(param: Parameter, raw: str, violations: list[Violation]) -> Any:
    kind = param.scalar_type  # None, "integer", "number" or "boolean" (contract._scalar_type)
    if kind is None:
        return raw
    if kind == "integer":
        if _INTEGER.fullmatch(raw):
            return int(raw)
        reason = "is not an integer"
    elif kind == "number":
        number = _finite(raw)
        if number is not None:
            return number
        reason = "is not a finite number"
    else:
        if raw in ("true", "false"):
            return raw == "true"
        reason = "is not true or false"
    violations.append(Violation(param.location, param.name, f"{_clip(raw)!r} {reason}"))
    return _INVALID


def _finite(raw: str) -> float | None:
    try:
        number = float(raw)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _parse_body(operation: Operation, headers: Mapping[str, str], raw_body: bytes, violations: list[Violation]) -> Any:
    if operation.body_validator is None:
        return None
    if not raw_body:
        if operation.body_required:
            violations.append(Violation("body", "", "a JSON request body is required"))
        return None
    content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise RequestRejected(
            415,
            "unsupported_media_type",
            f"content type {content_type or '(none)'!r} is not accepted; use application/json",
        )
    try:
        body = orjson.loads(raw_body)
    except orjson.JSONDecodeError as exc:
        raise RequestRejected(400, "bad_request", f"request body is not valid JSON: {exc}") from exc
    violations.extend(_schema_violations(operation.body_validator, body, "body", ""))
    return body


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
