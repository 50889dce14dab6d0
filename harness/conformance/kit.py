"""The conformance kit's frame: checks, their outcomes, and the run.

A check is a function of a `Target` (the service and what the kit may use of it) that
returns nothing when the rule holds, raises `Failed` (with the request and the answer) when
it does not, and `NotChecked` (with the reason) when the kit was not given what the rule
needs: a log stream, control of the service's Redis, the mocks the service runs against.
Each check names the rule it enforces, in the words of the seed or of DESIGN.md.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from harness.conformance.outcomes import Failed, NotChecked

if TYPE_CHECKING:
    from harness.conformance.target import Target

Status = Literal["pass", "fail", "not checked"]


@dataclass(frozen=True)
class Check:
    """One rule of the kit: its id (`group.name`), its group, the rule in words, and the function checking it."""

    id: str
    group: str
    rule: str
    run: Callable[[Target], None]


@dataclass
class Result:
    """What one check found: pass, fail (detail, exchange) or not checked (detail: why)."""

    check: Check
    status: Status
    detail: str = ""
    exchange: str = ""
    seconds: float = 0.0


CHECKS: list[Check] = []
GROUPS = (
    "signing",
    "signing-v2",
    "matrix",
    "tokens",
    "rate-limits",
    "idempotency",
    "anomalies",
    "health",
    "metrics",
    "audit",
    "fail-closed",
)


def check(check_id: str, rule: str) -> Callable[[Callable[[Target], None]], Callable[[Target], None]]:
    """Register the decorated function as the check `group.name` enforcing `rule`."""
    group = check_id.split(".", 1)[0]
    if group not in GROUPS:
        raise ValueError(f"check {check_id!r} is in no group of {GROUPS}")

    def register(run: Callable[[Target], None]) -> Callable[[Target], None]:
        CHECKS.append(Check(check_id, group, rule, run))
        return run

    return register


def run_check(target: Target, one: Check) -> Result:
    """Run one check; an error of the check on the service's answer counts as its failure."""
    began = time.monotonic()
    try:
        one.run(target)
    except Failed as exc:
        return Result(one, "fail", str(exc), exc.exchange, time.monotonic() - began)
    except NotChecked as exc:
        return Result(one, "not checked", str(exc), seconds=time.monotonic() - began)
    except Exception as exc:  # the service answered something the check could not read: a failure of it
        detail = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
        return Result(one, "fail", detail, seconds=time.monotonic() - began)
    return Result(one, "pass", seconds=time.monotonic() - began)


@dataclass
class Report:
    """Every result of one run against `url`, as text (`text`) or JSON (`as_dict`)."""

    url: str
    results: list[Result] = field(default_factory=list)

    def count(self, status: Status) -> int:
        """How many results have `status`."""
        return sum(1 for r in self.results if r.status == status)

    @property
    def failed(self) -> list[Result]:
        """The failed results."""
        return [r for r in self.results if r.status == "fail"]

    def as_dict(self) -> dict[str, object]:
        """The report as JSON-ready data."""
        return {
            "url": self.url,
            "passed": self.count("pass"),
            "failed": self.count("fail"),
            "not_checked": self.count("not checked"),
            "checks": [
                {
                    "id": r.check.id,
                    "group": r.check.group,
                    "rule": r.check.rule,
                    "status": r.status,
                    "detail": r.detail,
                    "exchange": r.exchange,
                    "seconds": round(r.seconds, 3),
                }
                for r in self.results
            ],
        }

    def text(self, *, verbose: bool = False) -> str:
        """The report for a terminal, by group; the details of failures (of every check with `verbose`)."""
        lines = [f"order-service conformance of {self.url}"]
        group = None
        for r in self.results:
            if r.check.group != group:
                group = r.check.group
                lines.append(f"\n[{group}]")
            mark = {"pass": "pass", "fail": "FAIL", "not checked": "not checked"}[r.status]
            lines.append(f"  {mark:<11} {r.check.id}: {r.check.rule}")
            if r.status != "pass" or verbose:
                lines.extend(f"              {line}" for line in r.detail.splitlines() if r.detail)
            if r.status == "fail" and r.exchange:
                lines.extend(f"              | {line}" for line in r.exchange.splitlines())
        lines.append(
            f"\n{self.count('pass')} passed, {self.count('fail')} failed, {self.count('not checked')} not checked"
        )
        return "\n".join(lines)
