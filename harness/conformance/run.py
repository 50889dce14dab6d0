"""Choosing checks and running them: every check is registered once `harness.conformance.checks` is imported."""

from __future__ import annotations

from collections.abc import Iterable

from harness.conformance import checks as _registered  # noqa: F401  (registers every check)
from harness.conformance.kit import CHECKS, GROUPS, Check, Report, run_check
from harness.conformance.target import Target


def selected(only: Iterable[str] = ()) -> list[Check]:
    """The checks of the groups (or check ids) in `only`; every check when it is empty."""
    wanted = set(only)
    unknown = wanted - set(GROUPS) - {c.id for c in CHECKS}
    if unknown:
        raise ValueError(f"unknown groups or checks {sorted(unknown)}; groups: {', '.join(GROUPS)}")
    return [c for c in CHECKS if not wanted or c.group in wanted or c.id in wanted]


def run_kit(target: Target, only: Iterable[str] = ()) -> Report:
    """Every selected check against `target`, in group order."""
    chosen = selected(only)
    order = {g: n for n, g in enumerate(GROUPS)}
    report = Report(target.url)
    for one in sorted(chosen, key=lambda c: order[c.group]):
        report.results.append(run_check(target, one))
    return report
