"""`make bench`: how long `harness compat` takes on our largest contract and on a 1,000-operation one.

Two comparisons, each timed as a user runs it (`python -m harness compat BASE REVISION`, the
whole process: start-up, reading and checking both files, comparing, printing) and in
process (the comparison alone), median of five:

- `contracts/order-service.yaml` (our largest) against a revision with changes spread over
  it: every operation's description, one property removed, limits narrowed, one enum
  widened (target: under 1 s for the command);
- a generated contract of 1,000 operations, each with its own parameters and its own
  request and response schemas (nothing shared, so no comparison is reused), against a
  revision that changes one operation in ten (target: under 5 s for the command).

The baseline, measured in the same run, is the same process reading and checking both
files without comparing them: the ratio says what the comparison adds to that. Last, the
YAML loading of the contract reader (`mocks.yaml_events`) against PyYAML's safe loader on
the 1,000-operation file.
"""

from __future__ import annotations

import copy
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from harness.compat.operations import compare_documents
from mocks import yaml_events
from mocks.document import read_document

ROOT = Path(__file__).resolve().parents[2]
RUNS = 5


def generated(operations: int) -> dict[str, Any]:
    """`operations` POSTs, each with a path parameter, two query parameters, and schemas of its own."""

    def schema(i: int) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["id", "name", "status"],
            "properties": {
                "id": {"type": "integer", "minimum": 1},
                "name": {"type": "string", "maxLength": 40 + i % 7},
                "status": {"type": "string", "enum": ["new", "open", "closed"]},
                "tags": {"type": "array", "items": {"type": "string", "pattern": "^[a-z]+$"}},
                "price": {"type": ["string", "null"], "pattern": "^[0-9]+(\\.[0-9]{1,2})?$"},
                "legs": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"qty": {"type": "integer"}, "side": {"enum": ["B", "S"]}},
                    },
                },
            },
        }

    paths = {}
    for i in range(operations):
        paths[f"/area{i % 50}/items{i}/{{item_id}}"] = {
            "post": {
                "operationId": f"post{i}",
                "parameters": [
                    {"name": "item_id", "in": "path", "required": True, "schema": {"type": "integer"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 100}},
                    {"name": "X-Trace", "in": "header", "schema": {"type": "string"}},
                ],
                "requestBody": {"required": True, "content": {"application/json": {"schema": schema(i)}}},
                "responses": {
                    "200": {"description": "ok", "content": {"application/json": {"schema": schema(i)}}},
                    "404": {"description": "absent"},
                },
            }
        }
    return {"openapi": "3.1.0", "info": {"title": f"{operations} operations", "version": "1.0.0"}, "paths": paths}


def revised_generated(doc: dict[str, Any]) -> dict[str, Any]:
    """One operation in ten changed: a property required, an enum widened, a limit narrowed."""
    revision = copy.deepcopy(doc)
    for i, item in enumerate(revision["paths"].values()):
        if i % 10:
            continue
        op = item["post"]
        body = op["requestBody"]["content"]["application/json"]["schema"]
        body["required"].append("tags")
        op["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["status"]["enum"].append("held")
        op["parameters"][1]["schema"]["maximum"] = 50
    return revision


def revised_orders(doc: dict[str, Any]) -> dict[str, Any]:
    """Our largest contract with changes spread over it."""
    revision = copy.deepcopy(doc)
    for item in revision["paths"].values():
        for op in item.values():
            if isinstance(op, dict) and "responses" in op:
                op["description"] = "described anew"
    schemas = revision["components"]["schemas"]
    order = schemas["Order"]
    del order["properties"]["tag"]  # a property clients read
    order["required"].remove("tag")
    for schema in schemas.values():
        for prop in (schema.get("properties") or {}).values():
            if isinstance(prop, dict) and "maxLength" in prop:
                prop["maxLength"] = max(1, prop["maxLength"] - 1)
                break
            if isinstance(prop, dict) and "enum" in prop:
                prop["enum"] = [*prop["enum"], "NEW"]
    return revision


def command_seconds(base: Path, revision: Path, *, compare: bool) -> float:
    """Wall time of one process: the command, or the baseline that only reads and checks both files."""
    if compare:
        command = [sys.executable, "-m", "harness", "compat", str(base), str(revision)]
    else:
        probe = (
            "import sys, pathlib; from mocks.document import read_document\n"
            "for p in sys.argv[1:]: read_document(pathlib.Path(p))"
        )
        command = [sys.executable, "-c", probe, str(base), str(revision)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, check=False, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"bench: {command[:4]} failed: {done.stderr.decode()[-500:]}")
    return elapsed


def median(values: list[float]) -> float:
    return statistics.median(values)


def measure(name: str, base: Path, revision: Path, target: float) -> None:
    docs = read_document(base), read_document(revision)
    inside = []
    for _ in range(RUNS):
        start = time.perf_counter()
        comparison = compare_documents(*docs, base.name)
        inside.append(time.perf_counter() - start)
    command = median([command_seconds(base, revision, compare=True) for _ in range(RUNS)])
    floor = median([command_seconds(base, revision, compare=False) for _ in range(RUNS)])
    verdict = "met" if command < target else "NOT met"
    print(
        f"{name}: {len(comparison.findings)} findings; command {command:.2f} s (target < {target:g} s: {verdict}), "
        f"comparison alone {median(inside) * 1000:.0f} ms; baseline (read and check both files) {floor:.2f} s, "
        f"command/baseline {command / floor:.2f}x"
    )


def main() -> None:
    print(f"harness compat, median of {RUNS} runs")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        orders = ROOT / "contracts" / "order-service.yaml"
        revised = folder / "order-service.yaml"
        revised.write_text(yaml.safe_dump(revised_orders(read_document(orders)), sort_keys=False))
        size = len(orders.read_text().splitlines())
        measure(f"order-service.yaml ({size} lines) vs a revision", orders, revised, 1.0)
        big = generated(1_000)
        base, revision = folder / "base.yaml", folder / "revision.yaml"
        base.write_text(yaml.safe_dump(big, sort_keys=False))
        revision.write_text(yaml.safe_dump(revised_generated(big), sort_keys=False))
        measure(f"1,000 operations ({base.stat().st_size // 1024} KiB) vs one in ten changed", base, revision, 5.0)
        yaml_loading(base)


def yaml_loading(path: Path) -> None:
    """The contract reader's YAML loading (libyaml's events) against PyYAML's safe loader on the same file."""
    text = path.read_text()
    timed = {}
    for name, load in (("events", yaml_events.load), ("PyYAML", lambda t: yaml.load(t, Loader=yaml_events.LOADER))):
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            load(text)
            runs.append(time.perf_counter() - start)
        timed[name] = median(runs)
    print(
        f"YAML of the 1,000-operation file: {timed['events']:.2f} s from libyaml's events, "
        f"{timed['PyYAML']:.2f} s with PyYAML's safe loader (C), {timed['PyYAML'] / timed['events']:.1f}x"
    )


if __name__ == "__main__":
    main()
