"""The import rules of ARCHITECTURE.md: the packages stand apart; only the suites use both."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {"mocks": {"order_service", "suites"}, "order_service": {"mocks", "suites"}}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_nothing_it_must_not(package: str) -> None:
    problems = [
        f"{path.relative_to(ROOT)} imports {sorted(imported_packages(path) & FORBIDDEN[package])}"
        for path in sorted((ROOT / package).rglob("*.py"))
        if imported_packages(path) & FORBIDDEN[package]
    ]
    assert not problems, "\n".join(problems)


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text("from order_service.x import y\nimport suites.fixtures\n")
    assert imported_packages(planted) == {"order_service", "suites"}


def test_nothing_reads_the_shared_folder() -> None:
    """The project stands alone: a user's clone has no ../shared."""
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("mocks", "order_service", "suites", "contracts", ".ci")
        for path in (ROOT / folder).rglob("*")
        if path.is_file()
        and path.suffix in (".py", ".yaml", "")
        and "../shared" in path.read_text(errors="ignore")
        and path.name != "test_architecture.py"
    ]
    assert not offenders
