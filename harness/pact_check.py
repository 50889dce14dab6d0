"""`harness check-openapi`: does a provider's own OpenAPI still satisfy every interaction of our pacts?

What PactFlow's bi-directional check (`@pactflow/swagger-mock-validator`) answers, before a
provider deploys, with the same verdicts on our pacts: each interaction's request must be
one the spec accepts (an operation for its method and path, parameters and body valid),
and its response a documented status whose schema holds the pact's body, with every header
the pact expects documented and valid for its schema. Beyond that check, what a consumer
relies on and it does not look at (found by suites/pact/test_pactflow_validator.py):

- `readOnly`: a request body that sends a property the spec marks `readOnly` relies on the
  provider accepting what it says it ignores;
- `writeOnly`: a response body the pact expects with a property the spec marks
  `writeOnly` relies on the provider sending what it says it never sends.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from mocks.contract import Contract, Operation, compile_schema
from mocks.document import resolve
from mocks.errors import RequestRejected
from mocks.router import Router
from mocks.validation import parse_request

PACTFLOW = "pactflow"  # what PactFlow's check also finds
BEYOND = "beyond-pactflow"  # what it does not look at


@dataclass(frozen=True)
class Finding:
    """One way an interaction and the spec disagree."""

    interaction: str
    where: str  # request | response | request body | response header ...
    reason: str
    kind: str = PACTFLOW

    def __str__(self) -> str:
        return f"{self.interaction}: {self.where}: {self.reason}"


@dataclass
class PactReport:
    """The findings of one pact against one spec."""

    consumer: str
    provider: str
    interactions: int
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No finding of any kind."""
        return not self.findings

    def text(self) -> str:
        """The report for people."""
        head = (
            f"{self.consumer} -> {self.provider}: {self.interactions} interaction(s), {len(self.findings)} finding(s)"
        )
        lines = [head]
        for finding in self.findings:
            mark = "" if finding.kind == PACTFLOW else "  [beyond PactFlow's check]"
            lines.append(f"  - {finding}{mark}")
        return "\n".join(lines)


def check_pact(pact: Mapping[str, Any], contract: Contract) -> PactReport:
    """Every disagreement between a pact (v2 to v4) and a provider's spec."""
    router = Router(contract.operations)
    interactions = [i for i in pact.get("interactions", []) if i.get("type", "Synchronous/HTTP") == "Synchronous/HTTP"]
    report = PactReport(pact["consumer"]["name"], pact["provider"]["name"], len(interactions))
    for interaction in interactions:
        report.findings += _check_interaction(interaction, contract, router)
    return report


def _check_interaction(interaction: Mapping[str, Any], contract: Contract, router: Router) -> list[Finding]:
    name = str(interaction.get("description", "(no description)"))
    request, response = interaction["request"], interaction["response"]
    path = str(request["path"])
    try:
        op, path_params = router.match(str(request["method"]).upper(), contract.route_of(path))
    except RequestRejected as exc:
        return [Finding(name, "request", f"{request['method']} {path} is no operation of the spec ({exc.message})")]
    found = _request_findings(name, contract, op, path_params, request)
    status = int(response["status"])
    spec = op.response_for(status)
    if spec is None:
        return [*found, Finding(name, "response", f"{op.operation_id} does not document status {status}")]
    body = _content(response)
    if spec.validator is not None and body is not None:
        found += [
            Finding(name, f"response {status} body {_dotted(e.instance_path)}", e.message)
            for e in spec.validator.iter_errors(body)
        ]
    found += _write_only_findings(name, contract.document, spec.schema, body)
    found += _header_findings(name, contract, op, status, response)
    if status in (400, 413, 415) and not any(f.where.startswith("request") for f in found):
        found.append(Finding(name, "response", f"expects {status}, but the spec accepts the request"))
    return found


def _request_findings(
    name: str, contract: Contract, op: Operation, path_params: dict[str, str], request: Mapping[str, Any]
) -> list[Finding]:
    query_items = request.get("query") or {}
    if isinstance(query_items, str):  # pact v2 kept the query as one string
        query = query_items
    else:
        query = urlencode([(k, v) for k, values in query_items.items() for v in _listed(values)])
    headers = {k.lower(): _listed(v)[0] for k, v in (request.get("headers") or {}).items()}
    body = _content(request)
    raw = b"" if body is None else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
    if body is not None and "content-type" not in headers:
        headers["content-type"] = "application/json"
    try:
        parse_request(op, path_params, query, headers, raw)
    except RequestRejected as exc:
        if exc.violations:
            return [Finding(name, f"request {v.location} {v.field or '(body)'}", v.reason) for v in exc.violations]
        return [Finding(name, "request", f"refused with {exc.status}: {exc.message}")]
    return _read_only_findings(name, contract.document, op, body)


def _read_only_findings(name: str, document: Mapping[str, Any], op: Operation, body: Any) -> list[Finding]:
    """Top-level properties of the pact's request body that the spec marks readOnly."""
    if not isinstance(body, dict):
        return []
    schema = next((b.schema for b in op.bodies if b.schema is not None), None)
    return [
        Finding(
            name,
            f"request body {prop}",
            "the spec marks it readOnly: the provider may ignore or refuse it, without breaking its spec",
            BEYOND,
        )
        for prop in _marked_properties(schema, body, document, "readOnly")
    ]


def _write_only_findings(name: str, document: Mapping[str, Any], schema: Any, body: Any) -> list[Finding]:
    """Top-level properties of the pact's expected response body that the spec marks writeOnly."""
    if not isinstance(body, dict):
        return []
    return [
        Finding(
            name,
            f"response body {prop}",
            "the spec marks it writeOnly: the provider need never send it, without breaking its spec",
            BEYOND,
        )
        for prop in _marked_properties(schema, body, document, "writeOnly")
    ]


def _marked_properties(schema: Any, body: Mapping[str, Any], document: Mapping[str, Any], flag: str) -> list[str]:
    if schema is None:
        return []
    resolved = resolve(document, schema)
    parts = [resolved, *(resolve(document, p) for p in resolved.get("allOf") or [])]
    found = []
    for part in parts:
        for prop, sub in (part.get("properties") or {}).items():
            if prop in body and isinstance(resolve(document, sub), Mapping) and resolve(document, sub).get(flag):
                found.append(prop)
    return found


def _header_findings(
    name: str, contract: Contract, op: Operation, status: int, response: Mapping[str, Any]
) -> list[Finding]:
    expected = {k.lower(): _listed(v)[0] for k, v in (response.get("headers") or {}).items()}
    expected.pop("content-type", None)  # the media type, checked by the body's schema
    if not expected:
        return []
    raw = op.spec.get("responses", {}).get(str(status)) or op.spec.get("responses", {}).get("default") or {}
    documented = {k.lower(): v for k, v in (resolve(contract.document, raw).get("headers") or {}).items()}
    found = []
    for header, value in expected.items():
        if header not in documented:
            reason = f"the pact expects it, but the spec does not document it for {status}: the provider may drop it"
            found.append(Finding(name, f"response header {header}", reason))
            continue
        schema = resolve(contract.document, resolve(contract.document, documented[header]).get("schema") or {})
        checker = compile_schema(schema, contract.document.get("components") or {})
        typed = _typed(schema, value)
        found += [Finding(name, f"response header {header}", e.message) for e in checker.iter_errors(typed)]
    return found


def _typed(schema: Mapping[str, Any], text: str) -> Any:
    """A header's text as its schema's scalar type, where it reads as one."""
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text)
    except ValueError:
        return text
    if kind == "boolean" and text in ("true", "false"):
        return text == "true"
    return text


def _content(part: Mapping[str, Any]) -> Any:
    body = part.get("body")
    if isinstance(body, Mapping) and "content" in body:  # pact v4
        return body["content"]
    return body  # v2/v3: the body itself (None when absent)


def _listed(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _dotted(parts: Iterable[Any]) -> str:
    text = ".".join(str(p) for p in parts)
    return text or "(body)"


def check_files(spec: Path, pacts: Iterable[Path]) -> list[PactReport]:
    """Each pact file against the spec file."""
    from mocks.contract import load_contract

    contract = load_contract(spec, answers=False)  # checks only: nothing is served
    return [check_pact(json.loads(path.read_text(encoding="utf-8")), contract) for path in pacts]


EPILOG = """examples:
  harness check-openapi my-openapi.yaml --pacts pacts/ --provider strategy-service
  harness check-openapi my-openapi.yaml --pact pacts/order-service-strategy-service.json --junit-xml check.xml

Findings marked [beyond PactFlow's check] are ones PactFlow's bi-directional check does not
look at (readOnly properties a request sends, writeOnly ones a response is expected to have).
exit status: 0 when every interaction is satisfied, 1 when one is not, 2 on a usage error."""


def main(argv: list[str]) -> int:
    """Check the pacts named against the spec; print a report per pact."""
    import argparse

    from harness.errors import UsageError
    from mocks.errors import ContractError

    parser = argparse.ArgumentParser(
        prog="harness check-openapi",
        description=(__doc__ or "").splitlines()[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("spec", type=Path, help="the provider's own OpenAPI 3.0/3.1 file")
    parser.add_argument("--pact", type=Path, action="append", default=[], help="a pact file (repeatable)")
    parser.add_argument("--pacts", type=Path, help="a folder of pact files: those whose provider is --provider")
    parser.add_argument("--provider", help="the provider's name in the pacts (with --pacts)")
    parser.add_argument("--only-pactflow", action="store_true", help="fail only on what PactFlow's check finds")
    parser.add_argument("--junit-xml", type=Path, metavar="FILE", help="also write the result as JUnit XML")
    args = parser.parse_args(argv)
    pacts = list(args.pact)
    if args.pacts is not None:
        if not args.provider:
            raise UsageError("--pacts needs --provider: which pacts of the folder are this provider's")
        pacts += [p for p in sorted(args.pacts.glob("*.json")) if _provider_of(p) == args.provider]
    if not pacts:
        raise UsageError("no pact to check: give --pact FILE, or --pacts DIR with --provider NAME")
    try:
        reports = check_files(args.spec, pacts)
    except ContractError as exc:
        raise UsageError(str(exc)) from exc
    except (OSError, ValueError, KeyError) as exc:
        raise UsageError(f"cannot read a pact: {exc!r}") from exc
    for report in reports:
        print(report.text())
    failing = [f for r in reports for f in r.findings if f.kind == PACTFLOW or not args.only_pactflow]
    if args.junit_xml:
        args.junit_xml.write_text(_junit(reports))
    print(
        f"{'ok' if not failing else 'not satisfied'}: {sum(r.interactions for r in reports)} interaction(s), "
        f"{len(failing)} finding(s) that fail the check"
    )
    return 1 if failing else 0


def _provider_of(path: Path) -> str | None:
    try:
        return str(json.loads(path.read_text(encoding="utf-8"))["provider"]["name"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _junit(reports: list[PactReport]) -> str:
    from xml.sax.saxutils import escape, quoteattr

    cases = []
    for report in reports:
        by_interaction: dict[str, list[Finding]] = {}
        for finding in report.findings:
            by_interaction.setdefault(finding.interaction, []).append(finding)
        name = quoteattr(f"{report.consumer} -> {report.provider}")
        cases.append(f'<testsuite name={name} tests="{report.interactions}" failures="{len(by_interaction)}">')
        for interaction, findings in by_interaction.items():
            text = escape("\n".join(str(f) for f in findings))
            cases.append(f"<testcase name={quoteattr(interaction)}><failure>{text}</failure></testcase>")
        cases.append("</testsuite>")
    return '<?xml version="1.0" encoding="utf-8"?>\n<testsuites>' + "".join(cases) + "</testsuites>\n"
