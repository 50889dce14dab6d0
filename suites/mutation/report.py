"""`make mutate`'s table: the share of mutants killed per module, from mutmut's results.

mutmut (configured in pyproject.toml, `[tool.mutmut]`) leaves one `mutants/<module>.py.meta`
per mutated module, with the exit code of the test run against each mutant. A mutant is
killed when the tests failed on it (or hung past mutmut's timeout). Every survivor must be
killed by a test or listed in `suites/mutation/equivalent.txt` with the reason it cannot be
(an equivalent mutant). Exit 1 when a module is under the target or a survivor is unlisted.

    python -m suites.mutation.report [--target 90] [--mutants mutants]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

EQUIVALENT = Path(__file__).with_name("equivalent.txt")
KILLED = {1, 3}  # the tests failed (3: pytest's internal error on the mutant)
TIMEOUT = {36, -24, 24, 152, 255}  # the tests hung on the mutant: it was noticed too
SKIPPED = {34}


@dataclass(frozen=True)
class ModuleScore:
    module: str
    killed: int
    timeout: int
    survived: tuple[str, ...]
    not_run: int

    @property
    def total(self) -> int:
        return self.killed + self.timeout + len(self.survived)

    @property
    def score(self) -> float:
        return 100.0 * (self.killed + self.timeout) / self.total if self.total else 100.0


def scores(mutants: Path) -> list[ModuleScore]:
    """One score per mutated module, from every `*.py.meta` under `mutants`."""
    found = []
    for meta in sorted(mutants.rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        kinds: Counter[str] = Counter()
        survived = []
        for key, code in sorted(codes.items()):
            if code is None or code in SKIPPED:
                kinds["not_run"] += 1
            elif code in KILLED:
                kinds["killed"] += 1
            elif code in TIMEOUT:
                kinds["timeout"] += 1
            else:  # survived (0), no test reached it (33, 5), suspicious: not killed
                survived.append(key)
        module = str(meta.relative_to(mutants)).removesuffix(".meta")
        found.append(ModuleScore(module, kinds["killed"], kinds["timeout"], tuple(survived), kinds["not_run"]))
    return found


def equivalent(path: Path = EQUIVALENT) -> dict[str, str]:
    """Listed survivors: `mutant-key  # why it is equivalent`, one a line."""
    listed = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        key, _, reason = line.partition("#")
        if key.strip():
            listed[key.strip()] = reason.strip()
    return listed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m suites.mutation.report", description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=float, default=90.0, help="least share killed per module, in %%")
    parser.add_argument("--mutants", type=Path, default=Path("mutants"))
    args = parser.parse_args(argv)
    table = scores(args.mutants)
    if not table:
        print(f"error: no mutmut results under {args.mutants}/ (run `make mutate`)", file=sys.stderr)
        return 2
    listed = equivalent()
    failing = False
    print(f"{'module':52} {'mutants':>7} {'killed':>7} {'survived':>8} {'listed':>6} {'score':>7}")
    for row in table:
        unlisted = [key for key in row.survived if key not in listed]
        counted = row.score + 100.0 * (len(row.survived) - len(unlisted)) / row.total if row.total else 100.0
        mark = "" if counted >= args.target and not unlisted and not row.not_run else "  <- below target"
        failing |= bool(mark)
        print(
            f"{row.module:52} {row.total:7d} {row.killed + row.timeout:7d} {len(row.survived):8d} "
            f"{len(row.survived) - len(unlisted):6d} {row.score:6.1f}%{mark}"
        )
        for key in unlisted:
            print(f"    survived: {key}  (`mutmut show {key}`)")
        if row.not_run:
            print(f"    {row.not_run} mutants were not run")
    print(f"target: {args.target:.0f} % killed per module; listed equivalents count as killed only in 'listed'")
    return 1 if failing else 0


if __name__ == "__main__":
    raise SystemExit(main())
