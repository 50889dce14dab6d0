"""The kit as pytest items: `pytest --harness-order-service=URL` (the harness plugin's options).

Each check is one item named by its id; a failure shows the request and the answer, a check
the kit cannot make with what it was given is skipped with the reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.conformance.kit import Check, run_check
from harness.conformance.run import selected
from harness.conformance.target import Credentials, LogStream, Target


class ConformanceItem(pytest.Item):
    """One check of the kit against the target of the session."""

    def __init__(self, *, check: Check, target: Target, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check
        self.target = target

    def runtest(self) -> None:
        """Run the check; fail with its detail and exchange, skip when it could not be made."""
        result = run_check(self.target, self.check)
        if result.status == "not checked":
            pytest.skip(f"not checked: {result.detail}")
        if result.status == "fail":
            raise AssertionError(f"{self.check.rule}\n{result.detail}\n{result.exchange}")

    def reportinfo(self) -> tuple[Path, int, str]:
        """Where the item comes from, as pytest lists it."""
        return Path(__file__), 0, f"conformance {self.check.id}: {self.check.rule}"


def add_items(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """When `--harness-order-service` is given, every selected check as an item."""
    url = config.getoption("--harness-order-service")
    if not url:
        return
    target = _target(config, url)
    config.add_cleanup(target.close)
    for check in selected(config.getoption("--harness-conformance-only")):
        items.append(ConformanceItem.from_parent(session, name=check.id, check=check, target=target))


def _target(config: pytest.Config, url: str) -> Target:
    credentials_file = config.getoption("--harness-credentials")
    if credentials_file is None:
        from order_service.security.dev import DEV_CREDENTIALS

        credentials_file = DEV_CREDENTIALS
    logs = config.getoption("--harness-conformance-logs")
    mocks = config.getoption("--harness-conformance-mocks")
    return Target(
        url.rstrip("/"),
        Credentials.load(Path(credentials_file)),
        redis_url=config.getoption("--harness-conformance-redis"),
        logs=LogStream.follow(Path(logs)) if logs else None,
        mocks=json.loads(Path(mocks).read_text())["mocks"] if mocks else {},
    )
