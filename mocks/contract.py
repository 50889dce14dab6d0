"""Load an OpenAPI 3.0 or 3.1 contract and compile what the engine needs from it, once.

A `Contract` holds one `Operation` per (method, path) with its compiled validators and
its answers, so nothing is compiled or generated per request. Each direction compiles its
own view of the schemas (`mocks.document.view`) against one `jsonschema_rs` registry.
A response without an example answers a value generated from its schema (deterministic
by `seed`, checked against the schema). Loading fails with `ContractError`, naming the
file, the JSON pointer and the problem, for anything the engine cannot serve.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema_rs
import orjson

from mocks.document import (
    HTTP_METHODS,
    absolute_refs,
    check_references,
    pointer,
    read_document,
    resolve,
    to_2020_12,
    view,
)
from mocks.errors import ContractError
from mocks.generate import generate_valid

_PARAM = re.compile(r"\{([^{}/]+)\}")
_RANGE = re.compile(r"[1-5]XX")


@dataclass(frozen=True)
class Parameter:
    """A path, query, header or cookie parameter with its compiled schema."""

    name: str
    location: str  # path | query | header | cookie
    required: bool
    schema: Mapping[str, Any]
    validator: Any
    scalar_type: str | None  # the JSON type strings are converted to: of the value, or of an array's items
    shape: str = "scalar"  # scalar | array | object | json (a `content` parameter: the value is JSON)
    style: str = "form"
    explode: bool = True
    allow_empty: bool = False  # `allowEmptyValue`: a query parameter given with no value is as good as absent

    @property
    def wire_name(self) -> str:
        """The key the engine looks the parameter up by (headers are case-insensitive)."""
        return self.name.lower() if self.location == "header" else self.name


@dataclass(frozen=True)
class Credential:
    """One credential a security scheme requires: where it is, and the form (`x-pattern`) it must have."""

    location: str  # header | query | cookie | tls (not checked: the handshake did)
    name: str
    pattern: re.Pattern[str] | None
    scheme: str | None = None  # for Authorization: bearer, basic, ...

    def problem(self, headers: Mapping[str, str], query: Mapping[str, str], cookies: Mapping[str, str]) -> str | None:
        """Why the request's credential is not acceptable, or None when it is."""
        if self.location == "tls":
            return None
        source = {"header": headers, "query": query, "cookie": cookies}[self.location]
        value = source.get(self.name.lower() if self.location == "header" else self.name)
        label = self.name if self.location == "header" else f"{self.location} parameter {self.name}"
        if not value:
            return f"{label} is missing"
        if self.scheme is not None:
            given, _, value = value.partition(" ")
            if given.lower() != self.scheme or not value.strip():
                return f"{label} is not a {self.scheme.capitalize()} credential"
            if self.scheme == "basic" and not _is_basic(value.strip()):
                return f"{label} is not base64 of user:password"
        if self.pattern is not None and not self.pattern.fullmatch(value):
            return f"{label} is malformed"
        return None


def _is_basic(value: str) -> bool:
    try:
        return b":" in base64.b64decode(value, validate=True)
    except ValueError:
        return False


@dataclass(frozen=True)
class ResponseSpec:
    """One documented response: its status, media type, schema, answer body and headers."""

    status: int  # what the mock answers with (a range answers its first code: 2XX is 200)
    media_type: str | None
    schema: Mapping[str, Any] | None
    validator: Any
    example: Any  # the documented example, else a generated value, else None (no body)
    has_example: bool  # documented, not generated
    examples: Mapping[str, Any] = field(default_factory=dict)  # by name: `Prefer: example=NAME`
    headers: tuple[tuple[str, str], ...] = ()  # the documented response headers, with values
    key: str = ""  # as the contract has it: "200", "2XX" or "default"

    @property
    def is_json(self) -> bool:
        """Whether the body is JSON (no media type counts as JSON: the body is empty)."""
        return self.media_type is None or is_json_media(self.media_type)


@dataclass(frozen=True)
class BodySpec:
    """A documented request body media type and its validator (None: any content)."""

    media_type: str
    validator: Any
    schema: Mapping[str, Any] | None
    fields: Mapping[str, Any] = field(default_factory=dict)  # a form's fields: their schemas, resolved


@dataclass
class Operation:
    """One contract operation, ready to serve."""

    operation_id: str
    method: str  # upper case
    path: str  # the template, e.g. /strategies/{strategy_id}/validate
    parameters: tuple[Parameter, ...]
    body_required: bool
    bodies: tuple[BodySpec, ...]  # by media type, in the contract's order
    responses: dict[int, ResponseSpec]  # the numeric ones
    security: tuple[tuple[Credential, ...], ...]  # alternatives, each the credentials it needs; () is none
    spec: Mapping[str, Any] = field(repr=False)
    ranges: dict[str, ResponseSpec] = field(default_factory=dict)  # "4XX", "default"

    @property
    def body_validator(self) -> Any:
        """The JSON body's validator (None when the operation takes no JSON body)."""
        return next((b.validator for b in self.bodies if is_json_media(b.media_type)), None)

    @property
    def success(self) -> ResponseSpec:
        """What the operation answers when all is well: the lowest 2xx (2XX, default, then a 1xx or 3xx)."""
        codes = sorted(code for code in self.responses if 200 <= code < 300)
        if codes:
            return self.responses[codes[0]]
        found = self.ranges.get("2XX") or self.ranges.get("default")
        if found is not None:
            return found
        others = sorted(code for code in self.responses if code < 400)  # a redirect, say
        if not others:
            raise ContractError(f"operation {self.operation_id} documents no response but refusals")
        return self.responses[others[0]]

    def response_for(self, status: int) -> ResponseSpec | None:
        """The documented response that covers `status`: its own, its range's, or the default."""
        return self.responses.get(status) or self.ranges.get(f"{status // 100}XX") or self.ranges.get("default")

    def body_for(self, content_type: str) -> BodySpec | None:
        """The documented request body for a content type (exact, then `type/*`, then `*/*`)."""
        wanted = content_type.lower()
        for candidate in (wanted, wanted.split("/", 1)[0] + "/*", "*/*"):
            for body in self.bodies:
                if body.media_type.lower() == candidate:
                    return body
        if is_json_media(wanted):
            return next((b for b in self.bodies if b.media_type.lower() == "application/json"), None)
        return None


def is_json_media(media_type: str) -> bool:
    """`application/json`, `application/problem+json` and the like."""
    base = media_type.split(";", 1)[0].strip().lower()
    return base == "application/json" or base.endswith("+json")


@dataclass
class Contract:
    """A loaded contract: its document and operations."""

    path: Path
    document: dict[str, Any]
    operations: dict[str, Operation]  # by operationId (or "METHOD /path" where it has none)
    warnings: list[str] = field(default_factory=list)  # served, but not as documented (a bad example)

    @property
    def title(self) -> str:
        """The contract's `info.title`."""
        return str(self.document["info"]["title"])

    @functools.cached_property
    def base_path(self) -> str:
        """The path of the first server's URL (`https://api.example.com/v1` is `/v1`), variables at their defaults."""
        servers = self.document.get("servers") or []
        if not servers or not isinstance(servers[0], Mapping):
            return ""
        url = str(servers[0].get("url", ""))
        for name, variable in (servers[0].get("variables") or {}).items():
            url = url.replace("{" + name + "}", str(variable.get("default", "")))
        return urlsplit(url).path.rstrip("/")

    def route_of(self, path: str) -> str:
        """The path below the base path (what the route table matches), when the request has it."""
        base = self.base_path
        if base and (path == base or path.startswith(base + "/")):
            return path[len(base) :] or "/"
        return path


def load_contract(path: str | Path, seed: int = 0, *, answers: bool = True) -> Contract:
    """Read, check and compile a contract file; `seed` fixes the generated answers.

    `answers=False` compiles the checks only (no value is generated where a response has no
    example): what a tool that validates traffic against the contract needs.

    Raises:
        ContractError: naming the file, where in it, and what is wrong.
    """
    path = Path(path)
    return contract_from_document(read_document(path), path, seed, answers=answers)


def contract_from_document(document: dict[str, Any], path: Path, seed: int = 0, *, answers: bool = True) -> Contract:
    """Check and compile a document already read (`read_document`); `path` names it in errors."""
    try:
        check_references(document)
        compiler = _Compiler(to_2020_12(document), seed, answers)
        operations = compiler.operations()
    except ContractError as exc:
        raise ContractError(f"{path}: {exc}") from exc
    return Contract(path=path, document=document, operations=operations, warnings=compiler.warnings)


def compile_schema(schema: Mapping[str, Any], components: Mapping[str, Any]) -> Any:
    """Compile a schema whose `#/components/...` references resolve against `components`."""
    return jsonschema_rs.validator_for(
        {**schema, "components": components},
        validate_formats=True,
        base_uri="urn:contract",
    )


@dataclass(frozen=True)
class _Source:
    """One operation as the document has it."""

    op_id: str
    method: str
    template: str
    spec: Mapping[str, Any]
    shared: list[Any]

    @property
    def where(self) -> tuple[str, ...]:
        return ("paths", self.template, self.method)


class _Schemas:
    """Every schema one direction validates, compiled against one registry of the document.

    Each schema is compiled on its own, its references resolved through the registry:
    what an operation does not reach costs nothing (a map of every subschema of a large
    contract takes seconds).
    """

    BASE = "urn:contract"

    def __init__(self, document: dict[str, Any], hidden: str, shared: _Schemas | None = None) -> None:
        self.document = view(document, hidden)
        self._registry: Any
        if shared is not None and shared.document is self.document:
            self._registry = shared._registry  # nothing was hidden: one registry serves both directions
        else:
            try:
                resource = absolute_refs(self.document, self.BASE)
                self._registry = jsonschema_rs.Registry(resources=[(self.BASE, resource)])
            except (ValueError, jsonschema_rs.ReferencingError) as exc:
                raise ContractError(f"cannot read its schemas: {exc}") from exc

    def validator(self, schema: Any) -> Any:
        """The compiled validator of one schema of the document (its references through the registry)."""
        try:
            return jsonschema_rs.validator_for(
                absolute_refs(schema, self.BASE), registry=self._registry, validate_formats=True
            )
        except (ValueError, jsonschema_rs.ReferencingError) as exc:
            raise ContractError(f"cannot compile the schema {_clip(schema)}: {exc}") from exc


def _clip(schema: Any, limit: int = 200) -> str:
    text = orjson.dumps(schema).decode()
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Compiler:
    """Compiles the operations of one (2020-12) document: parameters, bodies, responses, security."""

    def __init__(self, document: dict[str, Any], seed: int, answers: bool = True) -> None:
        self._document = document
        self._seed = seed
        self._answers = answers
        self._requests = _Schemas(document, "readOnly")
        self._responses = _Schemas(document, "writeOnly", shared=self._requests)
        self.warnings: list[str] = []

    def operations(self) -> dict[str, Operation]:
        return {source.op_id: self._finish(source, self._draft(source)) for source in self._sources()}

    def _sources(self) -> Iterator[_Source]:
        seen: dict[str, str] = {}
        for template, item in (self._document.get("paths") or {}).items():
            if not template.startswith("/"):
                continue  # an extension (x-...) beside the paths
            item = resolve(self._document, item)
            for method in HTTP_METHODS:
                spec = item.get(method)
                if spec is None:
                    continue
                where = pointer("paths", template, method)
                op_id = spec.get("operationId") or f"{method.upper()} {template}"
                if op_id in seen:
                    raise ContractError(f"operationId {op_id} at {where} is not unique (also at {seen[op_id]})")
                seen[op_id] = where
                yield _Source(op_id, method, template, spec, item.get("parameters") or [])

    def _draft(self, source: _Source) -> dict[str, Any]:
        """The operation's parts as the document has them, with their validators."""
        return {
            "parameters": self._parameters(source),
            "body": self._bodies(source),
            "responses": self._response_drafts(source),
        }

    def _finish(self, source: _Source, draft: dict[str, Any]) -> Operation:
        parameters = tuple(Parameter(validator=validator, **fields) for validator, fields in draft["parameters"])
        body_required, body_drafts = draft["body"]
        bodies = tuple(
            BodySpec(media, validator, schema, self._form_fields(media, schema))
            for media, validator, schema in body_drafts
        )
        responses: dict[int, ResponseSpec] = {}
        ranges: dict[str, ResponseSpec] = {}
        for code, fields in draft["responses"]:
            spec = self._response(source, code, fields)
            (responses if code.isdigit() else ranges)[int(code) if code.isdigit() else code] = spec  # type: ignore[index]
        return Operation(
            operation_id=source.op_id,
            method=source.method.upper(),
            path=source.template,
            parameters=parameters,
            body_required=body_required,
            bodies=bodies,
            responses=responses,
            ranges=ranges,
            security=self._security(source.spec, source.where),
            spec=source.spec,
        )

    def _parameters(self, source: _Source) -> list[tuple[Any, dict[str, Any]]]:
        by_key: dict[tuple[str, str], Mapping[str, Any]] = {}
        for raw in [*source.shared, *(source.spec.get("parameters") or [])]:
            param = resolve(self._document, raw)
            by_key[(param["in"], param["name"])] = param  # operation-level wins
        drafts = []
        for (location, name), param in by_key.items():
            schema, shape = param.get("schema"), None
            if schema is None:  # `content`: the value is a serialized media type (JSON here)
                media: Mapping[str, Any] = next(iter((param.get("content") or {}).values()), {})
                schema, shape = media.get("schema", {}), "json"
            resolved = _resolved_schema(self._document, schema)
            kind = resolved.get("type")
            kinds = [kind] if isinstance(kind, str) else list(kind or [])
            if shape is None:
                shape = "array" if "array" in kinds else "object" if "object" in kinds else "scalar"
            scalar_from = _resolved_schema(self._document, resolved.get("items", {})) if shape == "array" else resolved
            default_style = {"query": "form", "cookie": "form"}.get(location, "simple")
            style = str(param.get("style", default_style))
            fields = {
                "name": name,
                "location": location,
                "required": bool(param.get("required", location == "path")),
                "schema": schema,
                "scalar_type": _scalar_type(scalar_from),
                "shape": shape,
                "style": style,
                "explode": bool(param.get("explode", style == "form")),
                "allow_empty": bool(param.get("allowEmptyValue", False)) and location == "query",
            }
            drafts.append((self._requests.validator(schema), fields))
        declared = {fields["name"] for _, fields in drafts if fields["location"] == "path"}
        in_template = set(_PARAM.findall(source.template))
        if declared != in_template:
            raise ContractError(
                f"{source.op_id} at {pointer(*source.where)}: path parameters {sorted(in_template)}"
                f" are declared as {sorted(declared)}"
            )
        return drafts

    def _bodies(self, source: _Source) -> tuple[bool, list[tuple[str, Any, Any]]]:
        if "requestBody" not in source.spec:
            return False, []
        request_body = resolve(self._document, source.spec["requestBody"])
        drafts = []
        for media, media_spec in (request_body.get("content") or {}).items():
            schema = (media_spec or {}).get("schema")
            checked = schema is not None and (is_json_media(media) or _is_form(media) or media.startswith("text/"))
            drafts.append((media, self._requests.validator(schema) if checked else None, schema))
        return bool(request_body.get("required", False)), drafts

    def _form_fields(self, media: str, schema: Any) -> dict[str, Any]:
        """A form's fields with their schemas resolved: form text is converted by them before the check."""
        if not _is_form(media) or schema is None:
            return {}
        resolved = _resolved_schema(self._document, schema)
        parts = [resolved, *(_resolved_schema(self._document, p) for p in resolved.get("allOf") or [])]
        return {
            name: _resolved_schema(self._document, sub)
            for part in parts
            for name, sub in (part.get("properties") or {}).items()
        }

    def _response_drafts(self, source: _Source) -> list[tuple[str, dict[str, Any]]]:
        drafts = []
        for code, raw in (source.spec.get("responses") or {}).items():
            code = str(code).upper() if str(code).lower() != "default" else "default"
            where = (*source.where, "responses", code)
            if not (code.isdigit() or _RANGE.fullmatch(code) or code == "default"):
                raise ContractError(f"{source.op_id}: response {code!r} at {pointer(*where)} is not a status code")
            response = resolve(self._document, raw)
            content = response.get("content") or {}
            media = next((m for m in content if is_json_media(m)), next(iter(content), None))
            media_spec = resolve(self._document, content.get(media)) if media else {}
            schema = (media_spec or {}).get("schema")
            drafts.append(
                (
                    code,
                    {
                        "media_type": media,
                        "schema": schema,
                        "validator": self._responses.validator(schema) if schema is not None else None,
                        "media_spec": media_spec or {},
                        "headers": self._header_drafts(response.get("headers") or {}),
                        "where": (*where, "content", media) if media else where,
                    },
                )
            )
        return drafts

    def _response(self, source: _Source, code: str, fields: dict[str, Any]) -> ResponseSpec:
        validator = fields["validator"]
        where = pointer(*fields["where"])
        examples = self._examples(fields["media_spec"])
        if fields["media_type"] is not None and not is_json_media(fields["media_type"]) and validator is not None:
            validator = _TextValidator(validator) if _schema_takes_text(self._document, fields["schema"]) else None
        valid = {name: value for name, value in examples.items() if validator is None or validator.is_valid(value)}
        for name in examples.keys() - valid.keys():
            self.warnings.append(f"{source.op_id} {code}: the example {name!r} at {where} breaks its schema; not used")
        if valid:
            example, has_example = next(iter(valid.values())), True
        elif fields["schema"] is not None and self._answers:
            example = generate_valid(
                self._responses.document, fields["schema"], validator, self._seed, where + "/schema"
            )
            has_example = False
        else:
            example, has_example = None, False
        status = int(code) if code.isdigit() else 200 if code == "default" else int(code[0]) * 100
        return ResponseSpec(
            status=status,
            media_type=fields["media_type"],
            schema=fields["schema"],
            validator=validator,
            example=example,
            has_example=has_example,
            examples=valid,
            headers=self._headers(fields["headers"], where),
            key=code,
        )

    def _examples(self, media_spec: Mapping[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if "example" in media_spec:
            found["example"] = media_spec["example"]
        for name, raw in (media_spec.get("examples") or {}).items():
            example = resolve(self._document, raw)
            if isinstance(example, Mapping) and "value" in example:
                found[str(name)] = example["value"]
        return found

    def _header_drafts(self, headers: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any], Any]]:
        drafts = []
        for name, raw in headers.items():
            if name.lower() in ("content-type", "content-length", "transfer-encoding"):
                continue  # the server sets these
            header = resolve(self._document, raw)
            schema = header.get("schema") or {"type": "string"}
            drafts.append((name, header, self._responses.validator(schema)))
        return drafts

    def _headers(self, drafts: list[tuple[str, Mapping[str, Any], Any]], where: str) -> tuple[tuple[str, str], ...]:
        """Each documented response header with a value: its example, else one generated."""
        values = []
        for name, header, validator in drafts:
            if "example" in header:
                value = header["example"]
            elif not self._answers:
                continue
            else:
                schema = header.get("schema") or {"type": "string"}
                value = generate_valid(
                    self._responses.document, schema, validator, self._seed, f"{where}/headers/{name}"
                )
            values.append((name, _header_text(value)))
        return tuple(values)

    def _security(self, spec: Mapping[str, Any], where: tuple[str, ...]) -> tuple[tuple[Credential, ...], ...]:
        requirements = spec.get("security", self._document.get("security", []))
        schemes = (self._document.get("components") or {}).get("securitySchemes") or {}
        alternatives = []
        for requirement in requirements:
            if not requirement:
                return ()  # `{}`: this alternative needs nothing, so the operation needs nothing
            credentials = []
            for name in requirement:
                if name not in schemes:
                    raise ContractError(f"security scheme {name!r} at {pointer(*where, 'security')} is not defined")
                credentials.append(_credential(resolve(self._document, schemes[name]), name))
            alternatives.append(tuple(credentials))
        return tuple(alternatives)


class _TextValidator:
    """A schema check for a text body: a string schema checks the text itself."""

    def __init__(self, validator: Any) -> None:
        self._validator = validator

    def is_valid(self, value: Any) -> bool:
        return isinstance(value, str) and self._validator.is_valid(value)

    def iter_errors(self, value: Any) -> Any:
        if not isinstance(value, str):
            return iter([_Problem("a text answer must be a string")])
        return self._validator.iter_errors(value)


@dataclass(frozen=True)
class _Problem:
    message: str
    instance_path: tuple[Any, ...] = ()


def _schema_takes_text(document: Mapping[str, Any], schema: Any) -> bool:
    kind = _resolved_schema(document, schema).get("type")
    return kind == "string" or (isinstance(kind, list) and "string" in kind)


def _header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_header_text(v) for v in value)
    return str(value)


def _is_form(media: str) -> bool:
    return media.lower() in ("application/x-www-form-urlencoded", "multipart/form-data")


def _resolved_schema(document: Mapping[str, Any], schema: Any) -> Mapping[str, Any]:
    resolved = resolve(document, schema)
    return resolved if isinstance(resolved, Mapping) else {}


def _credential(scheme: Mapping[str, Any], name: str) -> Credential:
    raw = scheme.get("x-pattern")
    pattern = re.compile(raw) if raw else None
    kind = scheme.get("type")
    if kind == "http":
        return Credential("header", "Authorization", pattern, str(scheme.get("scheme", "bearer")).lower())
    if kind in ("oauth2", "openIdConnect"):
        return Credential("header", "Authorization", pattern, "bearer")
    if kind == "apiKey" and scheme.get("in") in ("header", "query", "cookie"):
        return Credential(str(scheme["in"]), str(scheme["name"]), pattern)
    if kind == "mutualTLS":
        return Credential("tls", name, None)
    raise ContractError(f"security scheme {name!r} ({kind}) is not one OpenAPI defines")


def _scalar_type(schema: Mapping[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return kind if kind in ("integer", "number", "boolean") else None
