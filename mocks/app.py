"""A mock app: the engine for the contract's operations, FastAPI for the admin surface.

Requests under `/__admin` (kept out of the contract) and the lifespan go to FastAPI; every
other request goes straight to the `Engine`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from mocks.admin import build_admin_router, install_error_handlers
from mocks.behaviour import Behaviour
from mocks.clock import MockClock
from mocks.contract import Contract, compile_schema, load_contract
from mocks.engine import ADMIN_PREFIX, Engine, MockSettings, Receive, Scope, Send


def _component_validators(contract: Contract) -> Callable[[str], Any]:
    """A compiled validator per component schema of `contract`, compiled on first use."""
    components = contract.document.get("components", {})

    @functools.cache
    def validator(name: str) -> Any:
        if name not in components.get("schemas", {}):
            raise ValueError(f"{contract.path.name} has no schema {name!r}")
        return compile_schema({"$ref": f"#/components/schemas/{name}"}, components)

    return validator


class MockApp(FastAPI):
    """A FastAPI app whose contract operations are served by an `Engine`."""

    engine: Engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Contract operations to the engine; the admin surface and the lifespan to FastAPI."""
        if scope["type"] == "http" and not scope["path"].startswith(ADMIN_PREFIX):
            await self.engine(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(
    contract: Contract | str | Path,
    behaviour: Behaviour | None = None,
    *,
    settings: MockSettings | None = None,
    clock: MockClock | None = None,
) -> MockApp:
    """Build a mock of `contract`; `behaviour` defaults to answering contract examples.

    Raises:
        ContractError: the contract cannot be served (named, with the problem).
    """
    if not isinstance(contract, Contract):
        contract = load_contract(contract)
    if behaviour is None:
        behaviour = Behaviour(clock or MockClock())
    unknown = set(behaviour.handlers) - set(contract.operations)
    if unknown:
        raise ValueError(f"handlers for operations the contract lacks: {sorted(unknown)}")
    app = MockApp(title=f"{contract.title} (mock)", docs_url=None, redoc_url=None, openapi_url=None)
    behaviour.schemas = _component_validators(contract)
    app.engine = Engine(contract, behaviour, settings or MockSettings())
    app.include_router(build_admin_router(app.engine), prefix=ADMIN_PREFIX)
    install_error_handlers(app)
    return app
