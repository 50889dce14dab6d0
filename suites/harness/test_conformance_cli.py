"""`harness conformance`: its help, its usage errors and its exit status (the checks run in suites/conformance)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from harness.conformance import GROUPS, selected
from harness.servers import free_port


def harness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", "conformance", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_help_shows_examples_and_every_group() -> None:
    result = harness("--help")
    assert result.returncode == 0
    assert "examples:" in result.stdout
    assert "harness conformance --url http://127.0.0.1:8000 --dev" in result.stdout
    for group in GROUPS:
        assert group in result.stdout


def test_an_unknown_group_is_a_usage_error() -> None:
    result = harness("--url", "http://127.0.0.1:1", "--dev", "--only", "signin")
    assert result.returncode == 2
    assert "unknown groups or checks ['signin']" in result.stderr


def test_a_missing_credentials_file_is_a_usage_error(tmp_path: Path) -> None:
    result = harness("--url", "http://127.0.0.1:1", "--credentials", str(tmp_path / "none.json"))
    assert result.returncode == 2
    assert "none.json" in result.stderr


def test_a_service_that_does_not_answer_fails_every_check_it_runs(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    result = harness("--url", f"http://127.0.0.1:{free_port()}", "--dev", "--only", "health", "--json", str(report))
    assert result.returncode == 1
    written = json.loads(report.read_text())
    assert written["failed"] == len(selected(["health"])) == 3
    assert {c["status"] for c in written["checks"]} == {"fail"}
    assert "ConnectError" in written["checks"][0]["detail"]


def test_every_check_names_its_rule_and_ids_are_unique() -> None:
    checks = selected()
    assert len({c.id for c in checks}) == len(checks)
    assert all(c.rule and c.id.startswith(c.group + ".") for c in checks)
