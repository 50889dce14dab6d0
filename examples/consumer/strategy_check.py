"""The consumer's code under test: asks the strategy service whether a strategy may trade."""

from __future__ import annotations

import httpx


def strategy_is_active(base_url: str, strategy_id: int, *, tries: int = 2) -> bool:
    """True when the strategy service says the strategy is valid; a 503 is tried again."""
    for attempt in range(1, tries + 1):
        response = httpx.get(f"{base_url}/strategies/{strategy_id}/validate", timeout=5)
        if response.status_code == 503 and attempt < tries:
            continue
        response.raise_for_status()
        return bool(response.json()["valid"])
    raise AssertionError("unreachable")


async def strategy_is_active_async(client: httpx.AsyncClient, strategy_id: int) -> bool:
    """The same question on a client the caller owns (an in-process mock's, in the tests)."""
    response = await client.get(f"/strategies/{strategy_id}/validate")
    response.raise_for_status()
    return bool(response.json()["valid"])
