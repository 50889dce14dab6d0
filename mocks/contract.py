"""Load an OpenAPI 3.1 contract and compile what the engine needs from it, once.

A `Contract` holds one `Operation` per (method, path) with its compiled validators, so
no schema is compiled per request. Loading fails with `ContractError`, naming the file
and the problem, when the file is not YAML, not a valid OpenAPI 3.1 document, or uses
a feature the engine does not serve.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema_rs
import yaml
from openapi_spec_validator import validate as validate_spec
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from referencing.exceptions import Unresolvable

from mocks.errors import ContractError

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
_PARAM = re.compile(r"\{([^{}/]+)\}")


@dataclass(frozen=True)
class Parameter:
    """A path, query or header parameter with its compiled schema."""

    name: str
    location: str  # path | query | header
    required: bool
    schema: Mapping[str, Any]
    validator: Any
    scalar_type: str | None  # the JSON type strings are converted to before validation

    @property
    def wire_name(self) -> str:
        """The key the engine looks the parameter up by (headers are case-insensitive)."""
        return self.name.lower() if self.location == "header" else self.name


@dataclass(frozen=True)
class Credential:
    """A credential header a security scheme requires, with the form (`x-pattern`) it must have."""

    header: str
    pattern: re.Pattern[str] | None
    bearer: bool = False

    def problem(self, headers: Mapping[str, str]) -> str | None:
        """Why the request's value is not acceptable, or None when it is."""
        value = headers.get(self.header.lower())
        if not value:
            return f"{self.header} is missing"
        if self.bearer:
            scheme, _, value = value.partition(" ")
            if scheme.lower() != "bearer" or not value:
                return f"{self.header} is not a Bearer token"
        if self.pattern is not None and not self.pattern.fullmatch(value):
            return f"{self.header} is malformed"
        return None


@dataclass(frozen=True)
class ResponseSpec:
    """One documented response of an operation: status, media type, schema and example."""

    status: int
    media_type: str | None
    schema: Mapping[str, Any] | None
    validator: Any
    example: Any
    has_example: bool


@dataclass
class Operation:
    """One contract operation, ready to serve."""

    operation_id: str
    method: str  # upper case
    path: str  # the template, e.g. /strategies/{strategy_id}/validate
    parameters: tuple[Parameter, ...]
    body_required: bool
    body_validator: Any
    responses: dict[int, ResponseSpec]
    security: tuple[tuple[Credential, ...], ...]  # alternatives, each the credentials it needs
    spec: Mapping[str, Any] = field(repr=False)

    @property
    def success(self) -> ResponseSpec:
        """The lowest 2xx response: what the operation answers when all is well."""
        codes = sorted(code for code in self.responses if 200 <= code < 300)
        if not codes:
            raise ContractError(f"operation {self.operation_id} documents no 2xx response")
        return self.responses[codes[0]]


@dataclass
class Contract:
    """A loaded contract: its document, operations and a route table."""

    path: Path
    document: dict[str, Any]
    operations: dict[str, Operation]  # by operationId

    @property
    def title(self) -> str:
        """The contract's `info.title`."""
        return str(self.document["info"]["title"])


def load_contract(path: str | Path) -> Contract:
    """Read, validate and compile a contract file.

    Raises:
        ContractError: naming the file and what is wrong with it.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractError(f"{path}: cannot read the contract: {exc}") from exc
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ContractError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise ContractError(f"{path}: a contract must be a YAML mapping, got {type(document).__name__}")
    if not str(document.get("openapi", "")).startswith("3.1"):
        raise ContractError(f"{path}: only OpenAPI 3.1 is served (openapi: {document.get('openapi')!r})")
    try:
        validate_spec(document)
    except OpenAPIValidationError as exc:
        where = "/".join(str(part) for part in exc.path) or "(document root)"
        raise ContractError(f"{path}: not a valid OpenAPI 3.1 document at {where}: {exc.message}") from exc
    except Unresolvable as exc:
        raise ContractError(f"{path}: reference {exc.ref!r} points nowhere") from exc
    return Contract(path=path, document=document, operations=_compile_operations(path, document))


def _compile_operations(path: Path, document: dict[str, Any]) -> dict[str, Operation]:
    compiler = _Compiler(document)
    operations: dict[str, Operation] = {}
    for template, item in (document.get("paths") or {}).items():
        for method in HTTP_METHODS:
            spec = item.get(method)
            if spec is None:
                continue
            op_id = spec.get("operationId")
            if not op_id:
                raise ContractError(f"{path}: {method.upper()} {template} has no operationId")
            if op_id in operations:
                raise ContractError(f"{path}: operationId {op_id} is used twice")
            source = _Source(op_id, method, template, spec, item.get("parameters", []))
            try:
                operations[op_id] = compiler.operation(source)
            except ContractError as exc:
                raise ContractError(f"{path}: {exc}") from exc
            except (ValueError, jsonschema_rs.ReferencingError) as exc:
                raise ContractError(f"{path}: {op_id}: cannot compile a schema: {exc}") from exc
    return operations


@dataclass(frozen=True)
class _Source:
    """One operation as the document has it: its id, method, path template, object and the path's parameters."""

    op_id: str
    method: str
    template: str
    spec: Mapping[str, Any]
    shared: list[Any]


class _Compiler:
    """Compiles the operations of one document: parameters, request body, responses, security."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._document = document
        self._components = document.get("components", {})
        self._resolver = _Resolver(document)

    def operation(self, source: _Source) -> Operation:
        body_required, body_validator = self._body(source)
        return Operation(
            operation_id=source.op_id,
            method=source.method.upper(),
            path=source.template,
            parameters=self._parameters(source),
            body_required=body_required,
            body_validator=body_validator,
            responses=self._responses(source),
            security=self._security(source.spec),
            spec=source.spec,
        )

    def _parameters(self, source: _Source) -> tuple[Parameter, ...]:
        by_key: dict[tuple[str, str], Mapping[str, Any]] = {}
        for raw in [*source.shared, *source.spec.get("parameters", [])]:
            param = self._resolver.resolve(raw)
            by_key[(param["in"], param["name"])] = param  # operation-level wins
        parameters = []
        for (location, name), param in by_key.items():
            if location not in ("path", "query", "header"):
                raise ContractError(f"{source.op_id}: parameters in {location} are not served")
            schema = param.get("schema", {})
            parameters.append(
                Parameter(
                    name=name,
                    location=location,
                    required=bool(param.get("required", location == "path")),
                    schema=schema,
                    validator=compile_schema(schema, self._components),
                    scalar_type=_scalar_type(self._resolver.resolve(schema)),
                )
            )
        declared = {p.name for p in parameters if p.location == "path"}
        in_template = set(_PARAM.findall(source.template))
        if declared != in_template:
            raise ContractError(
                f"{source.op_id}: path parameters {sorted(in_template)} are declared as {sorted(declared)}"
            )
        return tuple(parameters)

    def _body(self, source: _Source) -> tuple[bool, Any]:
        if "requestBody" not in source.spec:
            return False, None
        request_body = self._resolver.resolve(source.spec["requestBody"])
        content = request_body.get("content", {})
        if list(content) != ["application/json"]:
            raise ContractError(f"{source.op_id}: only application/json request bodies are served")
        validator = compile_schema(content["application/json"].get("schema", {}), self._components)
        return bool(request_body.get("required", False)), validator

    def _responses(self, source: _Source) -> dict[int, ResponseSpec]:
        responses: dict[int, ResponseSpec] = {}
        for code, raw in source.spec.get("responses", {}).items():
            if not str(code).isdigit():
                raise ContractError(f"{source.op_id}: response {code}: only numeric status codes are served")
            content = self._resolver.resolve(raw).get("content", {})
            media = next(iter(content), None)
            media_spec = content.get(media, {}) if media else {}
            schema = media_spec.get("schema")
            example, has_example = _example_of(media_spec, self._resolver)
            responses[int(code)] = ResponseSpec(
                status=int(code),
                media_type=media,
                schema=schema,
                validator=compile_schema(schema, self._components) if schema is not None else None,
                example=example,
                has_example=has_example,
            )
        return responses

    def _security(self, spec: Mapping[str, Any]) -> tuple[tuple[Credential, ...], ...]:
        requirements = spec.get("security", self._document.get("security", []))
        schemes = self._components.get("securitySchemes", {})
        alternatives = (tuple(_credential(schemes[name]) for name in requirement) for requirement in requirements)
        return tuple(alt for alt in alternatives if alt)


def compile_schema(schema: Mapping[str, Any], components: Mapping[str, Any]) -> Any:
    """Compile a schema whose `#/components/...` references resolve against `components`."""
    return jsonschema_rs.validator_for(
        {**schema, "components": components},
        validate_formats=True,
        base_uri="urn:contract",
    )


def _credential(scheme: Mapping[str, Any]) -> Credential:
    raw = scheme.get("x-pattern")
    pattern = re.compile(raw) if raw else None
    if scheme.get("type") == "http" and scheme.get("scheme", "").lower() == "bearer":
        return Credential("Authorization", pattern, bearer=True)
    if scheme.get("type") == "apiKey" and scheme.get("in") == "header":
        return Credential(str(scheme["name"]), pattern)
    raise ContractError(f"security scheme {scheme} is not served (header API keys and HTTP bearer are)")


def _scalar_type(schema: Mapping[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return kind if kind in ("integer", "number", "boolean") else None


def _example_of(media_spec: Mapping[str, Any], resolver: _Resolver) -> tuple[Any, bool]:
    if "example" in media_spec:
        return media_spec["example"], True
    examples = media_spec.get("examples") or {}
    for raw in examples.values():
        example = resolver.resolve(raw)
        if "value" in example:
            return example["value"], True
    return None, False


class _Resolver:
    """Follows local `$ref`s of a document (the contracts are self-contained)."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._document = document

    def resolve(self, node: Any) -> Any:
        seen = set()
        while isinstance(node, Mapping) and "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#/"):
                raise ContractError(f"only local references are served, got {ref!r}")
            if ref in seen:
                raise ContractError(f"reference cycle at {ref}")
            seen.add(ref)
            target: Any = self._document
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, Mapping) or part not in target:
                    raise ContractError(f"reference {ref} points nowhere")
                target = target[part]
            node = target
        return node
