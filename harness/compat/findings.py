"""What `harness compat` reports: findings with a rule, a level and a place, and their renderings."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

BREAKING = "breaking"  # a request that was valid may be refused, or an answer relied on may differ
WARNING = "warning"  # may break a client, depending on how it is written
INFO = "info"  # a change no client can notice as a failure
LEVELS = (BREAKING, WARNING, INFO)


@dataclass(frozen=True)
class Finding:
    """One difference between two documents, classified for the contract's clients.

    `operation` is "METHOD /path" (or "(document)"); `pointer` is where in the revision the
    change is (in the base, for what the revision removed). The other fields say where in an
    exchange the change bites, for joining findings with recorded interactions: `side` is
    "operation", "request" or "response"; `status` the response status; `parameter` the
    parameter's (in, name); `media` the media type; `field` the path inside the body
    (property names, "[]" for an array's items, "*" for additional properties).
    """

    rule: str
    level: str
    operation: str
    pointer: str
    message: str
    side: str = "operation"
    status: str | None = None
    parameter: tuple[str, str] | None = None
    media: str | None = None
    field: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The finding as the JSON report holds it."""
        data = asdict(self)
        data["parameter"] = list(self.parameter) if self.parameter else None
        data["field"] = list(self.field)
        return data


def field_text(parts: Iterable[str]) -> str:
    """A body path for people: `$.legs[].price`."""
    text = "$"
    for part in parts:
        text += "[]" if part == "[]" else f".{part}"
    return text


@dataclass
class Comparison:
    """The findings of one base document against one revision."""

    name: str
    base_version: str
    revision_version: str
    findings: list[Finding] = field(default_factory=list)

    def count(self, level: str) -> int:
        """How many findings have `level`."""
        return sum(1 for f in self.findings if f.level == level)

    @property
    def breaking(self) -> list[Finding]:
        """The breaking findings."""
        return [f for f in self.findings if f.level == BREAKING]

    def ordered(self) -> list[Finding]:
        """Breaking first, then warnings, then the rest; by operation and pointer within each."""
        return sorted(self.findings, key=lambda f: (LEVELS.index(f.level), f.operation, f.pointer, f.rule))

    def summary(self) -> str:
        """One line: the counts per level and the two versions."""
        counts = ", ".join(f"{self.count(level)} {level}" for level in LEVELS)
        return f"{self.name}: {counts} ({self.base_version} -> {self.revision_version})"

    def text(self, *, levels: tuple[str, ...] = LEVELS) -> str:
        """The report for a terminal."""
        lines = [self.summary()]
        for finding in self.ordered():
            if finding.level in levels:
                lines.append(f"  {finding.level.upper():<8} {finding.rule}  {finding.operation}")
                lines.append(f"           {finding.pointer}")
                lines.append(f"           {finding.message}")
        return "\n".join(lines)

    def markdown(self, *, levels: tuple[str, ...] = LEVELS) -> str:
        """The report as a pull-request comment: one table of findings."""
        mark = {BREAKING: "❌ breaking", WARNING: "⚠️ warning", INFO: "ℹ️ info"}  # noqa: RUF001 (the emoji's own sign)
        lines = [f"### `{self.name}` ({self.base_version} → {self.revision_version})", ""]
        lines.append(" · ".join(f"**{self.count(level)}** {level}" for level in LEVELS))
        shown = [f for f in self.ordered() if f.level in levels]
        if shown:
            lines += ["", "| level | rule | operation | where | change |", "|---|---|---|---|---|"]
            lines += [
                f"| {mark[f.level]} | `{f.rule}` | `{f.operation}` | `{f.pointer}` | {_cell(f.message)} |"
                for f in shown
            ]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON holds it."""
        return {
            "contract": self.name,
            "base_version": self.base_version,
            "revision_version": self.revision_version,
            "counts": {level: self.count(level) for level in LEVELS},
            "findings": [f.as_dict() for f in self.ordered()],
        }


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
