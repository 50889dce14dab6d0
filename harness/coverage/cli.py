"""`harness coverage`: the coverage matrix of the contracts, as text, JSON and an HTML page; and its gate."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path

from harness.coverage.page import render
from harness.coverage.report import SOURCES, ContractCoverage, Matrix, read_records
from harness.errors import UsageError
from mocks.errors import ContractError

EPILOG = """examples:
  pytest --harness-coverage .run/coverage.jsonl        record while the suites run (make test does)
  harness coverage --records .run/coverage.jsonl --html .run/coverage.html --json .run/coverage.json --gate
  harness coverage --contracts my-contracts/ --pacts pacts/ --records run.jsonl --link-base https://example.org/repo/blob/main/

sources: pacts (a pact's interactions, provider = the contract's file stem), suites (a mock
answered during a test), schemathesis (the same, in a test marked schemathesis), conformance
(the conformance kit's requests to the order service).
--gate: every documented 4xx/5xx response of an operation marked `x-seed: true` must be
exercised by something.
exit status: 0 (with --gate: no gap); 1 a gap; 2 a usage error."""


def parser() -> argparse.ArgumentParser:
    """The command's arguments."""
    parse = argparse.ArgumentParser(
        prog="harness coverage",
        description="Which contract operations and statuses the pacts, the suites, schemathesis and the kit exercised.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parse.add_argument("--contracts", type=Path, default=Path("contracts"), help="a folder of contracts, or one file")
    parse.add_argument("--pacts", type=Path, help="a folder of pact files (default: ./pacts when it exists)")
    parse.add_argument("--records", type=Path, action="append", default=[], help="recorded answers (repeatable)")
    parse.add_argument("--html", type=Path, metavar="FILE", help="write the page here")
    parse.add_argument("--json", type=Path, metavar="FILE", help="write the matrix as JSON here")
    parse.add_argument("--link-base", help="prefix of the links to tests (default: the repository, relative)")
    parse.add_argument("--gate", action="store_true", help="fail when a seed endpoint's error response is unexercised")
    return parse


def main(argv: Sequence[str]) -> int:
    """Run the command; returns its exit status."""
    args = parser().parse_args(list(argv))
    contracts = _contracts(args.contracts)
    try:
        matrix = Matrix(contracts)
    except ContractError as exc:
        raise UsageError(str(exc)) from exc
    pacts = args.pacts or (Path("pacts") if Path("pacts").is_dir() else None)
    if pacts is not None:
        matrix.add_pacts(pacts)
    for path in args.records:
        if not path.exists():
            raise UsageError(f"{path}: no such records file (record with pytest --harness-coverage {path})")
    matrix.add_records(read_records(args.records))
    coverages = list(matrix.coverage.values())
    if args.html:
        base = args.link_base if args.link_base is not None else _relative_root(args.html)
        args.html.parent.mkdir(parents=True, exist_ok=True)
        args.html.write_text(render(coverages, link_base=base), encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps({"contracts": [c.as_dict() for c in coverages]}, indent=2) + "\n")
    print(_text(coverages, gate=args.gate))
    return 1 if args.gate and any(c.gaps() for c in coverages) else 0


def _contracts(where: Path) -> list[Path]:
    if where.is_file():
        return [where]
    found = sorted(p for p in where.glob("*") if p.suffix in (".yaml", ".yml", ".json")) if where.is_dir() else []
    if not found:
        raise UsageError(f"{where}: no contract files (*.yaml, *.yml, *.json)")
    return found


def _relative_root(html: Path) -> str:
    relative = os.path.relpath(Path.cwd(), html.resolve().parent)
    return "" if relative == "." else relative.rstrip("/") + "/"


def _text(coverages: list[ContractCoverage], *, gate: bool) -> str:
    lines = []
    for coverage in coverages:
        cells = [c for row in coverage.rows for c in row.cells.values()]
        by = {s: sum(1 for c in cells if s in c.by) for s in SOURCES}
        counts = ", ".join(f"{s} {n}" for s, n in by.items())
        covered = sum(c.covered for c in cells)
        lines.append(f"{coverage.name}: {covered}/{len(cells)} documented responses exercised ({counts})")
    gaps = [(c, row, status) for c in coverages for row, status in c.gaps()]
    if gate:
        if gaps:
            lines.append(f"gate: {len(gaps)} documented error response(s) of seed endpoints exercised by nothing:")
            lines += [f"  {c.name} {row.method} {row.path} ({row.operation_id}) {status}" for c, row, status in gaps]
        else:
            lines.append("gate: every documented error response of a seed endpoint is exercised")
    return "\n".join(lines)
