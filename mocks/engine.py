"""The engine: serves a contract's operations on the raw ASGI scope.

Contract operations are dispatched by the engine itself, before any framework router:
matching, validation, faults, the journal and the answer cost no framework machinery per
request. `mocks.app` puts an engine and the admin surface together in one app.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from mocks.behaviour import Behaviour, Reply
from mocks.contract import Contract, Operation, ResponseSpec
from mocks.errors import RequestRejected
from mocks.faults import FaultSet
from mocks.journal import Journal, JournalEntry
from mocks.ledger import Applied, Ledger, read_ledger
from mocks.router import Router
from mocks.tokens import TokenCheck, require_token
from mocks.tracing import MockTracing
from mocks.validation import parse_request

log = logging.getLogger("mocks")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

ADMIN_PREFIX = "/__admin"
FAILURES_KEPT = 20  # errors inside the mock kept for the test that caused them (all are counted)
_JSON = (b"content-type", b"application/json")
_UNSET: Any = object()
_NO_BODY = frozenset({204, 304})


# Told of every answered operation (the contract's file name, the journal entry with its status):
# how `harness coverage` and `harness compat --records` learn what the suites exercised, however
# each test built its mock. Entry points register them.
Observer = Callable[[str, JournalEntry], None]
OBSERVERS: list[Observer] = []


class ConnectionDropped(Exception):
    """Raised in-process where no socket can be cut; `mocks.transport` turns it into a network error."""


@dataclass(frozen=True)
class MockSettings:
    """The engine's limits: body, header and journal sizes."""

    max_body_bytes: int = 1024 * 1024
    max_header_bytes: int = 16 * 1024  # the target and every header together, as h11's default limit
    journal_entries: int = 5000
    journal_bytes: int = 32 * 1024 * 1024  # what the journal may hold in all; the oldest entries go first
    journal_body_limit: int = 4096
    validate_responses: bool = True  # a handler answer off the contract is a 500, loudly
    idempotency_keys: int = 100_000
    ledger: Path | None = None  # applied writes kept on disk, answered from it after a restart (mocks.ledger)


class Engine:
    """Serves one contract: the per-request path of a mock."""

    def __init__(self, contract: Contract, behaviour: Behaviour, settings: MockSettings) -> None:
        self.contract = contract
        self.behaviour = behaviour
        self.settings = settings
        self.router = Router(contract.operations)
        self.journal = Journal(settings.journal_entries, settings.journal_body_limit, settings.journal_bytes)
        self.faults = FaultSet()
        # (state name, what the behaviour held before its set-up), oldest first: teardown puts it back
        self.state_checkpoints: list[tuple[str, dict[str, Any]]] = []
        # what failed inside the mock since the last reset (a test harness re-raises them in the test)
        self.failures: list[Exception] = []  # the first FAILURES_KEPT: each holds its frames alive
        self.failure_count = 0
        self._replies: dict[tuple[str, str], Reply] = {}
        self.ledger: Ledger | None = None
        if settings.ledger is not None:
            for applied in read_ledger(settings.ledger):
                self._replies[(applied.operation_id, applied.key)] = applied.reply
            self.ledger = Ledger(settings.ledger)
        self._examples = {op_id: _answer(op.success) for op_id, op in contract.operations.items()}
        self.token_check: TokenCheck | None = None  # owners that require service tokens (mocks.tokens)
        self.tracing = MockTracing()  # callers' traces continued; `serve --otlp-endpoint` exports the spans

    def checkpoint(self) -> dict[str, Any]:
        """What the mock has stored: its behaviour's data and the answers kept per Idempotency-Key."""
        return {"behaviour": self.behaviour.checkpoint(), "replies": dict(self._replies)}

    def restore(self, saved: dict[str, Any]) -> None:
        """Put back what `checkpoint` copied (a provider state's teardown)."""
        self.behaviour.restore(saved["behaviour"])
        self._replies = dict(saved["replies"])

    def reset(self) -> None:
        """Forget every request, fault, stored answer and change of state."""
        self.journal.clear()
        self.faults.clear()
        self.state_checkpoints.clear()
        self.failures.clear()
        self.failure_count = 0
        self._replies.clear()
        self.token_check = None
        if self.ledger is not None:
            self.ledger.forget()
        self.behaviour.clock.reset()
        self.behaviour.reset()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request as an ASGI app: match, validate, fault, answer, journal."""
        method: str = scope["method"]
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        entry: JournalEntry | None = None
        head_size = len(path) + len(query) + sum(len(k) + len(v) for k, v in raw_headers)
        if head_size > self.settings.max_header_bytes:
            await self._refuse_large_head(method, path, query, head_size, send)
            return
        trace = self.tracing.start(raw_headers, method, scope["path"])
        try:
            op: Operation | None = None
            path_params: dict[str, str] = {}
            route_error: RequestRejected | None = None
            try:
                op, path_params = self.router.match(method, self.contract.route_of(path))
            except RequestRejected as exc:
                route_error = exc
            body, too_large = await self._read_body(raw_headers, receive)
            entry = self.journal.record(method, path, query, raw_headers, body, op.operation_id if op else None, trace)
            if too_large:
                limit = self.settings.max_body_bytes
                raise RequestRejected(413, "payload_too_large", f"request body exceeds {limit} bytes")
            if route_error is not None or op is None:
                raise route_error or RequestRejected(404, "not_found", path)
            plan = self.faults.plan(op.operation_id)
            if plan.names:
                entry.fault = ",".join(plan.names)
                if plan.delay:
                    await asyncio.sleep(plan.delay)
                if plan.action is not None:
                    await self._act(plan.action.spec, entry, receive, send)
                    return
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw_headers}
            if self.token_check is not None:
                await require_token(self.token_check, headers)
            try:
                request = parse_request(op, path_params, query, headers, body)
            except RequestRejected as exc:
                raise _as_documented(op, exc) from None
            key = headers.get("idempotency-key")
            replay_key = (op.operation_id, key) if key is not None else None
            reply = self._replies.get(replay_key) if replay_key else None
            if reply is not None:
                entry.replayed = True
            else:
                preferred = prefer(op, headers.get("prefer"))
                handler = self.behaviour.handlers.get(op.operation_id)
                if preferred is not None:
                    reply = preferred
                else:
                    reply = handler(request) if handler else self._examples[op.operation_id]
                if self.settings.validate_responses:
                    self._check_reply(op, reply)
                if replay_key and reply.status < 300:
                    if len(self._replies) >= self.settings.idempotency_keys:
                        self._replies.pop(next(iter(self._replies)))
                    self._replies[replay_key] = reply
                    if self.ledger is not None:  # on disk before the answer leaves
                        self.ledger.append(Applied(op.operation_id, replay_key[1], time.time(), reply))
            entry.status = reply.status
            if plan.drop_after:
                await _drop(send, receive)  # applied, and the answer is lost on the way back
                return
            spec = op.response_for(reply.status)
            if spec is not None and not spec.is_json and spec.media_type:
                raw = reply.body if isinstance(reply.body, bytes) else str(reply.body).encode()
                await _send(send, reply.status, raw, spec.media_type, reply.headers)
            elif spec is not None and spec.media_type is None and reply.body is None:
                await _send(send, reply.status, b"", None, reply.headers)
            else:
                await _send_json(send, reply.status, orjson.dumps(reply.body), reply.headers)
        except RequestRejected as exc:
            if entry is not None:
                entry.status = exc.status
            await _send_json(send, exc.status, orjson.dumps(exc.body()), exc.headers)
        except ConnectionDropped:
            raise
        except Exception as exc:
            log.exception("the mock failed on %s %s", method, path)
            self.failure_count += 1
            if len(self.failures) < FAILURES_KEPT:  # a mock failing for days keeps its memory bounded
                self.failures.append(exc)
            if entry is not None:
                entry.status = 500
            failure = {"error": "internal_error", "message": "the mock failed; see its log"}
            await _send_json(send, 500, orjson.dumps(failure), ())
        finally:
            if trace is not None:
                trace.end(entry.status if entry else None, entry.operation_id if entry else None)
            if OBSERVERS and entry is not None and entry.operation_id and entry.status is not None:
                for observe in OBSERVERS:
                    observe(self.contract.path.name, entry)

    async def _refuse_large_head(self, method: str, path: str, query: str, size: int, send: Send) -> None:
        """431: the journal keeps the request's first bytes only, so no header can grow the mock."""
        keep = 256
        entry = self.journal.record(method, path[:keep], query[:keep], [], b"", None)
        entry.status = 431
        limit = self.settings.max_header_bytes
        message = f"the request target and headers are {size} bytes; the limit is {limit}"
        await _send_json(send, 431, orjson.dumps({"error": "bad_request", "message": message}), ())

    async def _read_body(self, raw_headers: list[tuple[bytes, bytes]], receive: Receive) -> tuple[bytes, bool]:
        """The body, or what fitted of it and True when it is over the limit."""
        limit = self.settings.max_body_bytes
        for name, value in raw_headers:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                return b"", True
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return b"".join(chunks), True
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks), False

    def _check_reply(self, op: Operation, reply: Reply) -> None:
        """Refuse to send a handler's answer that breaks the contract: that is a mock bug."""
        spec = op.response_for(reply.status)
        if spec is None:
            raise RuntimeError(f"{op.operation_id} answered undocumented status {reply.status}")
        if spec.media_type and not spec.is_json:
            if not isinstance(reply.body, (str, bytes)):
                raise RuntimeError(f"{op.operation_id} {reply.status} answer must be text for {spec.media_type}")
        elif spec.validator is not None and not spec.validator.is_valid(reply.body):
            problems = "; ".join(e.message for e in spec.validator.iter_errors(reply.body))
            raise RuntimeError(f"{op.operation_id} {reply.status} answer breaks the contract: {problems}")

    async def _act(self, spec: Any, entry: JournalEntry, receive: Receive, send: Send) -> None:
        if spec.kind == "status":
            headers = dict(spec.headers)
            if spec.retry_after is not None:
                headers["retry-after"] = str(spec.retry_after)
            code = {429: "rate_limited", 503: "unavailable"}.get(spec.status, "injected_fault")
            body = {"error": code, "message": f"injected fault: status {spec.status}"}
            entry.status = spec.status
            await _send_json(send, spec.status, orjson.dumps(body), tuple(headers.items()))
        elif spec.kind == "respond":
            entry.status = spec.status
            await _send_json(send, spec.status, orjson.dumps(spec.body), tuple(spec.headers.items()))
        elif spec.kind == "drop":
            await _drop(send, receive)
        elif spec.kind == "hang":
            try:
                await asyncio.wait_for(_until_disconnect(receive), spec.hang_seconds)
            except TimeoutError:
                await _drop(send, receive)


def _answer(spec: ResponseSpec, body: Any = _UNSET) -> Reply:
    """The reply a documented response gives: its example (or generated value) and headers."""
    return Reply(spec.status, spec.example if body is _UNSET else body, spec.headers)


def prefer(op: Operation, header: str | None) -> Reply | None:
    """The answer a `Prefer: code=404, example=NAME` header picks (as Prism reads it), or None.

    Raises:
        RequestRejected: 400 when it names a status or an example the operation does not document.
    """
    if not header:
        return None
    wanted = dict(part.strip().partition("=")[::2] for part in re.split(r"[,;]", header) if "=" in part)
    code, name = wanted.get("code"), wanted.get("example")
    if code is None and name is None:
        return None
    if code is not None:
        spec = op.responses.get(int(code)) if code.strip().isdigit() else None
        if spec is None:
            documented = ", ".join(str(c) for c in sorted(op.responses)) or "none"
            raise RequestRejected(
                400, "prefer_unknown", f"Prefer: code={code} is not documented for {op.operation_id} ({documented})"
            )
    else:
        spec = op.success
        if name not in spec.examples:  # an example of another status may be meant
            spec = next((r for r in op.responses.values() if name in r.examples), spec)
    if name is None:
        return _answer(spec)
    if name not in spec.examples:
        known = ", ".join(spec.examples) or "none"
        raise RequestRejected(
            400,
            "prefer_unknown",
            f"Prefer: example={name} is not an example of {op.operation_id} {spec.status} ({known})",
        )
    return _answer(spec, copy.deepcopy(spec.examples[name]))


_VALIDATION_STATUSES = (422, 400)


def _as_documented(op: Operation, exc: RequestRejected) -> RequestRejected:
    """A refused request answered as the contract documents refusals.

    A body that breaks the request is 422 (or 400 where that is what the contract has);
    when the documented refusal's schema is not the mock's error body, its example (or a
    generated value) is the body and `x-mock-problem` says what was wrong.
    """
    status = exc.status
    if status in _VALIDATION_STATUSES and status not in op.responses:
        status = next((s for s in _VALIDATION_STATUSES if s in op.responses), status)
    spec = op.response_for(status)
    if spec is None or (spec.status // 100 != 4 and spec.key != "default"):
        return exc if status == exc.status else exc.with_status(status)
    body = exc.body()
    if spec.validator is None or spec.validator.is_valid(body):
        return exc if status == exc.status else exc.with_status(status)
    problem = exc.message if not exc.violations else f"{exc.message}: {exc.violations[0]}"
    return exc.with_status(status, body=spec.example, problem=problem[:500])


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _drop(send: Send, receive: Receive) -> None:
    """Cut the connection without an answer, as a crashed provider would."""
    # uvicorn's send is a bound method of the request cycle, which holds the transport.
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise ConnectionDropped("the mock dropped the connection")
    transport.abort()
    await _until_disconnect(receive)  # returns once the server has seen the connection go


async def _send_json(send: Send, status: int, body: bytes, headers: Any) -> None:
    await _send(send, status, body, "application/json", headers)


async def _send(send: Send, status: int, body: bytes, media_type: str | None, headers: Any) -> None:
    if status in _NO_BODY or status < 200:  # HTTP forbids a body here, whatever a contract documents
        body, media_type, raw = b"", None, []
    else:
        raw = [(b"content-length", str(len(body)).encode())]
    if media_type is not None:
        raw.append(_JSON if media_type == "application/json" else (b"content-type", media_type.encode()))
    raw += [(k.encode("latin-1"), str(v).encode("latin-1")) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
