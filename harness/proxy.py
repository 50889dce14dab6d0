"""`harness proxy`: real traffic checked against a contract on its way to and from the provider.

Each request is matched to its operation and checked as a mock would check it; it goes on
to the upstream provider, whose answer is checked too (a documented status, the media type,
the body's schema). What breaks the contract is logged (JSON lines, `--log`) and kept in a
journal with the mocks' admin queries (`GET /__admin/journal`, `GET /__admin/violations`,
`DELETE /__admin/journal`). With `--enforce` a request that breaks it is refused (the
mock's answer) and an answer that breaks it becomes a 502 naming the problem. `--record`
keeps each conforming exchange as a JSON line (operation, request, answer): examples or
seed data taken from real traffic.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import orjson

from harness.hops import NOT_FORWARDED, NOT_RETURNED
from mocks.contract import Contract, Operation, is_json_media
from mocks.engine import Receive, Scope, Send
from mocks.errors import RequestRejected
from mocks.journal import Journal
from mocks.router import Router
from mocks.validation import parse_request

ADMIN = "/__admin"
_NOT_FORWARDED = frozenset(name.encode() for name in NOT_FORWARDED)  # ASGI header names are bytes


@dataclass(frozen=True)
class Problem:
    """One way an exchange breaks the contract."""

    direction: str  # request | response
    field: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        """The problem as the log and the admin surface show it."""
        return {"direction": self.direction, "field": self.field, "reason": self.reason}


class ValidatingProxy:
    """An ASGI app: forwards to `upstream`, checks both ways against `contract`."""

    def __init__(
        self,
        contract: Contract,
        upstream: str,
        *,
        enforce: bool = False,
        log: Path | None = None,
        record: Path | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.contract = contract
        self.router = Router(contract.operations)
        self.enforce = enforce
        self.journal = Journal()
        self.problems: dict[int, list[Problem]] = {}  # journal seq -> what broke the contract
        self._log = log
        self._record = record
        self._client = httpx.AsyncClient(base_url=upstream.rstrip("/"), timeout=timeout, transport=transport)

    async def aclose(self) -> None:
        """Close the connections to the upstream."""
        await self._client.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI event: the admin surface, or a request checked and forwarded."""
        if scope["type"] == "lifespan":
            await _lifespan(self, receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["path"].startswith(ADMIN):
            await self._admin(scope, send)
            return
        await self._forward(scope, receive, send)

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        method: str = scope["method"]
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        body = await _body(receive)
        op, problems, refusal = self._check_request(method, path, query, raw_headers, body)
        entry = self.journal.record(method, path, query, raw_headers, body, op.operation_id if op else None)
        if refusal is not None and self.enforce:
            entry.status = refusal.status
            self._keep(entry.seq, op, method, path, refusal.status, problems)
            await _send(send, refusal.status, orjson.dumps(refusal.body()), [(b"content-type", b"application/json")])
            return
        target = path + (f"?{query}" if query else "")
        headers = [(k, v) for k, v in raw_headers if k.lower() not in _NOT_FORWARDED]
        try:
            answer = await self._client.request(method, target, headers=headers, content=body)
        except httpx.HTTPError as exc:
            entry.status = 502
            message = {"error": "upstream_unavailable", "message": f"the upstream did not answer: {exc!r}"}
            await _send(send, 502, orjson.dumps(message), [(b"content-type", b"application/json")])
            return
        answer_problems = _check_answer(op, answer) if op is not None else []
        problems += answer_problems
        status, content, out_headers = answer.status_code, answer.content, _returned(answer.headers)
        if answer_problems and self.enforce:
            status = 502
            failure = {
                "error": "contract_violation",
                "message": f"the upstream's answer ({answer.status_code}) breaks the contract",
                "problems": [p.as_dict() for p in answer_problems],
            }
            content, out_headers = orjson.dumps(failure), [(b"content-type", b"application/json")]
        entry.status = status
        self._keep(entry.seq, op, method, path, answer.status_code, problems)
        if not problems and op is not None:
            self._write_exchange(op, method, target, body, answer)
        await _send(send, status, content, out_headers)

    def _check_request(
        self, method: str, path: str, query: str, raw_headers: list[tuple[bytes, bytes]], body: bytes
    ) -> tuple[Operation | None, list[Problem], RequestRejected | None]:
        try:
            op, params = self.router.match(method, self.contract.route_of(path))
        except RequestRejected as exc:
            return None, [Problem("request", "", exc.message)], exc
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw_headers}
        try:
            parse_request(op, params, query, headers, body)
        except RequestRejected as exc:
            found = [Problem("request", f"{v.location} {v.field}".strip(), v.reason) for v in exc.violations]
            return op, found or [Problem("request", "", exc.message)], exc
        return op, [], None

    def _keep(self, seq: int, op: Operation | None, method: str, path: str, status: int, found: list[Problem]) -> None:
        if not found:
            return
        self.problems[seq] = found
        if self._log is not None:
            line = {
                "at": time.time(),
                "seq": seq,
                "operation_id": op.operation_id if op else None,
                "method": method,
                "path": path,
                "status": status,
                "problems": [p.as_dict() for p in found],
            }
            with self._log.open("a", encoding="utf-8") as out:
                out.write(json.dumps(line) + "\n")

    def _write_exchange(self, op: Operation, method: str, target: str, body: bytes, answer: httpx.Response) -> None:
        if self._record is None:
            return
        exchange = {
            "operation_id": op.operation_id,
            "request": {"method": method, "target": target, "body": _decoded(body)},
            "response": {"status": answer.status_code, "body": _decoded(answer.content)},
        }
        with self._record.open("a", encoding="utf-8") as out:
            out.write(json.dumps(exchange) + "\n")

    async def _admin(self, scope: Scope, send: Send) -> None:
        route = scope["path"][len(ADMIN) :]
        method = scope["method"]
        filters = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if route == "/journal" and method == "DELETE":
            self.journal.clear()
            self.problems.clear()
            answer: Any = {"status": "cleared"}
        elif route in ("/journal", "/violations") and method == "GET":
            try:
                entries = self.journal.find(**_filters(filters))
            except ValueError as exc:
                await _send(send, 422, orjson.dumps({"error": "bad_request", "message": str(exc)}), _JSON)
                return
            if route == "/violations":
                entries = [e for e in entries if e.seq in self.problems]
            shown = [{**e.as_dict(), "problems": [p.as_dict() for p in self.problems.get(e.seq, [])]} for e in entries]
            answer = {"total": self.journal.total, "entries": shown}
        else:
            message = {"error": "not_found", "message": f"no admin route {method} {scope['path']}"}
            await _send(send, 404, orjson.dumps(message), _JSON)
            return
        await _send(send, 200, orjson.dumps(answer), _JSON)


_JSON = [(b"content-type", b"application/json")]


def _filters(given: Mapping[str, str]) -> dict[str, Any]:
    """The journal's filters from a query string, as the mocks' admin surface takes them."""
    known = {"operation_id", "method", "path", "status", "since", "limit"}
    unknown = set(given) - known
    if unknown:
        raise ValueError(f"unknown filters {sorted(unknown)}; known: {sorted(known)}")
    filters: dict[str, Any] = dict(given)
    for name in ("status", "since", "limit"):
        if name in filters:
            if not filters[name].isdigit():
                raise ValueError(f"{name} must be a whole number, got {filters[name]!r}")
            filters[name] = int(filters[name])
    return filters


def _check_answer(op: Operation, answer: httpx.Response) -> list[Problem]:
    """How the upstream's answer breaks `op`'s documented responses."""
    spec = op.response_for(answer.status_code)
    if spec is None:
        documented = ", ".join(str(c) for c in sorted(op.responses)) or "none"
        return [Problem("response", "status", f"{answer.status_code} is not documented ({documented})")]
    if spec.media_type is None or not answer.content:
        return (
            []
            if spec.media_type is None or answer.status_code in (204, 304)
            else [Problem("response", "body", f"empty, but {spec.media_type} is documented")]
        )
    given = answer.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if given != spec.media_type.lower() and not (is_json_media(given) and spec.is_json):
        return [Problem("response", "content-type", f"{given or '(none)'} is not the documented {spec.media_type}")]
    if not spec.is_json or spec.validator is None:
        return []
    try:
        body = orjson.loads(answer.content)
    except orjson.JSONDecodeError:
        return [Problem("response", "body", "not valid JSON")]
    return [
        Problem("response", ".".join(str(p) for p in error.instance_path) or "(body)", error.message)
        for error in spec.validator.iter_errors(body)
    ]


def _returned(headers: httpx.Headers) -> list[tuple[bytes, bytes]]:
    return [
        (k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.multi_items() if k.lower() not in NOT_RETURNED
    ]


def _decoded(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    raw = [(k, v) for k, v in headers if k.lower() != b"content-length"]
    if status not in (204, 304):
        raw.append((b"content-length", str(len(body)).encode()))
    else:
        body = b""
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(proxy: ValidatingProxy, receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await proxy.aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return


EPILOG = """examples:
  harness proxy contracts/strategy-service.yaml --upstream http://127.0.0.1:8101 --port 4011
  harness proxy my-api.yaml --upstream https://staging.example.com --enforce --log .run/violations.jsonl
  curl http://127.0.0.1:4011/__admin/violations        # what broke the contract, newest last

exit status: 0 after Ctrl-C or SIGTERM; 2 on a usage error (a contract the engine cannot read, named)."""


def main(argv: list[str]) -> int:
    """Run the proxy until interrupted."""
    import argparse

    import uvicorn

    from harness.errors import UsageError
    from mocks.contract import load_contract
    from mocks.errors import ContractError

    parser = argparse.ArgumentParser(
        prog="harness proxy",
        description=(__doc__ or "").splitlines()[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("contract", type=Path, help="the OpenAPI 3.0/3.1 file the traffic must keep to")
    parser.add_argument("--upstream", required=True, help="base URL of the real provider")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4011)
    parser.add_argument("--enforce", action="store_true", help="refuse requests, and replace answers, that break it")
    parser.add_argument("--log", type=Path, metavar="FILE", help="append each violation here (JSON lines)")
    parser.add_argument("--record", type=Path, metavar="FILE", help="append each conforming exchange here")
    args = parser.parse_args(argv)
    try:
        contract = load_contract(args.contract, answers=False)  # checks only: the upstream answers
    except ContractError as exc:
        raise UsageError(str(exc)) from exc
    proxy = ValidatingProxy(contract, args.upstream, enforce=args.enforce, log=args.log, record=args.record)
    config = uvicorn.Config(
        proxy, host=args.host, port=args.port, loop="uvloop", http="httptools", log_level="warning", lifespan="on"
    )
    uvicorn.Server(config).run()
    return 0
