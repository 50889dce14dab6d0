"""The stateful mocks behave as their owners' services would."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from harness.servers import InProcessMocks
from suites.fixtures.orders import LIMIT_ORDER

pytestmark = pytest.mark.anyio


def snapshot(as_of: str, total: str) -> dict[str, Any]:
    return {"as_of": as_of, "realized_pnl": total, "unrealized_pnl": "0", "total_pnl": total}


async def test_a_pnl_sync_reads_back_through_the_portfolio(mocks: InProcessMocks) -> None:
    async with mocks.client("strategy-service") as client:
        before = (await client.get("/strategies/42/portfolio")).json()
        first = await client.post("/strategies/42/sync-pnl", json=snapshot("2026-11-26T15:00:00+05:30", "100.5"))
        second = await client.post("/strategies/42/sync-pnl", json=snapshot("2026-11-26T15:30:00+05:30", "250"))
        after = (await client.get("/strategies/42/portfolio")).json()
    assert before["pnl"] is None
    assert first.json()["version"] == 1
    assert second.json()["version"] == 2
    assert after["pnl"]["total_pnl"] == "250"
    assert after["pnl"]["as_of"] == "2026-11-26T15:30:00+05:30"


async def test_an_older_snapshot_is_refused_and_changes_nothing(mocks: InProcessMocks) -> None:
    async with mocks.client("strategy-service") as client:
        await client.post("/strategies/42/sync-pnl", json=snapshot("2026-11-26T15:30:00+05:30", "250"))
        stale = await client.post("/strategies/42/sync-pnl", json=snapshot("2026-11-26T10:00:00Z", "1"))
        after = (await client.get("/strategies/42/portfolio")).json()
    # 10:00Z is 15:30 IST: the same instant, so it is not older and is accepted.
    assert stale.status_code == 200
    async with mocks.client("strategy-service") as client:
        older = await client.post("/strategies/42/sync-pnl", json=snapshot("2026-11-26T09:59:59Z", "1"))
        final = (await client.get("/strategies/42/portfolio")).json()
    assert older.status_code == 409
    assert older.json()["error"] == "conflict"
    assert final["pnl"]["version"] == after["pnl"]["version"]


async def test_validate_reports_paused_and_unknown_strategies(mocks: InProcessMocks) -> None:
    async with mocks.client("strategy-service") as client:
        active = (await client.get("/strategies/42/validate")).json()
        paused = (await client.get("/strategies/43/validate")).json()
        unknown = await client.get("/strategies/999/validate")
    assert (active["valid"], active["reason"]) == (True, None)
    assert (paused["valid"], paused["status"]) == (False, "paused")
    assert paused["reason"]
    assert unknown.status_code == 404


async def test_default_strategy_create_then_get(mocks: InProcessMocks) -> None:
    async with mocks.client("strategy-service") as client:
        missing = await client.get("/strategies/default/QQ9999")
        created = await client.post("/strategies/default", json={"account_id": "QQ9999", "name": "Main"})
        repeated = await client.post("/strategies/default", json={"account_id": "QQ9999"})
        fetched = await client.get("/strategies/default/QQ9999")
    assert missing.status_code == 404
    assert created.status_code == 201
    assert repeated.status_code == 200
    assert repeated.json() == created.json() == fetched.json()
    assert fetched.json()["is_default"] is True
    assert fetched.json()["name"] == "Main"


async def test_idempotency_key_replays_the_first_result(mocks: InProcessMocks) -> None:
    headers = {"Idempotency-Key": "sync-42-0001"}
    async with mocks.client("strategy-service") as client:
        first = await client.post(
            "/strategies/42/sync-pnl", json=snapshot("2026-11-26T15:00:00+05:30", "1"), headers=headers
        )
        replay = await client.post(
            "/strategies/42/sync-pnl", json=snapshot("2026-11-26T15:00:00+05:30", "1"), headers=headers
        )
        journal = (await client.get("/__admin/journal", params={"operation_id": "syncStrategyPnl"})).json()
        portfolio = (await client.get("/strategies/42/portfolio")).json()
    assert replay.json() == first.json()
    assert portfolio["pnl"]["version"] == 1  # stored once
    assert [e["replayed"] for e in journal["entries"]] == [False, True]


async def test_a_promotion_is_hot_until_it_expires(mocks: InProcessMocks) -> None:
    async with mocks.client("account-service") as client:
        promoted = (await client.post("/accounts/ZX1234/promote-tier", json={"duration_minutes": 30})).json()
        await client.post("/__admin/clock", json={"advance_seconds": 29 * 60})
        during = (await client.get("/accounts/by-tier/hot", params={"limit": 500})).json()
        await client.post("/__admin/clock", json={"advance_seconds": 2 * 60})
        after = (await client.get("/accounts/by-tier/warm", params={"limit": 500})).json()
        summary = (await client.get("/accounts/tier-summary")).json()
    assert (promoted["tier"], promoted["base_tier"]) == ("hot", "warm")
    assert promoted["promoted_until"] is not None
    assert "ZX1234" in {a["account_id"] for a in during["items"]}
    mine = next(a for a in after["items"] if a["account_id"] == "ZX1234")
    assert (mine["tier"], mine["promoted_until"]) == ("warm", None)
    assert summary["promoted"] == 0


async def test_a_shorter_promotion_never_cuts_a_longer_one(mocks: InProcessMocks) -> None:
    async with mocks.client("account-service") as client:
        long = (await client.post("/accounts/ZX1234/promote-tier", json={"duration_minutes": 120})).json()
        short = (await client.post("/accounts/ZX1234/promote-tier", json={"duration_minutes": 5})).json()
    assert short["promoted_until"] == long["promoted_until"]


async def test_tier_update_keeps_an_active_promotion(mocks: InProcessMocks) -> None:
    async with mocks.client("account-service") as client:
        await client.post("/accounts/ZX1234/promote-tier", json={"duration_minutes": 10})
        updated = (await client.put("/accounts/ZX1234/tier", json={"tier": "cold"})).json()
        unknown = await client.put("/accounts/QQ0000/tier", json={"tier": "cold"})
    assert (updated["tier"], updated["base_tier"]) == ("hot", "cold")
    assert unknown.status_code == 404


async def test_by_tier_pages_through_every_account_once(mocks: InProcessMocks) -> None:
    seen: list[str] = []
    async with mocks.client("account-service") as client:
        total = (await client.get("/accounts/tier-summary")).json()["counts"]["cold"]
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/accounts/by-tier/cold", params=params)).json()
            seen += [a["account_id"] for a in page["items"]]
            assert page["total"] == total
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert len(seen) == len(set(seen)) == total == 10
    assert seen == sorted(seen)


async def calculate(client: httpx.AsyncClient, day: str, pnl: str) -> httpx.Response:
    body = {"strategy_id": 42, "metric_date": day, "day_pnl": pnl, "realized_pnl": pnl, "unrealized_pnl": "0"}
    return await client.post("/analytics/pnl/calculate", json=body)


async def test_calculate_is_an_upsert_and_derived_figures_follow(mocks: InProcessMocks) -> None:
    async with mocks.client("analytics-service") as client:
        created = await calculate(client, "2026-11-24", "1000")
        await calculate(client, "2026-11-25", "-400")
        updated = await calculate(client, "2026-11-24", "1500")  # a correction of the first day
        metrics = (await client.get("/analytics/pnl/metrics", params={"strategy_id": 42})).json()["items"]
        previous = (
            await client.get(
                "/analytics/pnl/previous-cumulative", params={"strategy_id": 42, "before_date": "2026-11-26"}
            )
        ).json()
        none_before = (
            await client.get(
                "/analytics/pnl/previous-cumulative", params={"strategy_id": 42, "before_date": "2026-11-24"}
            )
        ).json()
    assert created.status_code == 201
    assert updated.status_code == 200
    assert updated.json()["version"] == 2
    assert [m["cumulative_pnl"] for m in metrics] == ["1500", "1100"]
    assert metrics[1]["high_water_mark"] == "1500"
    assert metrics[1]["drawdown"] == "400"
    assert metrics[1]["drawdown_pct"] == "26.6667"
    assert (previous["metric_date"], previous["cumulative_pnl"]) == ("2026-11-25", "1100")
    assert (none_before["metric_date"], none_before["cumulative_pnl"]) == (None, "0")


async def test_drawdown_finds_peak_and_trough(mocks: InProcessMocks) -> None:
    async with mocks.client("analytics-service") as client:
        for day, pnl in [
            ("2026-11-02", "100"),
            ("2026-11-03", "200"),
            ("2026-11-04", "-250"),
            ("2026-11-05", "50"),
            ("2026-11-06", "20"),
        ]:
            await calculate(client, day, pnl)
        drawdown = (await client.get("/analytics/pnl/drawdown", params={"strategy_id": 42})).json()
        empty = (await client.get("/analytics/pnl/drawdown", params={"strategy_id": 7})).json()
    # cumulative: 100, 300, 50, 100, 120; peak 300 on the 3rd, trough 50 on the 4th
    assert drawdown["max_drawdown"] == "250"
    assert drawdown["max_drawdown_pct"] == "83.3333"
    assert (drawdown["peak_date"], drawdown["trough_date"]) == ("2026-11-03", "2026-11-04")
    assert drawdown["current_drawdown"] == "180"
    assert drawdown["days"] == 5
    assert (empty["days"], empty["max_drawdown"], empty["peak_date"]) == (0, "0", None)


async def test_bulk_calculate_applies_items_in_order(mocks: InProcessMocks) -> None:
    items = [
        {"strategy_id": 42, "metric_date": "2026-11-24", "day_pnl": "10", "realized_pnl": "10", "unrealized_pnl": "0"},
        {"strategy_id": 42, "metric_date": "2026-11-24", "day_pnl": "20", "realized_pnl": "20", "unrealized_pnl": "0"},
        {"strategy_id": 43, "metric_date": "2026-11-24", "day_pnl": "5", "realized_pnl": "5", "unrealized_pnl": "0"},
    ]
    async with mocks.client("analytics-service") as client:
        result = (await client.post("/analytics/pnl/bulk-calculate", json={"items": items})).json()
        bad = await client.post(
            "/analytics/pnl/bulk-calculate", json={"items": [items[0], {**items[2], "day_pnl": "x"}]}
        )
        after = (await client.get("/analytics/pnl/metrics", params={"strategy_id": 43})).json()["items"]
    assert (result["created"], result["updated"]) == (2, 1)
    assert [r["status"] for r in result["results"]] == ["created", "updated", "created"]
    assert result["results"][1]["metric"]["day_pnl"] == "20"
    assert bad.status_code == 422
    assert {v["field"] for v in bad.json()["violations"]} == {"items.1.day_pnl"}
    assert [m["day_pnl"] for m in after] == ["5"]  # the failed bulk stored nothing


async def test_config_service_answers_every_mock(mocks: InProcessMocks) -> None:
    async with mocks.client("config-service") as client:
        listing = (await client.get("/services")).json()["items"]
        one = (await client.get("/services/analytics-service")).json()
        missing = await client.get("/services/billing-service")
    assert {s["name"] for s in listing} == set(mocks.apps)
    assert one["base_url"] == "http://analytics-service.mock.test"
    assert missing.status_code == 404


async def test_calendar_knows_weekends_holidays_and_special_sessions(mocks: InProcessMocks) -> None:
    async with mocks.client("calendar-service") as client:
        weekday = (await client.get("/calendar/NSE/days/2026-11-26")).json()
        saturday = (await client.get("/calendar/NSE/days/2026-11-28")).json()
        holiday = (await client.get("/calendar/NSE/days/2026-10-02")).json()
        muhurat = (await client.get("/calendar/NSE/days/2026-11-08")).json()
        closing = (await client.get("/calendar/NSE/status", params={"at": "2026-11-26T15:30:00+05:30"})).json()
        after = (await client.get("/calendar/NSE/status", params={"at": "2026-11-26T15:30:01+05:30"})).json()
        friday_night = (await client.get("/calendar/NSE/status", params={"at": "2026-11-27T20:00:00+05:30"})).json()
        mcx = (await client.get("/calendar/MCX/status", params={"at": "2026-11-26T21:00:00+05:30"})).json()
    assert weekday["is_trading_day"]
    assert weekday["holiday"] is None
    assert not saturday["is_trading_day"]
    assert saturday["sessions"] == []
    assert holiday["holiday"]["name"] == "Mahatma Gandhi Jayanti"
    assert [s["kind"] for s in muhurat["sessions"]] == ["muhurat"]
    assert (closing["is_open"], closing["session"]) == (True, "normal")  # the close is inside the session
    assert after["is_open"] is False
    assert after["next_change"] == "2026-11-26T15:40:00+05:30"  # post-close session
    assert friday_night["next_change"] == "2026-11-30T09:00:00+05:30"  # skips the weekend
    assert (mcx["is_open"], mcx["session"]) == (True, "evening")


async def test_order_lifecycle(mocks: InProcessMocks) -> None:
    headers = {
        "authorization": "Bearer aaa.bbb.ccc",
        "x-service-identity": "algo_engine",
        "x-internal-api-key": "dev-algo-engine-key-0001",
        "x-request-timestamp": "1795700000",
        "x-request-signature": "0" * 64,
        "x-trading-account-id": "ZX1234",
    }
    limit = LIMIT_ORDER
    async with mocks.client("order-service", headers=headers) as client:
        placed = (await client.post("/orders", json=limit)).json()
        modified = (await client.patch(f"/orders/{placed['order_id']}", json={"quantity": 20})).json()
        cancelled = (await client.delete(f"/orders/{placed['order_id']}")).json()
        again = await client.delete(f"/orders/{placed['order_id']}")
        market = (await client.post("/orders", json={**limit, "order_type": "MARKET", "price": None} | {})).status_code
        filled = (
            await client.post(
                "/orders", json={k: v for k, v in {**limit, "order_type": "MARKET"}.items() if k != "price"}
            )
        ).json()
        positions = (await client.get("/positions")).json()
        other = await client.get(f"/orders/{placed['order_id']}", headers={"x-trading-account-id": "AB1001"})
        listed = (await client.get("/orders", params={"status": "CANCELLED"})).json()["items"]
    assert placed["status"] == "OPEN"
    assert modified["quantity"] == 20
    assert modified["pending_quantity"] == 20
    assert (cancelled["status"], cancelled["cancelled_quantity"]) == ("CANCELLED", 20)
    assert again.status_code == 409
    assert market == 422  # price: null is not a price
    assert filled["status"] == "COMPLETE"
    assert positions["net"][0]["quantity"] == 10
    assert other.status_code == 404  # another account's order is invisible
    assert [o["order_id"] for o in listed] == [placed["order_id"]]
