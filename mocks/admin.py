"""The admin surface of every mock, under `/__admin` and outside the contract.

reset, seed data, provider states (the pact verifier's state-change calls land here),
fault injection, the request journal and the mock clock.
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from mocks.engine import Engine
from mocks.errors import UnknownState
from mocks.faults import FaultSpec
from mocks.tokens import IntrospectionCheck


class StateChange(BaseModel):
    """The body pact verifiers send to a provider-state URL."""

    model_config = ConfigDict(extra="ignore")

    state: str = Field(description='The state name; "" is pact\'s generic set-up/tear-down, a no-op here.')
    params: dict[str, Any] = Field(default_factory=dict)
    action: Literal["setup", "teardown"] = "setup"


class ClockChange(BaseModel):
    """A change to the mock's clock: set it, advance it, or let it follow the wall clock again."""

    model_config = ConfigDict(extra="forbid")

    freeze_at: datetime | None = None
    advance_seconds: float | None = None
    reset: bool = False


class TokenCheckChange(BaseModel):
    """Require service tokens, checked at this introspection endpoint (RFC 7662)."""

    model_config = ConfigDict(extra="forbid")

    introspect_url: str = Field(pattern=r"^https?://[^\s/]+(/\S*)?$")


def _error(status: int, error: str, message: str, violations: list[dict[str, str]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": error, "message": message}
    if violations:
        body["violations"] = violations
    return JSONResponse(body, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    """Answer admin mistakes in the same JSON error format as the contract operations."""

    async def on_invalid(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        violations = [
            {
                "location": str(err["loc"][0]) if err["loc"] else "body",
                "field": ".".join(str(p) for p in err["loc"][1:]),
                "reason": str(err["msg"]),
            }
            for err in exc.errors()
        ]
        return _error(422, "validation_failed", "the admin request is invalid", violations)

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        codes = {404: "not_found", 405: "method_not_allowed", 409: "conflict", 422: "validation_failed"}
        return _error(exc.status_code, codes.get(exc.status_code, "bad_request"), str(exc.detail))

    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(HTTPException, on_http)


def build_admin_router(engine: Engine) -> APIRouter:
    """The admin surface of one mock's engine, mounted under `/__admin`."""
    router = APIRouter(tags=["admin"])
    behaviour = engine.behaviour
    contract = engine.contract

    @contextlib.contextmanager
    def all_or_nothing(what: str) -> Iterator[dict[str, Any]]:
        """Change the mock's data wholly or not at all; bad input is a 422 naming the problem, never a 500.

        Yields the checkpoint taken before the change (a provider state keeps it for its teardown).
        """
        saved = engine.checkpoint()
        try:
            yield saved
        except UnknownState:
            raise
        except (LookupError, ValueError, TypeError, ArithmeticError) as exc:
            engine.restore(saved)
            problem = f"missing {exc}" if isinstance(exc, LookupError) else str(exc)
            raise HTTPException(422, f"{what}: {problem}") from exc

    @router.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "service": contract.title, "operations": len(contract.operations)}

    @router.get("/contract")
    def document() -> dict[str, Any]:
        return contract.document

    @router.get("/operations")
    def operations() -> list[dict[str, str]]:
        return [
            {"operation_id": op.operation_id, "method": op.method, "path": op.path}
            for op in contract.operations.values()
        ]

    @router.post("/reset")
    def reset() -> dict[str, str]:
        engine.reset()
        return {"status": "reset"}

    @router.post("/seed")
    def seed(data: dict[str, Any]) -> dict[str, Any]:
        with all_or_nothing("seed data rejected"):
            behaviour.seed(data)
        return {"status": "seeded", "state": behaviour.snapshot()}

    @router.get("/state")
    def state() -> dict[str, Any]:
        return behaviour.snapshot()

    @router.get("/states")
    def provider_states() -> list[dict[str, str]]:
        return [{"pattern": s.pattern, "description": s.description} for s in behaviour.states]

    @router.post("/states")
    def change_state(change: StateChange) -> dict[str, Any]:
        if change.action == "teardown":
            return tear_down(change.state)
        if not change.state:
            return {"status": "nothing to set up", "state": ""}
        try:
            with all_or_nothing(f"provider state {change.state!r}") as saved:
                behaviour.apply_state(change.state, change.params)
        except UnknownState as exc:
            known = "; ".join(s.pattern for s in behaviour.states) or "none"
            raise HTTPException(404, f"{exc.args[0]}; known states: {known}") from exc
        engine.state_checkpoints.append((change.state, saved))
        return {"status": "set up", "state": change.state}

    def tear_down(state: str) -> dict[str, Any]:
        """Undo the set-up of `state` (and of every state set up after it), nothing more."""
        names = [name for name, _ in engine.state_checkpoints]
        if state not in names:
            return {"status": "nothing to tear down", "state": state}
        at = names.index(state)
        engine.restore(engine.state_checkpoints[at][1])
        del engine.state_checkpoints[at:]
        return {"status": "torn down", "state": state}

    @router.get("/faults")
    def list_faults() -> list[dict[str, Any]]:
        return [fault.as_dict() for fault in engine.faults.list()]

    @router.post("/faults", status_code=201)
    def add_fault(spec: FaultSpec) -> dict[str, Any]:
        if spec.operation_id is not None and spec.operation_id not in contract.operations:
            raise HTTPException(422, f"operation_id {spec.operation_id!r} is not an operation of this contract")
        return engine.faults.add(spec).as_dict()

    @router.delete("/faults")
    def clear_faults() -> dict[str, str]:
        engine.faults.clear()
        return {"status": "cleared"}

    @router.delete("/faults/{fault_id}")
    def remove_fault(fault_id: int) -> dict[str, str]:
        if not engine.faults.remove(fault_id):
            raise HTTPException(404, f"no fault {fault_id}")
        return {"status": "removed"}

    @router.get("/failures")
    def failures() -> dict[str, Any]:
        """What failed inside the mock since the last reset (each answered 500), with its traceback."""
        return {
            "total": engine.failure_count,
            "failures": [
                {"error": repr(exc), "traceback": "".join(traceback.format_exception(exc))} for exc in engine.failures
            ],
        }

    @router.get("/journal")
    def journal(
        operation_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        trace_id: str | None = Query(None, pattern="^[0-9a-f]{32}$"),
        since: int = 0,
        limit: int | None = Query(None, ge=1),
    ) -> dict[str, Any]:
        entries = engine.journal.find(
            operation_id=operation_id,
            method=method,
            path=path,
            status=status,
            trace_id=trace_id,
            since=since,
            limit=limit,
        )
        return {"total": engine.journal.total, "entries": [e.as_dict() for e in entries]}

    @router.delete("/journal")
    def clear_journal() -> dict[str, str]:
        engine.journal.clear()
        return {"status": "cleared"}

    @router.get("/token-check")
    def token_check() -> dict[str, object]:
        check = engine.token_check
        return {"required": check is not None, "introspect_url": getattr(check, "introspect_url", None)}

    @router.put("/token-check")
    async def require_tokens(change: TokenCheckChange) -> dict[str, object]:
        if isinstance(engine.token_check, IntrospectionCheck):
            await engine.token_check.aclose()
        engine.token_check = IntrospectionCheck(change.introspect_url)
        return token_check()

    @router.delete("/token-check")
    async def accept_any() -> dict[str, object]:
        if isinstance(engine.token_check, IntrospectionCheck):
            await engine.token_check.aclose()
        engine.token_check = None
        return token_check()

    @router.get("/clock")
    def clock() -> dict[str, object]:
        return behaviour.clock.describe()

    @router.post("/clock")
    def change_clock(change: ClockChange) -> dict[str, object]:
        saved = dict(vars(behaviour.clock))
        try:
            if change.reset:
                behaviour.clock.reset()
            if change.freeze_at is not None:
                behaviour.clock.freeze(change.freeze_at)
            if change.advance_seconds is not None:
                behaviour.clock.advance(change.advance_seconds)
        except ValueError as exc:
            vars(behaviour.clock).update(saved)  # all or nothing, like every admin change
            raise HTTPException(422, str(exc)) from exc
        return behaviour.clock.describe()

    return router
