"""The in-run baseline: a hand-written FastAPI app serving the same two routes, no engine.

It validates the POST body with a pydantic model (what a hand-written service would do),
and keeps no journal, faults or stateful store.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import FastAPI, Path
from pydantic import BaseModel, ConfigDict, Field

MONEY = r"^-?(0|[1-9][0-9]{0,14})(\.[0-9]{1,4})?$"


class PnlSync(BaseModel):
    model_config = ConfigDict(extra="forbid")
    as_of: datetime
    realized_pnl: Annotated[str, Field(pattern=MONEY)]
    unrealized_pnl: Annotated[str, Field(pattern=MONEY)]
    total_pnl: Annotated[str, Field(pattern=MONEY)]
    open_positions: Annotated[int, Field(ge=0, le=100000)] = 0


def create_baseline_app() -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/strategies/{strategy_id}/validate")
    async def validate(strategy_id: Annotated[int, Path(ge=1)]) -> dict[str, object]:
        return {
            "strategy_id": strategy_id,
            "valid": True,
            "status": "active",
            "reason": None,
            "checked_at": "2026-11-26T10:15:00+05:30",
        }

    @app.post("/strategies/{strategy_id}/sync-pnl")
    async def sync(strategy_id: Annotated[int, Path(ge=1)], body: PnlSync) -> dict[str, object]:
        return {
            "strategy_id": strategy_id,
            **body.model_dump(mode="json"),
            "version": 1,
            "synced_at": "2026-11-26T15:30:02+05:30",
        }

    return app
