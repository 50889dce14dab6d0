"""`harness compat --git --gate` in a throwaway git repository: what passes, what fails, and against what."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from suites.compat.documents import obj, response


def run(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "harness", "compat", *args]
    return subprocess.run(command, cwd=repo, capture_output=True, text=True, timeout=60, check=False)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def things(version: str = "1.0.0", *, with_b: bool = True, **info: Any) -> dict[str, Any]:
    properties = {"a": {"type": "string"}, **({"b": {"type": "string"}} if with_b else {})}
    doc = response(obj(properties, ["a", "b"] if with_b else ["a"]))
    doc["info"].update(version=version, **info)
    return doc


def write(repo: Path, doc: dict[str, Any], name: str = "things.yaml") -> None:
    (repo / "contracts" / name).write_text(yaml.safe_dump(doc, sort_keys=False))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "contracts").mkdir()
    git(tmp_path, "init", "-q", "-b", "main")
    write(tmp_path, things())
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "v1")
    return tmp_path


def test_an_undeclared_breaking_change_fails(repo: Path) -> None:
    write(repo, things(with_b=False))
    result = run(repo, "--git", "--gate")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "working tree has changes" in result.stdout
    assert "response-body-property-removed" in result.stdout
    assert "UNDECLARED breaking change: info.version 1.0.0 -> 1.0.0 is not a major bump" in result.stdout


def test_a_major_bump_without_a_changelog_entry_fails(repo: Path) -> None:
    write(repo, things("2.0.0", with_b=False))
    result = run(repo, "--git", "--gate")
    assert result.returncode == 1
    assert "major 2.0.0, but no changelog entry for it" in result.stdout


def test_a_changelog_entry_without_a_major_bump_fails(repo: Path) -> None:
    write(repo, things("1.1.0", with_b=False, **{"x-changelog": {"1.1.0": "b removed"}}))
    result = run(repo, "--git", "--gate")
    assert result.returncode == 1
    assert "1.0.0 -> 1.1.0 is not a major bump" in result.stdout


def test_a_major_bump_with_a_changelog_in_the_contract_passes(repo: Path) -> None:
    write(repo, things("2.0.0", with_b=False, **{"x-changelog": {"2.0.0": "b removed: read a instead"}}))
    result = run(repo, "--git", "--gate")
    assert result.returncode == 0, result.stdout
    assert "declared breaking change (major 2.0.0, changelog in info.x-changelog)" in result.stdout


def test_a_major_bump_with_a_changelog_beside_the_contract_passes(repo: Path) -> None:
    write(repo, things("2.0.0", with_b=False))
    (repo / "contracts" / "CHANGELOG.md").write_text("# Changes\n\n## things 2.0.0\n\n- b removed\n")
    result = run(repo, "--git", "--gate")
    assert result.returncode == 0, result.stdout
    assert "changelog in CHANGELOG.md" in result.stdout


def test_a_changelog_heading_for_another_contract_does_not_count(repo: Path) -> None:
    write(repo, things("2.0.0", with_b=False))
    (repo / "contracts" / "CHANGELOG.md").write_text("## orders 2.0.0\n\n## things 2.0.01\n")
    assert run(repo, "--git", "--gate").returncode == 1


def test_without_the_gate_a_declared_break_still_fails(repo: Path) -> None:
    write(repo, things("2.0.0", with_b=False, **{"x-changelog": {"2.0.0": "b removed"}}))
    assert run(repo, "--git").returncode == 1


def test_on_the_main_line_without_changes_the_previous_commit_is_the_base(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD")
    write(repo, things(with_b=False))
    git(repo, "commit", "-qam", "b removed")
    result = run(repo, "--git", "--gate")
    assert result.returncode == 1
    assert f"comparing with {first[:12]} (the previous commit: HEAD is on the main line)" in result.stdout


def test_on_a_branch_the_merge_base_is_the_base(repo: Path) -> None:
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-qb", "feature")
    write(repo, things(with_b=False))
    git(repo, "commit", "-qam", "b removed")
    git(repo, "commit", "-q", "--allow-empty", "-m", "more")
    result = run(repo, "--git", "--gate")
    assert result.returncode == 1
    assert f"comparing with {base[:12]} (the merge base with main)" in result.stdout


def test_a_non_breaking_change_passes_and_says_so(repo: Path) -> None:
    doc = things()
    doc["paths"]["/things"]["get"]["responses"]["200"]["description"] = "all the things, described anew"
    write(repo, doc)
    result = run(repo, "--git", "--gate")
    assert result.returncode == 0
    assert "things.yaml: 0 breaking, 0 warning, 0 info" in result.stdout


def test_a_removed_contract_is_breaking_and_a_new_one_is_not(repo: Path) -> None:
    write(repo, things(), "other.yaml")
    assert run(repo, "--git", "--gate").returncode == 0  # new: nothing to compare
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "other")
    (repo / "contracts" / "things.yaml").unlink()
    result = run(repo, "--git", "--gate")
    assert result.returncode == 1
    assert "api-contract-removed" in result.stdout


def test_an_explicit_ref_is_used(repo: Path) -> None:
    write(repo, things(with_b=False))
    git(repo, "commit", "-qam", "b removed")
    assert run(repo, "--git", "HEAD").returncode == 0  # the same as HEAD: nothing changed
    assert run(repo, "--git", "HEAD~1").returncode == 1


def test_outside_a_repository_it_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "contracts").mkdir()
    write(tmp_path, things())
    result = run(tmp_path, "--git")
    assert result.returncode == 2
    assert "not inside a git repository" in result.stderr
