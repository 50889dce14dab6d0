"""The `harness` command: its help, its exit statuses, and a reader that leaves early."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HARNESS = str(Path(sys.executable).with_name("harness"))


def harness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HARNESS, *args], capture_output=True, text=True, timeout=60, check=False)


def test_no_command_is_a_usage_error_with_the_list_of_commands() -> None:
    result = harness()
    assert result.returncode == 2
    assert "commands (each has --help):" in result.stdout


@pytest.mark.parametrize(
    "command",
    [
        "mocks",
        "verify-pacts",
        "verify-contract",
        "check-openapi",
        "proxy",
        "sign",
        "scan",
        "compat",
        "coverage",
        "chaos",
    ],
)
def test_each_command_has_its_help(command: str) -> None:
    result = harness(command, "--help")
    assert result.returncode == 0, result.stderr
    assert f"usage: harness {command}" in result.stdout


def test_an_unknown_command_is_named() -> None:
    result = harness("deploy")
    assert (result.returncode, result.stderr.strip()) == (
        2,
        "harness: unknown command 'deploy'; one of: "
        "mocks, verify-pacts, verify-contract, check-openapi, proxy, sign, scan, conformance, compat, coverage, "
        "chaos, map",
    )


def test_a_reader_that_leaves_early_gets_no_traceback(tmp_path: Path) -> None:
    """`harness scan ... | head -1`: the pipe closes while the scan still writes."""
    planted = tmp_path / "many.py"
    planted.write_text("\n".join(f'q{n} = "SELECT * FROM public.strategy WHERE id = {n}"' for n in range(5000)))
    scan = subprocess.Popen([HARNESS, "scan", str(planted)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert scan.stdout is not None
    assert scan.stderr is not None
    first = scan.stdout.readline()
    scan.stdout.close()  # the reader leaves, as head does
    errors = scan.stderr.read().decode()
    scan.stderr.close()
    assert scan.wait(timeout=60) == 1
    assert b"foreign_table" in first
    assert errors == ""


def test_chaos_refuses_a_round_too_short_to_heal() -> None:
    result = harness("chaos", "--seconds", "5")
    assert (result.returncode, result.stderr.strip()) == (
        2,
        "error: --seconds must be at least 15: the last fault heals 8 s before the round ends",
    )
