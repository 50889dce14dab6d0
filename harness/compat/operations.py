"""Two versions of an OpenAPI document compared operation by operation.

Operations are matched by method and path template with the parameter names taken out
(`/orders/{id}` and `/orders/{order_id}` are one operation); parameters by where they are
and their name (header names in any case; path parameters by position). Everything a client
sends goes through the schema comparison as a request, everything it reads as a response.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from harness.compat.findings import BREAKING, INFO, WARNING, Comparison, Finding, field_text
from harness.compat.schemas import REQUEST, RESPONSE, Change, SchemaDiff, followed, level_of
from mocks.document import HTTP_METHODS, check_references, pointer, target, to_2020_12

Where = tuple[Any, ...]
DOCUMENT = "(document)"
_IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})  # OpenAPI: such parameters are ignored
_TEMPLATE = re.compile(r"\{[^}/]+\}")


def compare_documents(base: dict[str, Any], revision: dict[str, Any], name: str) -> Comparison:
    """Every difference between two OpenAPI 3.0/3.1 documents (read and checked), classified for clients.

    Raises:
        ContractError: a `$ref` of either document points nowhere.
    """
    base, revision = to_2020_12(base), to_2020_12(revision)
    check_references(base)
    check_references(revision)
    diff = _DocumentDiff(base, revision)
    return Comparison(name, _version(base), _version(revision), list(diff.findings()))


def _version(document: Mapping[str, Any]) -> str:
    return str((document.get("info") or {}).get("version", "?"))


def operation_key(method: str, path: str) -> tuple[str, str]:
    """How operations are matched: the method and the path with its parameter names taken out."""
    return method.upper(), _TEMPLATE.sub("{}", path)


class _DocumentDiff:
    def __init__(self, base: dict[str, Any], revision: dict[str, Any]) -> None:
        self.docs = (base, revision)
        self.schemas = SchemaDiff(base, revision)

    def findings(self) -> Iterator[Finding]:
        yield from self._base_path()
        yield from self._schemes()
        ops_b, ops_r = _operations(self.docs[0]), _operations(self.docs[1])
        paths_r = {key[1] for key in ops_r}
        for key, (path, method, _, where) in ops_b.items():
            if key not in ops_r:
                rule = "api-operation-removed" if key[1] in paths_r else "api-path-removed"
                what = "the operation" if key[1] in paths_r else "the path (and every operation under it)"
                yield Finding(rule, BREAKING, f"{method.upper()} {path}", pointer(*where), f"{what} was removed")
        for key, (path, method, _, where) in ops_r.items():
            if key not in ops_b:
                yield Finding("api-operation-added", INFO, f"{method.upper()} {path}", pointer(*where), "new operation")
        for key, found_r in ops_r.items():
            if key in ops_b:
                yield from _Operation(self, ops_b[key], found_r).findings()

    def _base_path(self) -> Iterator[Finding]:
        paths = [_server_path(doc) for doc in self.docs]
        if paths[0] != paths[1]:
            text = (
                f"the servers' base path was {paths[0] or '/'}, is now {paths[1] or '/'}: every request goes elsewhere"
            )
            yield Finding("api-base-path-changed", BREAKING, DOCUMENT, "#/servers", text)

    def _schemes(self) -> Iterator[Finding]:
        schemes_b, schemes_r = (_security_schemes(doc) for doc in self.docs)
        for name in schemes_b.keys() & schemes_r.keys():
            if _scheme_identity(schemes_b[name]) != _scheme_identity(schemes_r[name]):
                text = f"the security scheme {name} changed how credentials are sent or checked"
                where = pointer("components", "securitySchemes", name)
                yield Finding("security-scheme-changed", BREAKING, DOCUMENT, where, text, side="request")

    def same_scheme(self, name: str) -> bool:
        schemes_b, schemes_r = (_security_schemes(doc) for doc in self.docs)
        if name not in schemes_b or name not in schemes_r:
            return False
        return bool(_scheme_identity(schemes_b[name]) == _scheme_identity(schemes_r[name]))


_Found = tuple[str, str, dict[str, Any], Where]  # path, method, the path item, where the operation is


def _operations(document: Mapping[str, Any]) -> dict[tuple[str, str], _Found]:
    found: dict[tuple[str, str], _Found] = {}
    for path, item in (document.get("paths") or {}).items():
        if not isinstance(item, Mapping):
            continue
        if isinstance(item.get("$ref"), str):
            item = target(document, item["$ref"])
        for method in HTTP_METHODS:
            if isinstance(item.get(method), Mapping):
                found[operation_key(method, path)] = (path, method, dict(item), ("paths", path, method))
    return found


def _server_path(document: Mapping[str, Any]) -> str:
    servers = document.get("servers") or [{}]
    url = str(servers[0].get("url", "/"))
    if "{" in url:
        return url  # a templated server URL: compared as written
    return urlsplit(url).path.rstrip("/")


def _security_schemes(document: Mapping[str, Any]) -> dict[str, Any]:
    return dict((document.get("components") or {}).get("securitySchemes") or {})


def _scheme_identity(scheme: Any) -> Any:
    if not isinstance(scheme, Mapping):
        return scheme
    return {k: v for k, v in scheme.items() if k not in ("description", "summary")}


class _Operation:
    """One operation present in both documents."""

    def __init__(self, diff: _DocumentDiff, base: _Found, revision: _Found) -> None:
        self.diff = diff
        self.path_b, self.method, self.item_b, self.where_b = base
        self.path_r, _, self.item_r, self.where_r = revision
        self.op_b = dict(self.item_b[self.method])
        self.op_r = dict(self.item_r[self.method])
        self.name = f"{self.method.upper()} {self.path_r}"

    def finding(self, rule: str, level: str, where: Where, message: str, **place: Any) -> Finding:
        return Finding(rule, level, self.name, pointer(*where), message, **place)

    def schema_findings(
        self, prefix: str, changes: list[Change], direction: str, context: str, **place: Any
    ) -> Iterator[Finding]:
        for change in changes:
            parent = change.field[:-1] if change.whole else change.field
            inside = f" at {field_text(parent)}" if parent else ""
            yield Finding(
                f"{prefix}-{change.event}",
                level_of(change, direction),
                self.name,
                change.pointer,
                f"{context}{inside}: {change.message}",
                field=change.field,
                **place,
            )

    def findings(self) -> Iterator[Finding]:
        if self.op_b.get("operationId") != self.op_r.get("operationId"):
            text = f"the operationId was {self.op_b.get('operationId')}, is now {self.op_r.get('operationId')}"
            yield self.finding(
                "operation-id-changed",
                WARNING,
                (*self.where_r, "operationId"),
                text + " (generated clients rename their method)",
            )
        if self.op_r.get("deprecated") and not self.op_b.get("deprecated"):
            yield self.finding("api-deprecated", INFO, (*self.where_r, "deprecated"), "the operation became deprecated")
        yield from self.parameters()
        yield from self.request_body()
        yield from self.responses()
        yield from self.security()

    # parameters

    def parameters(self) -> Iterator[Finding]:
        params_b = _parameters(self.diff.docs[0], self.path_b, self.item_b, self.where_b)
        params_r = _parameters(self.diff.docs[1], self.path_r, self.item_r, self.where_r)
        for key, (param, where) in params_b.items():
            if key not in params_r:
                text = f"the {_named(param)} was removed: a client that sends it may be refused, or have it ignored"
                yield self.finding(
                    "request-parameter-removed", BREAKING, where, text, side=REQUEST, parameter=_id(param)
                )
        for key, (param, where) in params_r.items():
            if key not in params_b:
                if param.get("required"):
                    text = f"the {_named(param)} is new and required: a request without it is refused"
                    yield self.finding(
                        "new-required-request-parameter", BREAKING, where, text, side=REQUEST, parameter=_id(param)
                    )
                else:
                    text = f"the {_named(param)} was added (optional)"
                    yield self.finding(
                        "new-optional-request-parameter", INFO, where, text, side=REQUEST, parameter=_id(param)
                    )
        for key in params_b.keys() & params_r.keys():
            yield from self.parameter(params_b[key], params_r[key])

    def parameter(
        self, base: tuple[dict[str, Any], Where], revision: tuple[dict[str, Any], Where]
    ) -> Iterator[Finding]:
        (pb, wb), (pr, wr) = base, revision
        place = {"side": REQUEST, "parameter": _id(pr)}
        if pr.get("required") and not pb.get("required"):
            text = f"the {_named(pr)} became required: a request without it is refused"
            yield self.finding("request-parameter-became-required", BREAKING, (*wr, "required"), text, **place)
        elif pb.get("required") and not pr.get("required"):
            yield self.finding(
                "request-parameter-became-optional", INFO, wr, f"the {_named(pr)} became optional", **place
            )
        if _serialization(pb) != _serialization(pr):
            text = f"the {_named(pr)} is serialised differently (style, explode): what a client sends reads otherwise"
            yield self.finding("request-parameter-serialization-changed", BREAKING, wr, text, **place)
        if pr.get("deprecated") and not pb.get("deprecated"):
            yield self.finding(
                "request-parameter-deprecated",
                INFO,
                (*wr, "deprecated"),
                f"the {_named(pr)} became deprecated",
                **place,
            )
        (sb, at_b), (sr, at_r) = _parameter_schema(pb, wb), _parameter_schema(pr, wr)
        changes = self.diff.schemas.compare(sb, sr, at_b, at_r, REQUEST)
        yield from self.schema_findings("request-parameter", changes, REQUEST, f"the {_named(pr)}", **place)

    # the request body

    def request_body(self) -> Iterator[Finding]:
        body_b, wb = _resolved(self.diff.docs[0], self.op_b.get("requestBody"), (*self.where_b, "requestBody"))
        body_r, wr = _resolved(self.diff.docs[1], self.op_r.get("requestBody"), (*self.where_r, "requestBody"))
        place = {"side": REQUEST}
        if body_b is None and body_r is None:
            return
        if body_b is None:
            assert body_r is not None
            if body_r.get("required"):
                yield self.finding("new-required-request-body", BREAKING, wr, "a request body is now required", **place)
            else:
                yield self.finding("new-optional-request-body", INFO, wr, "an optional request body was added", **place)
            return
        if body_r is None:
            text = "the request body was removed: a client that sends one may be refused, or have it ignored"
            yield self.finding("request-body-removed", BREAKING, wb, text, **place)
            return
        if body_r.get("required") and not body_b.get("required"):
            yield self.finding(
                "request-body-became-required", BREAKING, (*wr, "required"), "the request body became required", **place
            )
        elif body_b.get("required") and not body_r.get("required"):
            yield self.finding("request-body-became-optional", INFO, wr, "the request body became optional", **place)
        removed = "the request media type {media} was removed: a client sending it is refused (415)"
        yield from self.contents(
            (body_b, wb),
            (body_r, wr),
            REQUEST,
            media_rule="request-body-media-type",
            removed=removed,
            added="the request media type {media} was added",
            context="the request body",
            **place,
        )

    def contents(
        self,
        base: tuple[Mapping[str, Any], Where],
        revision: tuple[Mapping[str, Any], Where],
        direction: str,
        *,
        media_rule: str,
        removed: str,
        added: str,
        context: str,
        **place: Any,
    ) -> Iterator[Finding]:
        """A request body's or a response's media types (removed, added) and each common one's schema."""
        (holder_b, wb), (holder_r, wr) = base, revision
        media_b, media_r = _media(holder_b), _media(holder_r)
        for media in media_b.keys() - media_r.keys():
            where = (*wb, "content", media_b[media][0])
            yield self.finding(
                f"{media_rule}-removed", BREAKING, where, removed.format(media=media), media=media, **place
            )
        for media in media_r.keys() - media_b.keys():
            where = (*wr, "content", media_r[media][0])
            yield self.finding(f"{media_rule}-added", INFO, where, added.format(media=media), media=media, **place)
        for media in sorted(media_b.keys() & media_r.keys()):
            (key_b, spec_b), (key_r, spec_r) = media_b[media], media_r[media]
            changes = self.diff.schemas.compare(
                spec_b.get("schema", {}),
                spec_r.get("schema", {}),
                (*wb, "content", key_b, "schema"),
                (*wr, "content", key_r, "schema"),
                direction,
            )
            prefix = "request-body" if direction == REQUEST else "response-body"
            yield from self.schema_findings(prefix, changes, direction, context, media=media, **place)

    # responses

    def responses(self) -> Iterator[Finding]:
        codes_b = {_status(k): k for k in self.op_b.get("responses") or {}}
        codes_r = {_status(k): k for k in self.op_r.get("responses") or {}}
        for status in codes_b.keys() - codes_r.keys():
            where = (*self.where_b, "responses", codes_b[status])
            cover = next((c for c in (f"{status[0]}XX", "default") if c in codes_r and c != status), None)
            if cover:
                text = f"the {status} response was removed: it now falls under {cover}"
                yield self.finding("response-status-removed", WARNING, where, text, side=RESPONSE, status=status)
            else:
                text = f"the {status} response was removed: a client that relies on it may get an undocumented answer"
                yield self.finding("response-status-removed", BREAKING, where, text, side=RESPONSE, status=status)
        for status in codes_r.keys() - codes_b.keys():
            where = (*self.where_r, "responses", codes_r[status])
            if status.startswith("2"):
                text = f"a {status} response was added: a client may not expect this success"
                yield self.finding("response-success-status-added", WARNING, where, text, side=RESPONSE, status=status)
            else:
                yield self.finding(
                    "response-status-added", INFO, where, f"a {status} response was added", side=RESPONSE, status=status
                )
        for status in sorted(codes_b.keys() & codes_r.keys()):
            yield from self.response(status, codes_b[status], codes_r[status])

    def response(self, status: str, code_b: str, code_r: str) -> Iterator[Finding]:
        resp_b, wb = _resolved(self.diff.docs[0], self.op_b["responses"][code_b], (*self.where_b, "responses", code_b))
        resp_r, wr = _resolved(self.diff.docs[1], self.op_r["responses"][code_r], (*self.where_r, "responses", code_r))
        resp_b, resp_r = resp_b or {}, resp_r or {}
        place = {"side": RESPONSE, "status": status}
        media_b, media_r = _media(resp_b), _media(resp_r)
        if media_b and not media_r:
            yield self.finding(
                "response-body-removed", BREAKING, wb, f"the {status} response no longer has a body", **place
            )
        elif media_r and not media_b:
            yield self.finding("response-body-added", INFO, wr, f"the {status} response now has a body", **place)
        else:
            yield from self.contents(
                (resp_b, wb),
                (resp_r, wr),
                RESPONSE,
                media_rule="response-media-type",
                removed=f"the {status} response's media type {{media}} was removed: a client asking for it gets"
                " another",
                added=f"the {status} response's media type {{media}} was added",
                context=f"the {status} response body",
                **place,
            )
        yield from self.headers(resp_b, resp_r, wb, wr, status)

    def headers(
        self, resp_b: Mapping[str, Any], resp_r: Mapping[str, Any], wb: Where, wr: Where, status: str
    ) -> Iterator[Finding]:
        heads_b = _headers(self.diff.docs[0], resp_b, wb)
        heads_r = _headers(self.diff.docs[1], resp_r, wr)
        place = {"side": RESPONSE, "status": status}
        for name in heads_b.keys() - heads_r.keys():
            header, where = heads_b[name]
            if header.get("required"):
                text = (
                    f"the {status} response's required header {name} was removed: a client that reads it gets nothing"
                )
                yield self.finding(
                    "response-header-removed", BREAKING, where, text, parameter=("header", name), **place
                )
            else:
                text = f"the {status} response's optional header {name} was removed"
                yield self.finding(
                    "response-optional-header-removed", WARNING, where, text, parameter=("header", name), **place
                )
        for name in heads_r.keys() - heads_b.keys():
            where = heads_r[name][1]
            yield self.finding(
                "response-header-added",
                INFO,
                where,
                f"the {status} response has a new header {name}",
                parameter=("header", name),
                **place,
            )
        for name in sorted(heads_b.keys() & heads_r.keys()):
            (hb, at_b), (hr, at_r) = heads_b[name], heads_r[name]
            if hb.get("required") and not hr.get("required"):
                text = f"the {status} response's header {name} is no longer required: an answer may come without it"
                yield self.finding(
                    "response-header-became-optional", BREAKING, at_r, text, parameter=("header", name), **place
                )
            (sb, wsb), (sr, wsr) = _parameter_schema(hb, at_b), _parameter_schema(hr, at_r)
            changes = self.diff.schemas.compare(sb, sr, wsb, wsr, RESPONSE)
            context = f"the {status} response's header {name}"
            yield from self.schema_findings(
                "response-header", changes, RESPONSE, context, parameter=("header", name), **place
            )

    # security

    def security(self) -> Iterator[Finding]:
        alts_b = _requirements(self.diff.docs[0], self.op_b)
        alts_r = _requirements(self.diff.docs[1], self.op_r)
        where = (*self.where_r, "security") if "security" in self.op_r else ("security",)
        for alt in alts_b:
            if not any(self._satisfies(alt, needed) for needed in alts_r):
                needed = _shown_requirements(alts_r)
                text = f"a client authenticating with {_shown_alternative(alt)} is now refused: it needs {needed}"
                yield self.finding("security-requirement-added", BREAKING, where, text, side=REQUEST)
                return
        if any(not any(self._satisfies(alt, needed) for needed in alts_b) for alt in alts_r):
            text = f"the operation now also accepts {_shown_requirements(alts_r)}"
            yield self.finding("security-requirement-relaxed", INFO, where, text, side=REQUEST)

    def _satisfies(self, offered: Mapping[str, list[str]], needed: Mapping[str, list[str]]) -> bool:
        """Whether a client sending `offered` (a base alternative) meets `needed` (a revision's)."""
        return all(
            name in offered and set(scopes) <= set(offered[name]) and self.diff.same_scheme(name)
            for name, scopes in needed.items()
        )


def _parameters(
    document: Mapping[str, Any], path: str, item: Mapping[str, Any], where: Where
) -> dict[tuple[str, str], tuple[dict[str, Any], Where]]:
    """The operation's parameters (the path item's, overridden by the operation's), by their key."""
    names = [name.strip("{}") for name in _TEMPLATE.findall(path)]
    found: dict[tuple[str, str], tuple[dict[str, Any], Where]] = {}
    for params, at in (
        (item.get("parameters") or [], (*where[:-1], "parameters")),
        (item[where[-1]].get("parameters") or [], (*where, "parameters")),
    ):
        for i, raw in enumerate(params):
            param, place = _resolved(document, raw, (*at, i))
            if not param or "name" not in param:
                continue
            location, name = str(param.get("in")), str(param["name"])
            if location == "header" and name.lower() in _IGNORED_HEADERS:
                continue
            key = (location, name.lower() if location == "header" else name)
            if location == "path" and name in names:
                key = ("path", str(names.index(name)))
            found[key] = (param, place)
    return found


def _resolved(document: Mapping[str, Any], node: Any, where: Where) -> tuple[dict[str, Any] | None, Where]:
    node, where = followed(document, node, where)
    return (dict(node) if isinstance(node, Mapping) else None), where


def _parameter_schema(param: Mapping[str, Any], where: Where) -> tuple[Any, Where]:
    if "schema" in param:
        return param["schema"], (*where, "schema")
    for media, spec in (param.get("content") or {}).items():
        return (spec or {}).get("schema", {}), (*where, "content", media, "schema")
    return {}, where


def _serialization(param: Mapping[str, Any]) -> tuple[str, bool]:
    style = param.get("style") or ("form" if param.get("in") in ("query", "cookie") else "simple")
    return str(style), bool(param.get("explode", style == "form"))


def _named(param: Mapping[str, Any]) -> str:
    return f"{param.get('in')} parameter `{param.get('name')}`"


def _id(param: Mapping[str, Any]) -> tuple[str, str]:
    return str(param.get("in")), str(param.get("name"))


def _media(holder: Mapping[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        key.lower().split(";")[0].strip(): (key, dict(spec or {}))
        for key, spec in (holder.get("content") or {}).items()
    }


def _status(code: Any) -> str:
    text = str(code)
    return text if text == "default" else text.upper()  # `2xx` is `2XX`


def _headers(
    document: Mapping[str, Any], response: Mapping[str, Any], where: Where
) -> dict[str, tuple[dict[str, Any], Where]]:
    found = {}
    for name, raw in (response.get("headers") or {}).items():
        if name.lower() == "content-type":
            continue  # OpenAPI: ignored (the media type says it)
        header, at = _resolved(document, raw, (*where, "headers", name))
        if header is not None:
            found[name.lower()] = (header, at)
    return found


def _requirements(document: Mapping[str, Any], op: Mapping[str, Any]) -> list[dict[str, list[str]]]:
    raw = op["security"] if "security" in op else document.get("security") or []
    alternatives = [dict(alt) for alt in raw if isinstance(alt, Mapping)]
    return alternatives or [{}]


def _shown_alternative(alternative: Mapping[str, list[str]]) -> str:
    if not alternative:
        return "no credentials"
    return " + ".join(
        f"{name}{'(' + ', '.join(scopes) + ')' if scopes else ''}" for name, scopes in sorted(alternative.items())
    )


def _shown_requirements(alternatives: list[dict[str, list[str]]]) -> str:
    return " or ".join(_shown_alternative(alt) for alt in alternatives)
