"""No input breaks a mock: what the contract allows never gets a 500, and admin mistakes are 422s.

Each case here answered 500 once (or left the mock answering 500 until reset): found by
schemathesis, by hand-made extremes and by trying the admin surface with hostile input.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from harness.servers import InProcessMocks, LiveMocks
from mocks.app import create_app
from mocks.engine import MockSettings
from mocks.registry import build_mock
from mocks.transport import MockTransport

pytestmark = pytest.mark.anyio


def day(strategy_id: int, metric_date: str, pnl: str) -> dict[str, Any]:
    return {"strategy_id": strategy_id, "metric_date": metric_date, "day_pnl": pnl, "realized_pnl": pnl,
            "unrealized_pnl": "0"}  # fmt: skip


async def readable(client: httpx.AsyncClient, strategy_id: int) -> list[dict[str, Any]]:
    """The strategy's stored days; every read of it must still answer 200."""
    metrics = await client.get("/analytics/pnl/metrics", params={"strategy_id": strategy_id})
    drawdown = await client.get("/analytics/pnl/drawdown", params={"strategy_id": strategy_id})
    before: dict[str, str | int] = {"strategy_id": strategy_id, "before_date": "2100-01-01"}
    previous = await client.get("/analytics/pnl/previous-cumulative", params=before)
    assert (metrics.status_code, drawdown.status_code, previous.status_code) == (200, 200, 200), metrics.text
    return list(metrics.json()["items"])


@pytest.mark.parametrize(
    ("days", "problem"),
    [
        ([("2026-11-01", "999999999999999"), ("2026-11-02", "999999999999999")], "cumulative_pnl of 10^15"),
        ([("2026-11-01", "-999999999999999"), ("2026-11-02", "-999999999999999")], "cumulative_pnl of 10^15"),
        ([("2026-11-01", "0.0001"), ("2026-11-02", "-999999999999")], "drawdown_pct of 1,000,000 %"),
    ],
)
async def test_an_upsert_whose_derived_figures_leave_the_contract_is_422_and_stores_nothing(
    mocks: InProcessMocks, days: list[tuple[str, str]], problem: str
) -> None:
    async with mocks.client("analytics-service") as client:
        first = await client.post("/analytics/pnl/calculate", json=day(5, *days[0]))
        second = await client.post("/analytics/pnl/calculate", json=day(5, *days[1]))
        stored = await readable(client, 5)
    assert first.status_code == 201
    assert second.status_code == 422
    assert second.json()["violations"] == [{"location": "body", "field": "day_pnl", "reason": second.json()[
        "violations"][0]["reason"]}]  # fmt: skip
    assert problem in second.json()["message"]
    assert [m["metric_date"] for m in stored] == [days[0][0]]  # the refused day was not kept


async def test_a_bulk_upsert_is_refused_whole_naming_the_item(mocks: InProcessMocks) -> None:
    items = [
        day(6, "2026-11-01", "10"),
        day(6, "2026-11-02", "999999999999980"),
        day(6, "2026-11-03", "10"),
    ]
    async with mocks.client("analytics-service") as client:
        response = await client.post("/analytics/pnl/bulk-calculate", json={"items": items})
        stored = await readable(client, 6)
    assert response.status_code == 422
    assert [v["field"] for v in response.json()["violations"]] == ["items.2.day_pnl"]
    assert stored == []  # all or nothing


@pytest.mark.parametrize(
    "at",
    ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00-23:59", "9999-12-31T23:59:59+23:59",
     "1999-12-31T23:59:59Z", "2101-01-01T00:00:00Z", "0999-01-01T00:00:00Z"],
)  # fmt: skip
async def test_a_market_status_outside_the_calendars_range_is_422_naming_at(mocks: InProcessMocks, at: str) -> None:
    async with mocks.client("calendar-service") as client:
        response = await client.get("/calendar/NSE/status", params={"at": at})
    assert response.status_code == 422, response.text
    assert [v["field"] for v in response.json()["violations"]] == ["at"]


@pytest.mark.parametrize(
    ("at", "expected_at"),
    [
        ("2026-12-31T23:59:60Z", "2027-01-01T05:29:59+05:30"),  # a leap second reads as :59
        ("2000-01-01T00:00:00+23:59", "1999-12-31T05:31:00+05:30"),  # the year as written decides
        ("2100-12-31T23:59:59-23:59", "2101-01-02T05:28:59+05:30"),
    ],
)
async def test_edges_and_leap_seconds_are_answered(mocks: InProcessMocks, at: str, expected_at: str) -> None:
    async with mocks.client("calendar-service") as client:
        response = await client.get("/calendar/NSE/status", params={"at": at})
    assert response.status_code == 200, response.text
    assert response.json()["at"] == expected_at


async def test_a_year_without_a_holiday_list_has_none_and_trades_every_weekday(mocks: InProcessMocks) -> None:
    """What the calendar contract documents for years other than 2026."""
    async with mocks.client("calendar-service") as client:
        holidays = (await client.get("/calendar/NSE/holidays", params={"year": 2031})).json()
        christmas = (await client.get("/calendar/NSE/days/2031-12-25")).json()  # a Thursday
        sunday = (await client.get("/calendar/NSE/days/2031-12-28")).json()
    assert holidays["items"] == []
    assert christmas["is_trading_day"] is True
    assert [s["kind"] for s in christmas["sessions"]] == ["pre_open", "normal", "post_close"]
    assert sunday["is_trading_day"] is False


HOSTILE_ADMIN = [
    ("/__admin/seed", {"snapshots": {"42": 5}}),
    ("/__admin/seed", {"snapshots": {"42": {"as_of": "yesterday"}}}),
    ("/__admin/seed", {"strategies": [{"strategy_id": 1e400, "account_id": "ZX1234"}]}),
    ("/__admin/seed", {"strategies": [{"strategy_id": "1e400", "account_id": "ZX1234"}]}),
    ("/__admin/seed", {"strategies": [{"strategy_id": 10**30, "account_id": "ZX1234"}]}),
    ("/__admin/seed", {"strategies": [{"strategy_id": 42, "account_id": "ZX1234", "status": "sleeping"}]}),
    ("/__admin/seed", {"strategies": [{"strategy_id": 44, "account_id": "ZX1234"}, {"strategy_id": 0}]}),
    ("/__admin/seed", {"positions": {"42": [{"tradingsymbol": "x"}]}}),
    ("/__admin/seed", {"positions": {"42": 7}}),
    ("/__admin/clock", {"advance_seconds": 1e308}),
    ("/__admin/clock", {"advance_seconds": 300_000_000_000}),
    ("/__admin/clock", {"advance_seconds": -1e10}),
    ("/__admin/clock", {"freeze_at": "9999-12-31T23:59:59+05:30"}),
    ("/__admin/clock", {"reset": True, "advance_seconds": 1e308}),
    ("/__admin/states", {"state": "strategy 99999999999999999999999999999 exists"}),
    ("/__admin/states", {"state": "strategy 0 exists"}),
]


@pytest.mark.parametrize(("path", "body"), HOSTILE_ADMIN, ids=[str(b) for _, b in HOSTILE_ADMIN])
async def test_no_admin_call_can_break_the_mock(path: str, body: dict[str, Any]) -> None:
    app = build_mock("strategy-service")
    async with httpx.AsyncClient(transport=MockTransport(app), base_url="http://strategy.mock.test") as client:
        await client.post("/__admin/clock", json={"freeze_at": "2026-11-26T11:00:00+05:30"})
        before = (await client.get("/__admin/state")).json()
        clock = (await client.get("/__admin/clock")).json()
        response = await client.post(path, content=_json(body), headers={"content-type": "application/json"})
        assert response.status_code == 422, response.text
        assert response.json()["error"] == "validation_failed"
        assert response.json()["message"]
        assert (await client.get("/__admin/state")).json() == before  # nothing half-applied
        assert (await client.get("/__admin/clock")).json() == clock
        for read in ("/strategies/42/validate", "/strategies/42/portfolio", "/strategies/default/ZX1234"):
            assert (await client.get(read)).status_code == 200, read


def _json(body: dict[str, Any]) -> bytes:
    """JSON text as a client would send it: Python's json writes 1e400 as Infinity, which is not JSON."""
    import json

    return json.dumps(body).replace("Infinity", "1e400").encode()


async def test_the_journal_is_bounded_in_bytes() -> None:
    app = create_app(build_mock("strategy-service").engine.contract, settings=MockSettings(journal_bytes=200_000))
    big = {"x-padding": "p" * 10_000}  # under the header limit, so each is served and journaled
    async with httpx.AsyncClient(transport=MockTransport(app), base_url="http://strategy.mock.test") as client:
        for _ in range(100):
            assert (await client.get("/strategies/42/validate", headers=big)).status_code == 200
    journal = app.engine.journal
    assert journal.total == 100
    assert journal.bytes <= 200_000
    assert 10 <= len(journal) < 25  # the newest entries that fit, not all 100
    app.engine.reset()
    assert (len(journal), journal.bytes) == (0, 0)


async def test_oversized_headers_are_431_with_the_json_error_body(mocks: InProcessMocks) -> None:
    async with mocks.client("strategy-service") as client:
        response = await client.get("/strategies/42/validate", headers={"x-padding": "p" * 20_000})
        entries = (await client.get("/__admin/journal")).json()["entries"]
        after = await client.get("/strategies/42/validate")
    assert response.status_code == 431
    assert response.json()["error"] == "bad_request"
    assert "the limit is 16384" in response.json()["message"]
    assert entries[0]["status"] == 431
    assert entries[0]["headers"] == {}  # the journal did not keep the 20 kB header
    assert after.status_code == 200


@pytest.mark.live
async def test_a_megabyte_header_is_refused_by_a_real_server(live_mocks: LiveMocks) -> None:
    async with httpx.AsyncClient(base_url=live_mocks.url("strategy-service"), timeout=10) as client:
        response = await client.get("/strategies/42/validate", headers={"x-padding": "p" * 1_000_000})
        assert (await client.get("/strategies/42/validate")).status_code == 200
    assert response.status_code == 431
    assert response.json()["error"] == "bad_request"
