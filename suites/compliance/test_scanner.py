"""The schema-boundary scanner: zero findings in order_service, and every planted violation found."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from order_service.compliance.scanner import Schema, own_schema, scan_source

ROOT = Path(__file__).resolve().parents[2]


def kinds(source: str) -> list[tuple[int, str, bool]]:
    return [(f.line, f.kind, f.legacy) for f in scan_source(source, "planted.py")]


def test_the_order_service_has_no_finding() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "order_service.compliance", str(ROOT / "order_service"), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout
    assert json.loads(result.stdout) == {"violations": [], "legacy": []}


PLANTED = '''
from sqlalchemy import text

def old_paths(session, strategy_id, pnl):
    session.execute(text("SELECT strategy_id FROM public.strategy WHERE strategy_id = :id"))  # 5
    session.execute("UPDATE PUBLIC.Strategy SET total_pnl = :pnl WHERE strategy_id = :id")  # 6
    session.execute('SELECT * FROM "public"."kite_accounts" ka JOIN user_service.trading_accounts ta '
                    'ON ta.broker_account_id = ka.account_id')  # 7: joined across two lines
    session.execute(f"INSERT INTO public . strategy_pnl_metrics (strategy_id, day_pnl) VALUES ({strategy_id}, {pnl})")
    session.execute("""
        WITH h AS (SELECT * FROM public.holdings) SELECT count(*) FROM h
    """)  # 10
    session.execute("DELETE FROM public.portfolio WHERE id = 1")  # Legacy: removed with the old batch job
    base = "http://localhost:8089"  # 14
    calendar = f"http://calendar-service:8013/calendar/{strategy_id}"  # 15
'''


def test_every_planted_violation_is_found_however_spelled() -> None:
    assert kinds(PLANTED) == [
        (5, "foreign_table", False),
        (6, "foreign_table", False),
        (7, "foreign_table", False),
        (7, "other_schema", False),  # user_service.trading_accounts: another service's schema too
        (9, "foreign_table", False),
        (10, "foreign_table", False),
        (13, "foreign_table", True),
        (14, "hardcoded_url", False),
        (15, "hardcoded_url", False),
    ]


NOT_VIOLATIONS = '''
"""Docs may say public.strategy moved to the strategy service; see http://localhost:8101 for the mock."""

LOG = "syncing public.strategy totals through the API"  # prose, not SQL
OWN = "SELECT order_id FROM order_service.orders WHERE account = $1"  # the order service's own schema
COLUMN = "SELECT public_strategy FROM order_service.outbox"  # a column named like it
NAMED = "WITH recent AS (SELECT * FROM order_service.orders) SELECT * FROM recent"  # a CTE is no table
def f():
    # public.strategy in a comment is no access
    return public_dot_strategy  # noqa
'''


def test_prose_own_tables_and_comments_are_not_findings() -> None:
    assert kinds(NOT_VIOLATIONS) == []


OUTSIDE_THE_SCHEMA = """
SUMMARY = "SELECT * FROM public.strategy_summary"  # 2: not the seed's list, still not ours
AUDIT = "INSERT INTO audit.events (e) VALUES ($1)"  # 3
BARE = "SELECT * FROM orders WHERE order_id = $1"  # 4: the search path decides
GHOST = "UPDATE order_service.ghosts SET x = 1"  # 5: no migration creates it
"""


def test_the_code_may_touch_only_the_tables_its_migrations_create() -> None:
    assert kinds(OUTSIDE_THE_SCHEMA) == [
        (2, "other_schema", False),
        (3, "other_schema", False),
        (4, "unqualified_table", False),
        (5, "unknown_table", False),
    ]


def test_the_scanner_reads_the_service_s_own_sql() -> None:
    """Not a vacuous pass: with a schema that lacks the outbox, the store's outbox SQL is found."""
    source = (ROOT / "order_service" / "orders" / "postgres.py").read_text()
    schema = own_schema()
    narrower = Schema(schema.name, schema.tables - {"outbox"})
    assert {"orders", "fills", "positions", "idempotency_keys", "outbox", "schema_migrations"} <= schema.tables
    found = scan_source(source, "postgres.py", narrower)
    assert found
    assert {f.kind for f in found} == {"unknown_table"}
    assert {f.detail for f in found} == {"SQL touches order_service.outbox, which no migration creates"}


def test_grep_would_get_it_wrong_both_ways() -> None:
    """What `rg "public\\."` reports differs from what the scanner reports, on both sides."""
    grep_lines = {
        n for n, line in enumerate((PLANTED + NOT_VIOLATIONS).splitlines(), 1) if re.search(r"public\.", line)
    }
    planted_found = {line for line, kind, _ in kinds(PLANTED) if kind == "foreign_table"}
    missed_by_grep = planted_found - grep_lines  # PUBLIC.Strategy, "public"."kite_accounts", public . strategy_…
    assert {6, 7, 9} <= missed_by_grep
    offset = len(PLANTED.splitlines())
    flagged_by_grep = {n - offset for n in grep_lines if n > offset}
    assert flagged_by_grep  # the docstring, the log message, the other table, the comment ...
    assert kinds(NOT_VIOLATIONS) == []  # ... none of which is access


def test_the_command_fails_on_a_violation_and_reports_text_and_json(tmp_path: Path) -> None:
    (tmp_path / "repo.py").write_text(PLANTED)
    text = subprocess.run(
        [sys.executable, "-m", "order_service.compliance", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    as_json = subprocess.run(
        [sys.executable, "-m", "order_service.compliance", str(tmp_path), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert text.returncode == as_json.returncode == 1
    assert "repo.py:5: foreign_table: SQL touches public.strategy" in text.stdout
    assert "repo.py:13: foreign_table (legacy)" in text.stdout
    assert text.stdout.strip().endswith(f"8 violation(s), 1 legacy line(s) in {tmp_path}")
    report = json.loads(as_json.stdout)
    assert len(report["violations"]) == 8
    assert [f["line"] for f in report["legacy"]] == [13]


def test_legacy_lines_alone_pass(tmp_path: Path) -> None:
    (tmp_path / "old.py").write_text('Q = "SELECT * FROM public.holdings"  # Legacy: read-only report\n')
    result = subprocess.run(
        [sys.executable, "-m", "order_service.compliance", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert "0 violation(s), 1 legacy line(s)" in result.stdout


@pytest.mark.parametrize("settings_name", ["settings.py"])
def test_urls_in_settings_are_allowed(settings_name: str) -> None:
    assert scan_source('URL = "http://127.0.0.1:8100"\n', settings_name) == []


def compliance(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "order_service.compliance", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_file_path_is_scanned(tmp_path: Path) -> None:
    planted = tmp_path / "repo.py"
    planted.write_text(PLANTED)
    result = compliance(str(planted))
    assert result.returncode == 1
    assert result.stdout.strip().endswith(f"8 violation(s), 1 legacy line(s) in {planted}")


def test_a_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    result = compliance(str(tmp_path / "nope.py"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'nope.py'}: no such file or folder"
    assert result.stdout == ""


def test_a_file_that_does_not_parse_is_named(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("def f(:\n")
    result = compliance(str(tmp_path))
    assert result.returncode == 2
    assert f"{tmp_path / 'broken.py'}:1: not Python that parses" in result.stderr
    assert "Traceback" not in result.stderr
