"""The example consumer's tests: only the harness plugin's fixtures and marker, nothing of its repository."""

from __future__ import annotations

import httpx
import pytest
from strategy_check import strategy_is_active, strategy_is_active_async


def test_an_active_strategy_over_a_real_socket(harness_live_mocks):
    assert strategy_is_active(harness_live_mocks.url("strategy-service"), 42)
    harness_live_mocks.service("strategy-service").assert_called("validateStrategy", times=1)


@pytest.mark.harness_fault("strategy-service", "status", status=503, times=1, operation_id="validateStrategy")
def test_one_503_is_tried_again(harness_live_mocks):
    assert strategy_is_active(harness_live_mocks.url("strategy-service"), 42)
    entries = harness_live_mocks.service("strategy-service").assert_called("validateStrategy", times=2)
    assert [entry["status"] for entry in entries] == [503, 200]


def test_an_outage_longer_than_the_retries_is_an_error(harness_live_mocks):
    strategy = harness_live_mocks.service("strategy-service")
    with strategy.outage(kind="status", status=503), pytest.raises(httpx.HTTPStatusError):
        strategy_is_active(strategy.url, 42)
    assert strategy_is_active(strategy.url, 42)  # the outage ended with the block


@pytest.mark.anyio
async def test_in_process_without_a_socket(harness_mocks):
    async with harness_mocks.client("strategy-service") as client:
        assert await strategy_is_active_async(client, 42)
    harness_mocks.service("strategy-service").assert_called("validateStrategy", times=1)


@pytest.fixture
def anyio_backend():
    return "asyncio"
