"""The consumer side of the order service's own API: how algo_engine places, modifies and cancels orders.

Small on purpose: the calls algo_engine makes, each signed by the order service's own
`RequestSigner` (v2) with the user token and the account it acts for. The pacts it writes
(`pacts/algo-engine-order-service.json`) are verified against the reference service with
every replayed request signed afresh (`suites/pact/test_provider_order_service.py`).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx

CONSUMER = "algo-engine"
PROVIDER = "order-service"


class AlgoEngineOrders:
    """algo_engine's client of the order endpoints."""

    def __init__(self, base_url: str, auth: httpx.Auth, token: str, account: str) -> None:
        headers = {"authorization": f"Bearer {token}", "x-trading-account-id": account}
        self._http = httpx.AsyncClient(base_url=base_url, auth=auth, headers=headers, timeout=10)

    async def __aenter__(self) -> AlgoEngineOrders:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self._http.aclose()

    async def place(self, order: dict[str, Any], key: str) -> dict[str, Any]:
        """Place an order once per `key`; the order as placed."""
        return _json(await self._http.post("/orders", json=order, headers={"idempotency-key": key}))

    async def modify(self, order_id: str, change: dict[str, Any]) -> dict[str, Any]:
        return _json(await self._http.patch(f"/orders/{order_id}", json=change))

    async def cancel(self, order_id: str) -> dict[str, Any]:
        return _json(await self._http.delete(f"/orders/{order_id}"))


def _json(answer: httpx.Response) -> dict[str, Any]:
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return body
