"""The import rules of ARCHITECTURE.md: the packages stand apart, and no import goes in a circle.

`mocks` and `order_service` stand alone; `harness` uses `mocks` and the specification parts of
`order_service` (signing, dev keys, the compliance scan), never its app; `suites` use all three.
Every import counts, also one inside a function (a late import hides a cycle; it does not
remove it).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("harness", "mocks", "order_service", "suites")
FORBIDDEN = {
    "mocks": {"order_service", "harness", "suites"},
    "order_service": {"mocks", "harness", "suites"},
    "harness": {
        "suites",
        "order_service.api",
        "order_service.__main__",
        "order_service.clients",
        "order_service.fallbacks",
        "order_service.orders",
        "order_service.services",
    },
}


def imported_modules(path: Path) -> set[str]:
    """Every absolute module name `path` imports, with each imported name as a possible submodule."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def imported_packages(path: Path) -> set[str]:
    return {name.split(".")[0] for name in imported_modules(path)}


def _breaks(imported: Iterable[str], rules: set[str]) -> list[str]:
    return sorted({rule for name in imported for rule in rules if name == rule or name.startswith(rule + ".")})


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_nothing_it_must_not(package: str) -> None:
    problems = [
        f"{path.relative_to(ROOT)} imports {broken}"
        for path in sorted((ROOT / package).rglob("*.py"))
        if (broken := _breaks(imported_modules(path), FORBIDDEN[package]))
    ]
    assert not problems, "\n".join(problems)


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text(
        "from order_service.x import y\nimport suites.fixtures\ndef f():\n    from order_service.api import app\n"
    )
    assert imported_packages(planted) == {"order_service", "suites"}
    assert _breaks(imported_modules(planted), FORBIDDEN["harness"]) == ["order_service.api", "suites"]


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Module name -> file, for every module of the project's packages (a package is its __init__)."""
    found = {}
    for package in PACKAGES:
        for path in (root / package).rglob("*.py"):
            parts = list(path.relative_to(root).with_suffix("").parts)
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def import_graph(found: Mapping[str, Path], *, by_package: bool) -> dict[str, set[str]]:
    """Who imports whom: between modules, or between packages (a module counts as its folder)."""

    def owner(name: str) -> str:
        while name and name not in found:
            name = name.rpartition(".")[0]
        if by_package and name and found[name].name != "__init__.py":
            name = name.rpartition(".")[0]
        return name

    graph: dict[str, set[str]] = {}
    for name, path in found.items():
        source = owner(name)
        for target in map(owner, imported_modules(path)):
            # a package importing its own submodules (its __init__ re-exporting them) is not a cycle
            if target and target != source and not target.startswith(source + "."):
                graph.setdefault(source, set()).add(target)
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


@pytest.mark.parametrize("by_package", [False, True], ids=["modules", "packages"])
def test_no_import_goes_in_a_circle(by_package: bool) -> None:
    assert cycles(import_graph(modules(), by_package=by_package)) == []


def test_the_cycle_check_sees_a_late_import_cycle(tmp_path: Path) -> None:
    (tmp_path / "mocks").mkdir()
    (tmp_path / "mocks" / "__init__.py").write_text("")
    (tmp_path / "mocks" / "engine.py").write_text("def app():\n    from mocks.admin import router\n")
    (tmp_path / "mocks" / "admin.py").write_text("from mocks.engine import Engine\n")
    (tmp_path / "mocks" / "faults.py").write_text("from mocks import engine\n")
    graph = import_graph(modules(tmp_path), by_package=False)
    assert cycles(graph) == [["mocks.admin", "mocks.engine"]]


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
