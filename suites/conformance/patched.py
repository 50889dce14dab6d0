"""`python -m suites.conformance.patched DEFECT serve ...`: the reference order service with one planted defect.

The defect is a small change to the reference's source (`suites.conformance.defects`),
applied as its modules load, in this process only: shipped code has no switch for it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from suites.conformance.defects import DEFECTS, Defect


class _PatchedLoader(importlib.machinery.SourceFileLoader):
    def __init__(self, name: str, path: str, defect: Defect) -> None:
        super().__init__(name, path)
        self._defect = defect

    def get_data(self, path: str) -> bytes:
        if not path.endswith(".py"):
            raise OSError("no bytecode for a patched module")  # compiled from the patched source instead
        return self._defect.apply(super().get_data(path).decode()).encode()

    def set_data(self, path: str, data: Any, *, _mode: int = 0o666) -> None:
        """Never cached: a patched module's bytecode in __pycache__ would plant the defect everywhere."""


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, defect: Defect) -> None:
        self._defect = defect

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name != self._defect.module:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.origin is None:
            raise ImportError(f"no source for {name} to plant the defect in")
        return importlib.util.spec_from_loader(name, _PatchedLoader(name, spec.origin, self._defect))


def main(argv: list[str]) -> int:
    defect = DEFECTS[argv[0]]
    sys.meta_path.insert(0, _Finder(defect))
    from order_service.__main__ import main as serve

    return serve(argv[1:])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
