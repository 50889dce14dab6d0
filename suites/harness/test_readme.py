"""The README's endpoint tables and commands stay in step with the contracts and the Makefile."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from mocks.registry import CONTRACTS_DIR

ROOT = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^\| (GET|PUT|POST|PATCH|DELETE) \| `([^`]+)` \| (\w+) \|", re.MULTILINE)


def test_readme_lists_every_operation_of_every_contract() -> None:
    documented = set(ROW.findall((ROOT / "README.md").read_text()))
    contracted = set()
    for path in CONTRACTS_DIR.glob("*.yaml"):
        for route, item in yaml.safe_load(path.read_text())["paths"].items():
            for method in ("get", "put", "post", "patch", "delete"):
                if method in item:
                    contracted.add((method.upper(), route, item[method]["operationId"]))
    assert documented == contracted, {"missing": contracted - documented, "extra": documented - contracted}


def test_readme_set_up_is_the_two_make_targets_and_ci_runs_the_second() -> None:
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert "make mocks" in readme
    assert "make test" in readme
    assert re.search(r"^mocks: venv$", makefile, re.MULTILINE)
    assert re.search(r"^test: venv$", makefile, re.MULTILINE)
    assert "make test" in (ROOT / ".ci" / "run").read_text()
