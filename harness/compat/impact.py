"""Whom a contract revision breaks: the pact interactions it touches, and the client code behind them.

Two ways for an interaction to be hit, both reported:

- a breaking finding lands where the interaction is: its operation, a parameter it sends, a
  body field it sends or expects, a status or header it expects (`touches`);
- replayed against the revised contract with the pacts-vs-contract check
  (`harness.pact_check`), the interaction gets a finding it did not get against the base.

The client methods are found in the consumer's source: a function whose body passes the
operation's `operationId` as a string literal (`Call("validateStrategy", ...)`), and every
function of the same module that calls one of those by name.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.compat.findings import Comparison, Finding
from harness.compat.operations import DOCUMENT, operation_key
from harness.pact_check import check_pact
from mocks.contract import Contract
from mocks.errors import RequestRejected
from mocks.router import Router


@dataclass
class Hit:
    """One interaction a revision breaks, and why."""

    consumer: str
    interaction: str
    operation: str
    operation_id: str
    reasons: list[str] = field(default_factory=list)
    client_methods: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The hit as the JSON report holds it."""
        return {
            "consumer": self.consumer,
            "interaction": self.interaction,
            "operation": self.operation,
            "operation_id": self.operation_id,
            "reasons": self.reasons,
            "client_methods": self.client_methods,
        }


def pacts_of(folder: Path, provider: str) -> list[dict[str, Any]]:
    """The pacts in `folder` whose provider is `provider`."""
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            pact = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(pact, dict) and (pact.get("provider") or {}).get("name") == provider:
            found.append(pact)
    return found


SHOWN = 12  # interactions listed per consumer in the text report
RECORDED = "the suites (requests their mocks recorded)"


def recorded_pact(records: Iterable[Mapping[str, Any]], contract: str, provider: str) -> dict[str, Any]:
    """The requests recorded during the suites for `contract` (`pytest --harness-coverage`), as one pact.

    Each distinct request of each test is an interaction named by the test; its response is the
    status the mock gave (bodies are not recorded).
    """
    seen: dict[str, dict[str, Any]] = {}
    for record in records:
        request = record.get("request")
        if record.get("contract") != contract or not isinstance(request, Mapping):
            continue
        key = json.dumps([record.get("test"), request, record.get("status")], sort_keys=True, default=str)
        who = record.get("test") or "a live mock"
        description = f"{who}: {request.get('method')} {request.get('path')}"
        interaction = {"request": dict(request), "response": {"status": record.get("status")}}
        seen.setdefault(key, {"description": description, **interaction})
    return {"consumer": {"name": RECORDED}, "provider": {"name": provider}, "interactions": list(seen.values())}


def consumer_impact(
    comparison: Comparison,
    base: Contract,
    revision: Contract,
    pacts: Iterable[Mapping[str, Any]],
    clients: Mapping[str, list[str]] | None = None,
) -> list[Hit]:
    """Every interaction of `pacts` the revision breaks, in pact order."""
    breaking: dict[tuple[str, str] | None, list[Finding]] = {}
    for finding in comparison.breaking:
        key = None if finding.operation == DOCUMENT else operation_key(*finding.operation.split(" ", 1))
        breaking.setdefault(key, []).append(finding)
    router = Router(base.operations)
    hits = []
    for pact in pacts:
        consumer = str(pact["consumer"]["name"])
        replayed = _replay_findings(pact, base, revision)
        for interaction in _interactions(pact):
            name = str(interaction.get("description", "(no description)"))
            op = _operation_of(interaction, base, router)
            if op is None:
                continue  # not an operation of the base: check-openapi reports it, not a revision
            key = operation_key(op.method, op.path)
            reasons = [
                f"{f.rule}: {f.message}"
                for f in breaking.get(key, []) + breaking.get(None, [])
                if touches(f, interaction)
            ]
            reasons += [f"replayed against the revision: {r}" for r in replayed.get(name, [])]
            if reasons:
                methods = (clients or {}).get(op.operation_id, [])
                hits.append(Hit(consumer, name, f"{op.method} {op.path}", op.operation_id, reasons, methods))
    return hits


def _interactions(pact: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [i for i in pact.get("interactions", []) if i.get("type", "Synchronous/HTTP") == "Synchronous/HTTP"]


def _operation_of(interaction: Mapping[str, Any], contract: Contract, router: Router) -> Any:
    request = interaction["request"]
    try:
        return router.match(str(request["method"]).upper(), contract.route_of(str(request["path"])))[0]
    except RequestRejected:
        return None


def _replay_findings(pact: Mapping[str, Any], base: Contract, revision: Contract) -> dict[str, list[str]]:
    """Per interaction: what the revised contract finds that the base did not."""
    before = {(f.interaction, str(f)) for f in check_pact(pact, base).findings}
    found: dict[str, list[str]] = {}
    for finding in check_pact(pact, revision).findings:
        if (finding.interaction, str(finding)) not in before:
            found.setdefault(finding.interaction, []).append(f"{finding.where}: {finding.reason}")
    return found


def touches(finding: Finding, interaction: Mapping[str, Any]) -> bool:
    """Whether a breaking finding lands on something the interaction sends or expects."""
    request, response = interaction["request"], interaction["response"]
    if finding.side == "operation" or finding.operation == DOCUMENT:
        return True
    if finding.side == "request":
        if finding.parameter is not None:
            if finding.rule.startswith("new-required"):
                return True
            sent = _sends_parameter(request, finding.parameter)
            return sent and (_structural(finding) or _matched(request, finding.parameter[0], finding.parameter[1]))
        if finding.rule.startswith("security"):
            return True
        body = _body(request)
        if finding.rule in ("new-required-request-body", "request-body-became-required"):
            return body is None
        if body is None:
            return False
        if finding.rule.endswith(("new-required-property", "property-became-required")):
            return _has(body, finding.field[:-1]) and not _has(body, finding.field)
        sent = _has(body, finding.field)
        return sent and (_structural(finding) or _matched(request, "body", _json_path(finding.field)))
    if not _status_matches(finding.status, int(response.get("status", 200))):
        return False
    if finding.parameter is not None:  # a response header
        expected = {k.lower() for k in (response.get("headers") or {})}
        return finding.parameter[1].lower() in expected
    body = _body(response)
    if not finding.field:
        return True
    return body is not None and _has(body, finding.field)


_STRUCTURAL = ("-removed", "-became-read-only", "-additional-properties-forbidden", "-serialization-changed")


def _structural(finding: Finding) -> bool:
    """A change to what may be sent at all, not to the values allowed: sending the thing is enough to be hit."""
    return finding.rule.endswith(_STRUCTURAL) or (not finding.field and finding.parameter is None)


def _matched(request: Mapping[str, Any], part: str, name: str) -> bool:
    """Whether the interaction's value there is one of many (a matcher), not the exact value it sends.

    An exact value is judged by the replay against the revision; a matched one may be any value
    its matcher allows, so a narrower schema there may refuse what the consumer sends.
    """
    rules = request.get("matchingRules") or {}
    if part == "body":
        names = {name, name.replace("[]", "[*]")}
        scoped = rules.get("body") or {}
        legacy = {k.replace("$.body", "$", 1) for k in rules if k.startswith("$.body")}  # pact v2
        return bool(names & (set(scoped) | legacy))
    scoped = rules.get(part) or {}
    return name in scoped or name.lower() in {k.lower() for k in scoped}


def _json_path(field: tuple[str, ...]) -> str:
    path = "$"
    for part in field:
        path += "[*]" if part == "[]" else f".{part}"
    return path


def _sends_parameter(request: Mapping[str, Any], parameter: tuple[str, str]) -> bool:
    location, name = parameter
    if location == "path":
        return True
    if location == "query":
        query = request.get("query") or {}
        return name in query if isinstance(query, Mapping) else f"{name}=" in str(query)
    if location == "header":
        return name.lower() in {k.lower() for k in (request.get("headers") or {})}
    if location == "cookie":
        cookies = next((v for k, v in (request.get("headers") or {}).items() if k.lower() == "cookie"), "")
        return f"{name}=" in str(cookies)
    return False


def _status_matches(documented: str | None, status: int) -> bool:
    if documented is None or documented == "default":
        return True
    if documented.endswith("XX"):
        return str(status)[0] == documented[0]
    return documented == str(status)


def _body(part: Mapping[str, Any]) -> Any:
    body = part.get("body")
    if isinstance(body, Mapping) and "content" in body:  # pact v4
        return body["content"]
    return body


def _has(value: Any, path: tuple[str, ...]) -> bool:
    """Whether the body has something at `path` ("[]": in any item, "*": under any key)."""
    if not path:
        return True
    head, rest = path[0], path[1:]
    if head == "[]":
        return isinstance(value, list) and any(_has(item, rest) for item in value)
    if isinstance(value, Mapping):
        if head == "*":
            return any(_has(item, rest) for item in value.values())
        return head in value and _has(value[head], rest)
    if isinstance(value, list) and head.isdigit():
        return int(head) < len(value) and _has(value[int(head)], rest)
    return False


def client_methods(folder: Path, operation_ids: Iterable[str]) -> dict[str, list[str]]:
    """For each operationId, the functions under `folder` that call it (`Class.method` or `function`)."""
    wanted = set(operation_ids)
    found: dict[str, set[str]] = {op: set() for op in wanted}
    for path in sorted(folder.rglob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError):
            continue
        for op, names in _module_users(tree, wanted).items():
            found[op] |= {f"{path.stem}.{name}" for name in names}
    return {op: sorted(names) for op, names in found.items() if names}


def _module_users(tree: ast.Module, wanted: set[str]) -> dict[str, set[str]]:
    functions: dict[str, tuple[str, set[str], set[str]]] = {}  # qualified name: (simple name, literals, calls)
    for node, owner in _functions(tree):
        literals = {
            arg.value
            for call in ast.walk(node)
            if isinstance(call, ast.Call)
            for arg in call.args[:1]
            if isinstance(arg, ast.Constant) and arg.value in wanted
        }
        calls = {_called_name(call.func) for call in ast.walk(node) if isinstance(call, ast.Call)}
        functions[f"{owner}{node.name}"] = (node.name, literals, {c for c in calls if c})
    users: dict[str, set[str]] = {}
    for op in wanted:
        names = {q for q, (_, literals, _) in functions.items() if op in literals}
        grew = True
        while grew:  # callers of callers, by name, within the module
            simple = {functions[q][0] for q in names}
            more = {q for q, (_, _, calls) in functions.items() if calls & simple} - names
            names |= more
            grew = bool(more)
        if names:
            users[op] = names
    return users


def _functions(tree: ast.Module) -> Iterable[tuple[ast.FunctionDef | ast.AsyncFunctionDef, str]]:
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node, ""
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    yield item, f"{node.name}."


def _called_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self":
        return func.attr
    return None


def impact_text(hits: list[Hit]) -> str:
    """The hits for a terminal, per consumer."""
    if not hits:
        return "consumer impact: no pact interaction is broken by the revision"
    lines = [f"consumer impact: {len(hits)} pact interaction(s) broken by the revision"]
    for consumer in dict.fromkeys(h.consumer for h in hits):
        theirs = [h for h in hits if h.consumer == consumer]
        lines.append(f"  {consumer}:")
        if len(theirs) > SHOWN:
            lines.append(f"    ({len(theirs)} interactions; the first {SHOWN} shown, all in --json)")
        for hit in theirs[:SHOWN]:
            lines.append(f'    "{hit.interaction}" ({hit.operation}, {hit.operation_id})')
            if hit.client_methods:
                lines.append(f"      client: {', '.join(hit.client_methods)}")
            lines += [f"      - {reason}" for reason in hit.reasons]
    return "\n".join(lines)


def impact_markdown(hits: list[Hit]) -> str:
    """The hits as a pull-request comment's table."""
    if not hits:
        return "No pact interaction is broken by the revision."
    lines = [
        "#### Consumer impact",
        "",
        "| consumer | interaction | operation | client | why |",
        "|---|---|---|---|---|",
    ]
    for hit in hits:
        why = "<br>".join(r.replace("|", "\\|") for r in hit.reasons)
        client = ", ".join(f"`{m}`" for m in hit.client_methods) or "(not found)"
        lines.append(f"| {hit.consumer} | {hit.interaction} | `{hit.operation}` | {client} | {why} |")
    return "\n".join(lines)
