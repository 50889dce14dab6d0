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
    assert re.search(r"^mocks: \$\(RUN_STAMP\)$", makefile, re.MULTILINE)  # only what running the mocks needs
    assert re.search(r"^test: venv tools$", makefile, re.MULTILINE)  # the test lock and tools
    assert re.search(r"^\$\(RUN_STAMP\): requirements/run.txt pyproject.toml", makefile, re.MULTILINE)
    assert re.search(r"^venv: \$\(TEST_STAMP\)$", makefile, re.MULTILINE)
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
    assert re.search(r"^make compat$", ci, re.MULTILINE)  # the contract gate runs in CI


def test_readme_fallback_table_is_the_code_table() -> None:
    from order_service.fallbacks import FALLBACKS, Fallback

    words = {Fallback.STALE_READ: "stale read", Fallback.OUTBOX: "outbox", Fallback.NONE: "none"}
    from order_service.clients import AccountServiceClient, AnalyticsServiceClient, StrategyServiceClient
    from order_service.clients.calendar import CalendarServiceClient

    rows = re.findall(
        r"^\| ([a-z-]+-service) \| (\w+) \| `(\w+)` \| ([a-z ]+?)(?: \(.*\))? \|$",
        (ROOT / "README.md").read_text(),
        re.MULTILINE,
    )
    assert {(service, op): kind for service, op, _, kind in rows} == {
        key: words[fallback] for key, fallback in FALLBACKS.items()
    }
    classes = {
        c.service: c
        for c in (StrategyServiceClient, AccountServiceClient, AnalyticsServiceClient, CalendarServiceClient)
    }
    assert all(callable(getattr(classes[service], method, None)) for service, _, method, _ in rows)


def test_readme_documents_every_provider_state_the_pacts_use() -> None:
    import json

    documented = set(
        re.findall(r"^\| ([a-z-]+-service) \| `([^`]+)` \|", (ROOT / "README.md").read_text(), re.MULTILINE)
    )
    used = {
        (pact["provider"]["name"], state["name"])
        for path in sorted((ROOT / "pacts").glob("*.json"))
        for pact in [json.loads(path.read_text())]
        for interaction in pact["interactions"]
        for state in interaction.get("providerStates", [])
    }
    assert used
    assert documented == used
