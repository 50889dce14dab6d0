"""The committed pacts/ are what the consumer tests generate now (`make pacts` refreshes them)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from suites.fixtures.pact import COMMITTED_PACTS, PAIRS, pact_file_name
from suites.fixtures.processes import child_pytest


def comparable(path: Path) -> dict[str, Any]:
    pact = json.loads(path.read_text())
    pact["metadata"].pop("pactRust", None)  # which pact_ffi wrote it does not change the contract
    pact["interactions"] = sorted(pact["interactions"], key=lambda i: i["description"])
    return dict(pact)


def test_committed_pacts_are_not_stale(tmp_path: Path) -> None:
    env = {**os.environ, "HARNESS_PACT_DIR": str(tmp_path)}
    result = child_pytest("-m", "pact", "-q", "suites/pact", env=env)
    assert result.returncode == 0, result.stdout[-3000:]
    stale = [
        pact_file_name(provider, consumer)
        for consumer, provider in PAIRS
        if comparable(tmp_path / pact_file_name(provider, consumer))
        != comparable(COMMITTED_PACTS / pact_file_name(provider, consumer))
    ]
    assert not stale, f"pacts/ is stale for {stale}: run `make pacts` and commit the result"
