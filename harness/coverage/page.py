"""The coverage matrix as one static HTML page: a table per contract, a cell per operation x status."""

from __future__ import annotations

from html import escape

from harness.coverage.report import SOURCES, Cell, ContractCoverage, Row

BADGES = {"pacts": "P", "suites": "S", "schemathesis": "F", "conformance": "C"}
STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1b1f24; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; }
table.coverage { border-collapse: collapse; margin: 8px 0 4px; }
table.coverage th, table.coverage td { border: 1px solid #c8ccd1; padding: 4px 6px; vertical-align: top; }
table.coverage thead th { background: #eef0f3; }
table.coverage tbody th { text-align: left; font-weight: normal; white-space: nowrap; }
td.covered { background: #d7f5dd; } td.uncovered { background: #fff1c2; } td.gap { background: #ffd5d5; }
td.none { background: #f4f5f7; color: #9aa0a6; text-align: center; }
.badge { display: inline-block; min-width: 14px; padding: 0 4px; margin-right: 2px; border-radius: 3px;
  color: #fff; font: bold 11px/16px monospace; text-align: center; }
.pacts { background: #6f42c1; } .suites { background: #1f6feb; } .schemathesis { background: #d1242f; }
.conformance { background: #1a7f37; }
.seed { font-size: 11px; color: #6e7781; } details { font-size: 12px; } summary { cursor: pointer; color: #57606a; }
p.legend span { margin-right: 12px; } .undocumented { color: #b35900; font-size: 12px; }
"""


def render(contracts: list[ContractCoverage], *, link_base: str) -> str:
    """The page; `link_base` is prepended to a test's file path to link it (a relative path or a URL)."""
    cells = [c for cov in contracts for row in cov.rows for c in row.cells.values()]
    gaps = sum(len(cov.gaps()) for cov in contracts)
    summary = f"{sum(c.covered for c in cells)} of {len(cells)} documented responses exercised"
    gate = "every documented error response of a seed endpoint is exercised" if not gaps else f"{gaps} gap(s)"
    legend = "".join(f'<span><span class="badge {s}">{BADGES[s]}</span>{s}</span>' for s in SOURCES)
    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Contract coverage</title>',
        f"<style>{STYLE}</style></head><body><h1>Contract coverage</h1>",
        f"<p>{escape(summary)}; gate: {escape(gate)}.</p>",
        f'<p class="legend">{legend}<span>green: exercised; amber: not exercised; '
        "red: an error response of a seed endpoint nothing exercised; grey: not documented</span></p>",
    ]
    for coverage in contracts:
        parts.append(_table(coverage, link_base))
    parts.append("</body></html>")
    return "\n".join(parts)


def _table(coverage: ContractCoverage, link_base: str) -> str:
    statuses = coverage.statuses()
    head = "".join(f"<th>{escape(s)}</th>" for s in statuses)
    lines = [
        f'<h2 id="{escape(coverage.name)}">{escape(coverage.title)} <small>({escape(coverage.name)})</small></h2>',
        f'<table class="coverage" data-contract="{escape(coverage.name)}">',
        f"<thead><tr><th>operation</th>{head}</tr></thead><tbody>",
    ]
    for row in coverage.rows:
        lines.append(f"<tr>{_operation(row)}{''.join(_cell(row, s, link_base) for s in statuses)}</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)


def _operation(row: Row) -> str:
    seed = ' <span class="seed">seed</span>' if row.seed else ""
    extra = ""
    if row.undocumented:
        listed = ", ".join(f"{s} ({', '.join(sorted(src))})" for s, src in sorted(row.undocumented.items()))
        extra = f'<br><span class="undocumented">undocumented statuses seen: {escape(listed)}</span>'
    name = f"<code>{escape(row.method)} {escape(row.path)}</code>{seed}"
    return f"<th>{name}<br><small>{escape(row.operation_id)}</small>{extra}</th>"


def _cell(row: Row, status: str, link_base: str) -> str:
    cell = row.cells.get(status)
    if cell is None:
        return '<td class="none">·</td>'
    if not cell.covered:
        kind = "gap" if row.seed and status[0] in "45" else "uncovered"
        return f'<td class="{kind}" title="{escape(row.operation_id)} {escape(status)}: not exercised"></td>'
    badges = "".join(f'<span class="badge {s}" title="{s}">{BADGES[s]}</span>' for s in SOURCES if s in cell.by)
    return f'<td class="covered">{badges}{_who(cell, link_base)}</td>'


def _who(cell: Cell, link_base: str) -> str:
    names = sorted({(source, who) for source, whos in cell.by.items() for who in whos})
    if not names:
        return ""
    items = "".join(f"<li>{_link(source, who, link_base)}</li>" for source, who in names)
    return f"<details><summary>{len(names)}</summary><ul>{items}</ul></details>"


def _link(source: str, who: str, link_base: str) -> str:
    if source == "pacts":
        file, _, interaction = who.partition(": ")
        return f'<a href="{escape(link_base)}pacts/{escape(file)}">{escape(file)}</a>: {escape(interaction)}'
    file = who.split("::", 1)[0]
    return f'<a href="{escape(link_base)}{escape(file)}">{escape(who)}</a>'
