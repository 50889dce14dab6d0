"""`harness compat BASE REVISION`: its outputs, its exit statuses and its usage errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from suites.compat.documents import obj, request

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "harness", "compat", *map(str, args)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def saved(tmp_path: Path, name: str, doc: dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    """A base and a revision with one breaking change (a new required property) and one info."""
    base = saved(tmp_path, "base.yaml", request(obj({"a": {"type": "string"}})))
    revision = saved(
        tmp_path, "things.yaml", request(obj({"a": {"type": "string"}, "n": {"type": "integer"}, "o": {}}, ["n"]))
    )
    return base, revision


def test_a_breaking_revision_exits_1_with_the_finding(pair: tuple[Path, Path]) -> None:
    result = run(*pair)
    assert result.returncode == 1
    assert "things.yaml: 1 breaking, 0 warning, 1 info (1.0.0 -> 1.0.0)" in result.stdout
    assert "BREAKING request-body-new-required-property  POST /things" in result.stdout
    assert "#/paths/~1things/post/requestBody/content/application~1json/schema/properties/n" in result.stdout
    assert "`n` is new and required: a request without it is refused" in result.stdout


def test_the_reverse_is_breaking_too_and_the_same_file_is_not(pair: tuple[Path, Path]) -> None:
    base, revision = pair
    assert run(revision, base).returncode == 1  # removed properties: a client that sends them
    same = run(base, base)
    assert same.returncode == 0
    assert "0 breaking, 0 warning, 0 info" in same.stdout


def test_json_output_holds_every_finding_with_its_place(pair: tuple[Path, Path]) -> None:
    data = json.loads(run(*pair, "--format", "json").stdout)
    assert data["fails"] is True
    (contract,) = data["contracts"]
    assert contract["counts"] == {"breaking": 1, "warning": 0, "info": 1}
    first = contract["findings"][0]
    assert (first["rule"], first["level"], first["operation"], first["side"], first["field"]) == (
        "request-body-new-required-property",
        "breaking",
        "POST /things",
        "request",
        ["n"],
    )


def test_markdown_output_is_a_table_for_a_pull_request(pair: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "comment.md"
    result = run(*pair, "--markdown", out)
    text = out.read_text()
    assert result.returncode == 1
    assert "| level | rule | operation | where | change |" in text
    assert "| ❌ breaking | `request-body-new-required-property` | `POST /things` |" in text


def test_show_breaking_lists_only_breaking_findings(pair: tuple[Path, Path]) -> None:
    result = run(*pair, "--show", "breaking")
    assert "request-body-new-required-property" in result.stdout
    assert "request-body-property-added" not in result.stdout
    assert "1 breaking, 0 warning, 1 info" in result.stdout  # the counts still say everything


def test_the_pacts_impact_is_printed_per_consumer(tmp_path: Path) -> None:
    base = ROOT / "contracts" / "strategy-service.yaml"
    text = base.read_text()
    assert "        valid: {type: boolean}\n" in text
    edited = text.replace("        valid: {type: boolean}\n", "").replace(
        "strategy_id, valid, status", "strategy_id, status"
    )
    revision = tmp_path / "strategy-service.yaml"
    revision.write_text(edited)
    result = run(base, revision, "--pacts", ROOT / "pacts", "--clients", ROOT / "order_service" / "clients")
    assert result.returncode == 1
    assert "consumer impact: 2 pact interaction(s) broken by the revision" in result.stdout
    assert '    "a validation of an active strategy" (GET /strategies/{strategy_id}/validate' in result.stdout
    assert "client: strategy.StrategyServiceClient.get_strategy_validation" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["only-one.yaml"], "give BASE and REVISION"),
        (["missing.yaml", "absent.yaml"], "cannot read the contract"),
    ],
)
def test_usage_errors_exit_2_with_a_message(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert message in result.stderr


def test_a_file_that_is_not_a_contract_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("openapi: 3.1.0\ninfo: {title: x}\n")
    result = run(bad, bad)
    assert result.returncode == 2
    assert "not a valid OpenAPI 3.1 document" in result.stderr


def test_requests_the_suites_recorded_are_replayed_against_the_revision(tmp_path: Path) -> None:
    base = ROOT / "contracts" / "strategy-service.yaml"
    text = base.read_text()
    assert "        open_positions: {type: integer, minimum: 0, maximum: 100000}\n" in text
    revision = tmp_path / "strategy-service.yaml"
    revision.write_text(text.replace("minimum: 0, maximum: 100000}", "minimum: 0, maximum: 1}", 1))
    sync: dict[str, Any] = {
        "method": "POST",
        "path": "/strategies/42/sync-pnl",
        "query": "",
        "headers": {"content-type": "application/json", "idempotency-key": "sync-pnl-0001"},
        "body": {
            "as_of": "2026-11-26T15:30:00+05:30",
            "realized_pnl": "1",
            "unrealized_pnl": "0",
            "total_pnl": "1",
            "open_positions": 5,
        },
    }
    records = tmp_path / "coverage.jsonl"
    lines = [
        {
            "contract": "strategy-service.yaml",
            "operation": "syncStrategyPnl",
            "status": 200,
            "source": "suites",
            "test": "suites/clients/test_x.py::test_sync",
            "request": sync,
        },
        {
            "contract": "strategy-service.yaml",
            "operation": "syncStrategyPnl",
            "status": 200,
            "source": "suites",
            "test": "suites/clients/test_x.py::test_sync",
            "request": sync,
        },  # the same request again: one hit
        {
            "contract": "strategy-service.yaml",
            "operation": "syncStrategyPnl",
            "status": 200,
            "source": "suites",
            "test": "suites/clients/test_x.py::test_small",
            "request": {**sync, "body": {**sync["body"], "open_positions": 0}},
        },
        {
            "contract": "account-service.yaml",
            "operation": "getTierSummary",
            "status": 200,
            "source": "suites",
            "test": "suites/x.py::test_other",
            "request": {"method": "GET", "path": "/accounts/tier-summary"},
        },
    ]
    records.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = run(base, revision, "--records", records, "--format", "json")
    assert result.returncode == 1
    hits = json.loads(result.stdout)["contracts"][0]["consumer_impact"]
    assert [(h["consumer"], h["interaction"]) for h in hits] == [
        (
            "the suites (requests their mocks recorded)",
            "suites/clients/test_x.py::test_sync: POST /strategies/42/sync-pnl",
        ),
    ]
    assert any("request body open_positions" in reason for reason in hits[0]["reasons"])  # the replay refuses 5
