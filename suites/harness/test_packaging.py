"""pyproject's package list is the packages on disk: a new folder is never left out of the wheel."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def listed() -> tuple[set[str], dict[str, str]]:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return set(setuptools["packages"]), dict(setuptools["package-dir"])


def on_disk() -> set[str]:
    found = set()
    for top in ("harness", "mocks", "order_service"):
        for init in (ROOT / top).rglob("__init__.py"):
            found.add(".".join(init.parent.relative_to(ROOT).parts))
    return found


def test_every_package_on_disk_is_listed_and_nothing_else() -> None:
    packages, mapped = listed()
    assert packages - set(mapped) == on_disk()


def test_the_mapped_folders_are_the_contracts_and_the_pacts() -> None:
    packages, mapped = listed()
    assert mapped == {"mocks.contracts": "contracts", "harness.pacts": "pacts"}
    assert set(mapped) <= packages
    for folder in mapped.values():
        assert (ROOT / folder / "__init__.py").is_file()


def test_every_python_folder_is_a_package() -> None:
    """A folder of modules without __init__.py would be left out of the listed wheel."""
    missing = [
        str(folder.relative_to(ROOT))
        for top in ("harness", "mocks", "order_service")
        for folder in [ROOT / top, *(ROOT / top).rglob("*")]
        if folder.is_dir()
        and folder.name != "__pycache__"
        and any(folder.glob("*.py"))
        and not (folder / "__init__.py").is_file()
    ]
    assert missing == []
