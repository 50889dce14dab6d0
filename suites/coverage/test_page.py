"""The coverage page, rendered by headless Chromium: a table per contract, a row per operation, coloured cells."""

from __future__ import annotations

import re
from pathlib import Path

from harness.coverage.page import render
from harness.coverage.report import Matrix
from suites.coverage.browser import chromium, dom, pixels, screenshot
from suites.fixtures.environment import binary, unavailable

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = sorted((ROOT / "contracts").glob("*.yaml"))
COVERED, GAP = (0xD7, 0xF5, 0xDD), (0xFF, 0xD5, 0xD5)  # the page's cell colours


def page(tmp_path: Path) -> tuple[Path, Matrix]:
    """Our contracts with our pacts and two recorded answers: some cells covered, some seed gaps."""
    matrix = Matrix(CONTRACTS)
    matrix.add_pacts(ROOT / "pacts")
    matrix.add_records(
        [
            {
                "contract": "strategy-service.yaml",
                "operation": "syncStrategyPnl",
                "status": 503,
                "source": "suites",
                "test": "suites/x/test_y.py::test_z",
            },
            {
                "contract": "account-service.yaml",
                "operation": "getTierSummary",
                "status": 200,
                "source": "schemathesis",
                "test": "suites/x/test_f.py::test_f",
            },
        ]
    )
    out = tmp_path / "coverage.html"
    out.write_text(render(list(matrix.coverage.values()), link_base="../"))
    return out, matrix


def test_the_page_renders_a_table_per_contract_with_a_row_per_operation(tmp_path: Path) -> None:
    found = chromium() or unavailable("chromium", "chromium is not on PATH")
    binary(Path(found).name, "chromium")
    html, matrix = page(tmp_path)
    rendered = dom(found, html)
    tables = re.findall(r'<table class="coverage" data-contract="([^"]+)">(.*?)</table>', rendered, re.S)
    assert [name for name, _ in tables] == [p.name for p in CONTRACTS]
    for name, body in tables:
        assert body.count("<tr>") == 1 + len(matrix.contracts[name].operations)  # the head and one per operation
    assert '<a href="../suites/x/test_y.py">suites/x/test_y.py::test_z</a>' in rendered
    assert '<a href="../pacts/order-service-strategy-service.json">' in rendered


def test_the_screenshot_shows_covered_cells_and_gaps(tmp_path: Path) -> None:
    found = chromium() or unavailable("chromium", "chromium is not on PATH")
    html, _ = page(tmp_path)
    image = screenshot(found, html, tmp_path / "coverage.png")
    counts = pixels(image.read_bytes())
    assert sum(counts.values()) == 1400 * 1800
    assert counts[COVERED] > 2_000, counts.most_common(8)  # the pacts' cells, green
    assert counts[GAP] > 2_000, counts.most_common(8)  # seed error responses nothing exercised, red
