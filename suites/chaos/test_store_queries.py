"""The checker reads an order service's own tables through the queries it is given (`--store-queries`)."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import pytest

from harness.chaos.cli import main as chaos_main
from harness.chaos.round import StoreQueries, load_store_queries, read_stores
from harness.errors import UsageError

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

# Another order service's schema: other table and column names, the tag in a column of its own.
SCHEMA = """
CREATE SCHEMA desk;
CREATE TABLE desk.trades (ref text PRIMARY KEY, acct text, state text, algo int, client_tag text, done bigint);
CREATE TABLE desk.request_keys (request_key text PRIMARY KEY, trade_ref text);
CREATE TABLE desk.pending_calls (call_key text, status text, trade_ref text);
INSERT INTO desk.trades VALUES ('T1', 'ZX1234', 'COMPLETE', 42, 'k1', 10), ('T2', 'ZX5678', 'OPEN', NULL, 'k2', 0);
INSERT INTO desk.request_keys VALUES ('k1', 'T1'), ('k2', 'T2'), ('k3', NULL);
INSERT INTO desk.pending_calls VALUES ('sync-T1', 'delivered', 'T1');
"""
QUERIES = {
    "orders": "SELECT ref AS order_id, acct AS account, state AS status, algo AS strategy_id, client_tag AS tag,"
    " done AS filled_quantity FROM desk.trades",
    "keys": "SELECT request_key AS key, trade_ref AS order_id FROM desk.request_keys",
    "outbox": "SELECT call_key AS key, status AS state, trade_ref AS order_id FROM desk.pending_calls",
    "pending": "SELECT count(*) FROM desk.pending_calls WHERE status = 'waiting'",
}


async def test_the_checker_reads_another_schema_through_its_queries(database_url: str, tmp_path: Path) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(SCHEMA)
    finally:
        await connection.close()
    file = tmp_path / "queries.json"
    file.write_text(json.dumps(QUERIES))
    ledger = tmp_path / "owner.ledger"
    ledger.write_text("")
    stores = await read_stores(database_url, ledger, load_store_queries(file))
    assert stores.orders == {
        "T1": {
            "order_id": "T1",
            "account": "ZX1234",
            "status": "COMPLETE",
            "strategy_id": 42,
            "tag": "k1",
            "filled_quantity": 10,
        },
        "T2": {
            "order_id": "T2",
            "account": "ZX5678",
            "status": "OPEN",
            "strategy_id": None,
            "tag": "k2",
            "filled_quantity": 0,
        },
    }
    assert stores.keys == {"k1": "T1", "k2": "T2", "k3": None}
    assert stores.outbox == [{"key": "sync-T1", "state": "delivered", "order_id": "T1"}]


def test_queries_left_out_keep_the_reference_schemas(tmp_path: Path) -> None:
    file = tmp_path / "queries.json"
    file.write_text(json.dumps({"pending": QUERIES["pending"]}))
    loaded = load_store_queries(file)
    assert loaded.pending == QUERIES["pending"]
    assert loaded.orders == StoreQueries().orders
    assert "order_service.orders" in loaded.orders


@pytest.mark.parametrize(
    ("text", "problem"),
    [("{not json", "cannot read the store queries"), ('{"trades": "SELECT 1"}', "named keys, orders, outbox, pending")],
)
def test_a_bad_queries_file_is_a_usage_error_naming_it(tmp_path: Path, text: str, problem: str) -> None:
    file = tmp_path / "queries.json"
    file.write_text(text)
    with pytest.raises(UsageError, match=problem) as caught:
        chaos_main(["--seconds", "30", "--store-queries", str(file)])
    assert str(file) in str(caught.value)
