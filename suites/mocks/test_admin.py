"""The admin surface: reset, seed data, provider states, journal, clock."""

from __future__ import annotations

import pytest

from harness.servers import InProcessMocks
from mocks.journal import Journal
from mocks.registry import SERVICES

pytestmark = pytest.mark.anyio


async def test_reset_forgets_state_journal_faults_and_clock(mocks: InProcessMocks) -> None:
    async with mocks.client("strategy-service") as client:
        await client.post("/strategies/default", json={"account_id": "QQ9999"})
        await client.post(
            "/__admin/faults", json={"kind": "latency", "delay_ms": 1, "operation_id": "getStrategyPortfolio"}
        )
        await client.post("/__admin/clock", json={"advance_seconds": 3600})
        await client.post("/__admin/reset")
        default = await client.get("/strategies/default/QQ9999")
        faults = (await client.get("/__admin/faults")).json()
        clock = (await client.get("/__admin/clock")).json()
        journal = (await client.get("/__admin/journal")).json()
    assert default.status_code == 404
    assert faults == []
    assert clock["offset_seconds"] == 0
    assert [e["path"] for e in journal["entries"]] == ["/strategies/default/QQ9999"]


async def test_seed_adds_records_and_rejects_bad_data(mocks: InProcessMocks) -> None:
    async with mocks.client("account-service") as client:
        seeded = await client.post("/__admin/seed", json={"accounts": [{"account_id": "QQ1111", "tier": "cold"}]})
        bad_tier = await client.post("/__admin/seed", json={"accounts": [{"account_id": "QQ2222", "tier": "tepid"}]})
        bad_key = await client.post("/__admin/seed", json={"users": []})
        holdings = await client.get("/accounts/QQ1111/holdings")
    assert seeded.status_code == 200
    assert holdings.status_code == 200
    assert holdings.json()["holdings"] == []
    assert bad_tier.status_code == bad_key.status_code == 422
    assert "tier of QQ2222" in bad_tier.json()["message"]
    assert "users" in bad_key.json()["message"]


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_every_mock_lists_its_provider_states(mocks: InProcessMocks, service: str) -> None:
    async with mocks.client(service) as client:
        states = (await client.get("/__admin/states")).json()
    assert states, f"{service} has no provider states"
    assert all({"pattern", "description"} <= set(s) for s in states)


async def test_provider_states_set_up_and_tear_down(mocks: InProcessMocks) -> None:
    async with mocks.client("strategy-service") as client:
        missing = await client.get("/strategies/77/validate")
        setup = await client.post("/__admin/states", json={"state": "strategy 77 is paused", "action": "setup"})
        paused = (await client.get("/strategies/77/validate")).json()
        await client.post("/__admin/states", json={"state": "strategy 77 is paused", "action": "teardown"})
        gone = await client.get("/strategies/77/validate")
        unknown = await client.post("/__admin/states", json={"state": "the moon is full"})
    assert missing.status_code == 404
    assert setup.status_code == 200
    assert (paused["valid"], paused["status"]) == (False, "paused")
    assert gone.status_code == 404
    assert unknown.status_code == 404
    assert "known states" in unknown.json()["message"]


SYNC = {"as_of": "2026-11-26T15:30:00+05:30", "realized_pnl": "5", "unrealized_pnl": "0", "total_pnl": "5"}


async def test_a_state_holds_whatever_came_before(mocks: InProcessMocks) -> None:
    """A P&L sync stored earlier (as the README's signed order makes) does not survive `strategy 42 exists`."""
    async with mocks.client("strategy-service") as client:
        assert (await client.post("/strategies/42/sync-pnl", json=SYNC)).status_code == 200
        await client.post("/__admin/states", json={"state": "strategy 42 exists", "action": "setup"})
        portfolio = (await client.get("/strategies/42/portfolio")).json()
        again = await client.post("/strategies/42/sync-pnl", json=SYNC)  # the pact's first sync: not a 409
    assert portfolio["pnl"] is None
    assert portfolio["positions"]
    assert again.status_code == 200


async def test_teardown_undoes_only_what_its_set_up_did(mocks: InProcessMocks) -> None:
    async with mocks.client("strategy-service") as client:
        await client.post("/__admin/seed", json={"strategies": [{"strategy_id": 500, "account_id": "QQ5000"}]})
        await client.post("/strategies/42/sync-pnl", json=SYNC)  # the user's own data, before verification
        before = (await client.get("/__admin/state")).json()
        await client.post("/__admin/states", json={"state": "strategy 42 exists", "action": "setup"})
        await client.post("/__admin/states", json={"state": "strategy 43 does not exist", "action": "setup"})
        await client.post("/strategies/42/sync-pnl", json=SYNC)  # what the interaction did
        down = await client.post("/__admin/states", json={"state": "strategy 42 exists", "action": "teardown"})
        second = await client.post(
            "/__admin/states", json={"state": "strategy 43 does not exist", "action": "teardown"}
        )
        after = (await client.get("/__admin/state")).json()
    assert down.json()["status"] == "torn down"
    assert second.json()["status"] == "nothing to tear down"  # undone with the state set up before it
    assert after == before  # seeded strategy 500 and the earlier sync are still there


async def test_provider_state_parameters_come_from_the_name_and_params(mocks: InProcessMocks) -> None:
    async with mocks.client("account-service") as client:
        await client.post("/__admin/states", json={"state": "account QQ5555 is in tier cold"})
        tier = (await client.put("/accounts/QQ5555/tier", json={"tier": "cold"})).json()
    async with mocks.client("analytics-service") as client:
        await client.post(
            "/__admin/states",
            json={
                "state": "strategy 9 has P&L metrics",
                "params": {
                    "days": [
                        {"metric_date": "2026-11-20", "day_pnl": "10"},
                        {"metric_date": "2026-11-21", "day_pnl": "5"},
                    ]
                },
            },
        )
        previous = (
            await client.get(
                "/analytics/pnl/previous-cumulative", params={"strategy_id": 9, "before_date": "2026-11-30"}
            )
        ).json()
    assert tier["base_tier"] == "cold"
    assert previous["cumulative_pnl"] == "15"


async def test_journal_filters(mocks: InProcessMocks) -> None:
    async with mocks.client("strategy-service") as client:
        await client.get("/strategies/42/validate")
        await client.get("/strategies/999/validate")
        await client.post(
            "/strategies/42/sync-pnl",
            json={"as_of": "2026-11-26T15:30:00+05:30", "realized_pnl": "1", "unrealized_pnl": "0", "total_pnl": "1"},
            headers={"X-Trace": "abc"},
        )
        by_op = (await client.get("/__admin/journal", params={"operation_id": "validateStrategy"})).json()
        by_status = (await client.get("/__admin/journal", params={"status": 404})).json()
        posted = (await client.get("/__admin/journal", params={"method": "post"})).json()["entries"][0]
        since = (await client.get("/__admin/journal", params={"since": 2})).json()
        last = (await client.get("/__admin/journal", params={"limit": 1})).json()
    assert by_op["total"] == 3
    assert [e["path"] for e in by_op["entries"]] == ["/strategies/42/validate", "/strategies/999/validate"]
    assert [e["path"] for e in by_status["entries"]] == ["/strategies/999/validate"]
    assert posted["body"]["total_pnl"] == "1"
    assert posted["headers"]["x-trace"] == "abc"
    assert posted["status"] == 200
    assert [e["seq"] for e in since["entries"]] == [3]
    assert [e["seq"] for e in last["entries"]] == [3]


def test_journal_is_bounded_in_entries_and_body_bytes() -> None:
    journal = Journal(max_entries=3, body_limit=4)
    for n in range(10):
        journal.record("POST", f"/{n}", "", [], b"0123456789", None)
    entries = journal.find()
    assert len(journal) == 3
    assert journal.total == 10
    assert [e.path for e in entries] == ["/7", "/8", "/9"]
    assert all(e.body == b"0123" and e.body_truncated for e in entries)


async def test_clock_can_be_frozen(mocks: InProcessMocks) -> None:
    async with mocks.client("calendar-service") as client:
        frozen = await client.post("/__admin/clock", json={"freeze_at": "2026-11-28T11:00:00+05:30"})
        status = (await client.get("/calendar/NSE/status")).json()
        naive = await client.post("/__admin/clock", json={"freeze_at": "2026-11-28T11:00:00"})
    assert frozen.json()["frozen"] is True
    assert status["at"] == "2026-11-28T11:00:00+05:30"
    assert status["is_open"] is False  # a Saturday
    assert naive.status_code == 422


async def test_admin_reports_health_and_operations(mocks: InProcessMocks) -> None:
    async with mocks.client("analytics-service") as client:
        health = (await client.get("/__admin/health")).json()
        operations = (await client.get("/__admin/operations")).json()
        contract = (await client.get("/__admin/contract")).json()
    assert health["status"] == "ok"
    assert len(operations) == health["operations"] == 5
    assert contract["info"]["title"] == "Analytics service"
