"""The audit trail and the log lines: every refusal audited, anomaly lines naming their order, JSON lines."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio as aioredis

from order_service import logs
from order_service.api.app import create_app
from order_service.security.dev import dev_security_settings, dev_signer, dev_user_token
from order_service.services.order_anomaly_detector import IST
from order_service.settings import RateLimitSettings, Settings
from suites.fixtures.orders import LIMIT_ORDER, as_served
from suites.fixtures.redis import RealRedis

pytestmark = pytest.mark.anyio


def lines(caplog: pytest.LogCaptureFixture, tag: str) -> list[dict[str, Any]]:
    return [
        json.loads(r.getMessage().removeprefix(tag + " ")) for r in caplog.records if r.getMessage().startswith(tag)
    ]


@pytest.fixture
async def api(real_redis: RealRedis, redis_client: redis.Redis) -> AsyncIterator[httpx.AsyncClient]:
    client = aioredis.Redis.from_url(real_redis.url)
    settings = Settings(security=dev_security_settings(), rate_limit=RateLimitSettings(per_account=2))
    app = await as_served(create_app(settings, redis=client, clock=lambda: datetime(2026, 11, 26, 11, 0, tzinfo=IST)))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://order.test",
        auth=dev_signer("algo_engine"),
        headers={"authorization": f"Bearer {dev_user_token()}", "x-trading-account-id": "ZX1234"},
    ) as http:
        yield http
    await client.aclose()


@pytest.mark.redis
async def test_every_refused_order_request_is_audited(api: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="order_service.audit")
    await api.post("/orders", json={**LIMIT_ORDER, "quantity": 0})  # 422
    await api.patch("/orders/261126999999999", json={"quantity": 2})  # 404
    for _ in range(3):
        await api.post("/orders", json=LIMIT_ORDER)  # the third is over the limit of 2: 429
    refused = [(e["status"], e["error"]) for e in lines(caplog, "AUDIT_EVENT") if e["event"] == "order_refused"]
    assert refused == [(422, "validation_failed"), (404, "not_found"), (429, "rate_limited")]


@pytest.mark.redis
async def test_an_anomaly_line_names_the_order_it_was_found_on(
    api: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="order_service")
    placed = (await api.post("/orders", json={**LIMIT_ORDER, "quantity": 200_000, "price": "1"})).json()
    (line,) = lines(caplog, "ORDER_ANOMALY_CRITICAL")
    assert line["order_id"] == placed["order_id"]
    assert line["rule"] == "large_order_size"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    service_level = logging.getLogger("order_service").level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("order_service").setLevel(service_level)


def test_json_lines_go_to_a_file_with_the_tag_and_the_fields(tmp_path: Path, restore_logging: None) -> None:
    target = tmp_path / "service.log"
    logs.configure("INFO", "json", target)
    logging.getLogger("order_service.audit").info('AUDIT_EVENT {"event": "order_placed", "order_id": "1"}')
    logging.getLogger("order_service.x").debug("not at INFO")
    logging.getLogger("some.library").info("libraries: warnings and worse only")
    (line,) = [json.loads(text) for text in target.read_text().splitlines()]
    assert line["event"] == "AUDIT_EVENT"
    assert line["fields"] == {"event": "order_placed", "order_id": "1"}
    assert line["message"].startswith("AUDIT_EVENT ")  # the seed's queries search the message
    assert line["level"] == "INFO"


def test_the_text_format_is_one_plain_line(tmp_path: Path, restore_logging: None) -> None:
    target = tmp_path / "service.log"
    logs.configure("WARNING", "text", target)
    logging.getLogger("order_service.relay").warning("OUTBOX_DELIVERY_PAUSED strategy-service: 503")
    logging.getLogger("order_service.relay").info("below the level")
    (text,) = target.read_text().splitlines()
    assert text.endswith("WARNING order_service.relay OUTBOX_DELIVERY_PAUSED strategy-service: 503")
