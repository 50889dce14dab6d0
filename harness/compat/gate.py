"""The gate: each contract against its version at a git ref; a breaking change passes only when declared.

A contract declares a breaking change by a major `info.version` bump and a changelog entry
for the new version: in the contract (`info.x-changelog`, a mapping of version to text, or a
list of `{version, changes}`), or in a `CHANGELOG.md` beside it with a heading that names the
contract (its file stem or `info.title`) and the version (`## strategy-service 2.0.0`).

The base is the merge base with the main line; on the main line itself it is `HEAD` while
the contracts have uncommitted changes, else the previous commit (what CI checks on a clean
clone of main).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from mocks.document import parse_document

MAIN_LINES = ("origin/main", "main", "origin/master", "master")


def git(repo: Path, *args: str) -> str | None:
    """`git args` in `repo`: its output, or None when git fails."""
    try:
        done = subprocess.run(["git", *args], cwd=repo, capture_output=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.decode() if done.returncode == 0 else None


def default_base(repo: Path, within: Path, main_line: str | None = None) -> tuple[str, str]:
    """(the commit to compare with, why that one); `within` is what is compared (for uncommitted changes).

    Raises:
        UsageError: not a git repository, or no commit to compare with.
    """
    head = (git(repo, "rev-parse", "HEAD") or "").strip()
    if not head:
        raise UsageError(f"{repo} is not a git repository with a commit: give BASE and REVISION files instead")
    for line in (main_line,) if main_line else MAIN_LINES:
        base = (git(repo, "merge-base", "HEAD", line) or "").strip()
        if base and base != head:
            return base, f"the merge base with {line}"
        if base == head:
            break
    if (git(repo, "status", "--porcelain", "--", str(within.resolve())) or "").strip():  # new files count too
        return head, "HEAD (the working tree has changes)"
    previous = (git(repo, "rev-parse", "--verify", "--quiet", "HEAD~1") or "").strip()
    if not previous:
        raise UsageError("the repository has one commit and no changes: nothing to compare with")
    return previous, "the previous commit: HEAD is on the main line"


def document_at(repo: Path, ref: str, path: Path) -> dict[str, Any] | None:
    """The contract at `path` as it was at `ref` (None when it did not exist there)."""
    relative = path.resolve().relative_to(repo.resolve())
    raw = _show(repo, ref, relative.as_posix())
    return None if raw is None else parse_document(raw, f"{ref}:{relative.as_posix()}")


def contracts_at(repo: Path, ref: str, folder: Path) -> list[Path]:
    """The `*.yaml`, `*.yml` and `*.json` files of `folder` at `ref`."""
    relative = folder.resolve().relative_to(repo.resolve()).as_posix()
    listed = git(repo, "ls-tree", "--name-only", f"{ref}:{relative}" if relative != "." else ref) or ""
    return [folder / name for name in listed.split() if name.endswith((".yaml", ".yml", ".json"))]


def _show(repo: Path, ref: str, relative: str) -> bytes | None:
    try:
        done = subprocess.run(
            ["git", "show", f"{ref}:{relative}"], cwd=repo, capture_output=True, check=False, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def repository_of(path: Path) -> Path:
    """The git work tree holding `path`.

    Raises:
        UsageError: `path` is not in one.
    """
    top = git(path if path.is_dir() else path.parent, "rev-parse", "--show-toplevel")
    if not top:
        raise UsageError(f"{path} is not inside a git repository (--git needs one)")
    return Path(top.strip())


@dataclass(frozen=True)
class Declaration:
    """Whether a revision declares its breaking changes, and what is missing if not."""

    declared: bool
    reason: str


def declaration(base: Mapping[str, Any], revision: Mapping[str, Any], path: Path) -> Declaration:
    """Whether `revision` declares a breaking change against `base` (a major bump and a changelog entry)."""
    old, new = _major(base), _major(revision)
    version = str((revision.get("info") or {}).get("version", ""))
    if old is None or new is None or new <= old:
        old_text = (base.get("info") or {}).get("version")
        return Declaration(False, f"info.version {old_text} -> {version} is not a major bump")
    if _changelog_in(revision, version):
        return Declaration(True, f"major {version}, changelog in info.x-changelog")
    beside = path.parent / "CHANGELOG.md"
    names = {path.stem, str((revision.get("info") or {}).get("title", ""))}
    if beside.exists() and _changelog_beside(beside.read_text(encoding="utf-8"), names, version):
        return Declaration(True, f"major {version}, changelog in {beside.name}")
    return Declaration(False, f"major {version}, but no changelog entry for it (info.x-changelog or {beside.name})")


def _major(document: Mapping[str, Any]) -> int | None:
    found = re.match(r"\s*v?(\d+)", str((document.get("info") or {}).get("version", "")))
    return int(found.group(1)) if found else None


def _changelog_in(document: Mapping[str, Any], version: str) -> bool:
    log = (document.get("info") or {}).get("x-changelog")
    if isinstance(log, Mapping):
        return bool(str(log.get(version, "")).strip())
    if isinstance(log, list):
        return any(isinstance(e, Mapping) and str(e.get("version")) == version and e.get("changes") for e in log)
    return False


def _changelog_beside(text: str, names: set[str], version: str) -> bool:
    for line in text.splitlines():
        heading = line.startswith("#") and re.search(rf"(?<![\w.]){re.escape(version)}(?![\w.])", line)
        if heading and any(name and name in line for name in names):
            return True
    return False
