"""The coverage matrix: for each contract operation and each documented status, who exercised it.

Sources: `pacts` (an interaction of a pact whose provider is the contract's file stem),
`suites` (a mock answered it during a test), `schemathesis` (the same, in a test marked
`schemathesis`), `conformance` (the kit's requests to the order service). A status is
counted for the documented response that covers it: its own code, else its range (`4XX`),
else `default`; a status no response documents is listed as undocumented.

The gate: every documented error response (4xx, 5xx) of an operation marked `x-seed: true`
(the endpoints the seed document names) must be exercised by something.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mocks.contract import Contract, Operation, load_contract
from mocks.errors import RequestRejected
from mocks.router import Router

SOURCES = ("pacts", "suites", "schemathesis", "conformance")


@dataclass
class Cell:
    """One documented response of one operation, and who exercised it (source -> tests or interactions)."""

    status: str
    by: dict[str, set[str]] = field(default_factory=dict)

    def add(self, source: str, who: str | None) -> None:
        """Count one exercise by `source` (`who`: a test id or a pact interaction, if known)."""
        self.by.setdefault(source, set())
        if who:
            self.by[source].add(who)

    @property
    def covered(self) -> bool:
        """Exercised by anything."""
        return bool(self.by)


@dataclass
class Row:
    """One operation: its documented statuses in the contract's order, and statuses seen but not documented."""

    operation_id: str
    method: str
    path: str
    seed: bool
    cells: dict[str, Cell]
    undocumented: dict[int, set[str]] = field(default_factory=dict)  # status -> sources


@dataclass
class ContractCoverage:
    """One contract's rows."""

    name: str
    title: str
    rows: list[Row]

    def statuses(self) -> list[str]:
        """Every documented status of any operation, numbers first (ascending), then ranges and default."""
        seen = {status for row in self.rows for status in row.cells}
        return sorted(seen, key=lambda s: (not s.isdigit(), s == "default", s))

    def gaps(self) -> list[tuple[Row, str]]:
        """The gate's gaps: documented error responses of seed operations that nothing exercised."""
        return [
            (row, status)
            for row in self.rows
            if row.seed
            for status, cell in row.cells.items()
            if status[0] in "45" and not cell.covered
        ]

    def as_dict(self) -> dict[str, Any]:
        """The contract's coverage as the JSON report holds it."""
        return {
            "contract": self.name,
            "title": self.title,
            "operations": [
                {
                    "operation_id": row.operation_id,
                    "method": row.method,
                    "path": row.path,
                    "seed": row.seed,
                    "statuses": {s: {src: sorted(w) for src, w in c.by.items()} for s, c in row.cells.items()},
                    "undocumented": {str(s): sorted(src) for s, src in row.undocumented.items()},
                }
                for row in self.rows
            ],
        }


def _row(op: Operation) -> Row:
    cells = {
        str(code) if str(code) == "default" else str(code).upper(): Cell(str(code))
        for code in op.spec.get("responses") or {}
    }
    return Row(op.operation_id, op.method, op.path, bool(op.spec.get("x-seed")), cells)


def _count(row: Row, status: int, source: str, who: str | None) -> None:
    for key in (str(status), f"{str(status)[0]}XX", "default"):
        if key in row.cells:
            row.cells[key].add(source, who)
            return
    row.undocumented.setdefault(status, set()).add(source)


class Matrix:
    """The contracts' rows, filled from pacts and recorded answers."""

    def __init__(self, contracts: Iterable[Path]) -> None:
        self.contracts: dict[str, Contract] = {}
        self.coverage: dict[str, ContractCoverage] = {}
        self._rows: dict[str, dict[str, Row]] = {}
        for path in contracts:
            contract = load_contract(path, answers=False)
            rows = {op_id: _row(op) for op_id, op in contract.operations.items()}
            self.contracts[path.name] = contract
            self._rows[path.name] = rows
            self.coverage[path.name] = ContractCoverage(path.name, contract.title, list(rows.values()))
        self._routers = {name: Router(c.operations) for name, c in self.contracts.items()}

    def add_pacts(self, folder: Path) -> None:
        """Every interaction of the pacts in `folder` whose provider is one of the contracts."""
        for path in sorted(folder.glob("*.json")):
            pact = json.loads(path.read_text(encoding="utf-8"))
            name = f"{pact['provider']['name']}.yaml"
            if name not in self.contracts:
                continue
            for interaction in pact.get("interactions", []):
                request, response = interaction["request"], interaction["response"]
                op = self._route(name, str(request["method"]), str(request["path"]))
                if op is not None:
                    who = f"{path.name}: {interaction.get('description', '')}"
                    _count(self._rows[name][op.operation_id], int(response.get("status", 200)), "pacts", who)

    def add_records(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Recorded answers (`harness.coverage.record`, `mocks.observed`)."""
        for record in records:
            name = str(record.get("contract"))
            if name not in self.contracts:
                continue
            if "operation" in record:
                row = self._rows[name].get(str(record["operation"]))
            else:
                op = self._route(name, str(record["method"]), str(record["path"]))
                row = self._rows[name].get(op.operation_id) if op else None
            if row is not None:
                _count(row, int(record["status"]), str(record.get("source", "suites")), record.get("test"))

    def _route(self, name: str, method: str, path: str) -> Operation | None:
        route = self.contracts[name].route_of(path.split("?", 1)[0])
        try:
            return self._routers[name].match(method.upper(), route)[0]
        except RequestRejected:
            return None


def read_records(paths: Iterable[Path]) -> Iterable[dict[str, Any]]:
    """The records of recorded-answer files (a line cut short by a killed process is skipped)."""
    for path in paths:
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                try:
                    yield json.loads(line)
                except ValueError:
                    continue
