"""A provider that drifted from its contract: the strategy service with `valid` renamed to `is_valid`."""

from __future__ import annotations

import re
from pathlib import Path

from mocks.registry import CONTRACTS_DIR

STRATEGY = CONTRACTS_DIR / "strategy-service.yaml"


def drifted_strategy_contract(folder: Path) -> Path:
    """The strategy contract, its validation answer's `valid` renamed (schema and examples); written to `folder`."""
    text = STRATEGY.read_text()
    drifted = text.replace(
        "required: [strategy_id, valid, status, reason, checked_at]",
        "required: [strategy_id, is_valid, status, reason, checked_at]",
    )
    drifted = drifted.replace("        valid: {type: boolean}", "        is_valid: {type: boolean}")
    drifted = re.sub(r"(\s)valid: (true|false)", r"\1is_valid: \2", drifted)
    if drifted.count("is_valid") < 3:
        raise RuntimeError("the strategy contract changed: the drift no longer applies")
    path = folder / "drifted-strategy-service.yaml"
    path.write_text(drifted)
    return path
