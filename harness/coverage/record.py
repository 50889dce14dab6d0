"""Recording during a pytest run (`--harness-coverage FILE`): every answer, with the test that caused it.

In-process mocks are observed through `mocks.engine.OBSERVERS`; the conformance kit's requests
through `harness.conformance.target.OBSERVERS`; live mocks the tests start write to the same
file themselves (`HARNESS_COVERAGE` in their environment, which they inherit).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mocks.cli import COVERAGE_ENV
from mocks.journal import JournalEntry
from mocks.observed import LineLog

ORDER_SERVICE = "order-service.yaml"  # what the conformance kit's requests are counted against


class Recorder:
    """A pytest plugin object: knows the running test and writes each observed answer with it."""

    def __init__(self, log: LineLog) -> None:
        self.log = log
        self.item: pytest.Item | None = None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> object:
        """Remember the test while it runs (its set-up and tear-down included)."""
        self.item = item
        try:
            return (yield)
        finally:
            self.item = None

    def _source(self, default: str) -> tuple[str, str | None]:
        if self.item is None:
            return default, None
        if self.item.get_closest_marker("schemathesis") is not None:
            return "schemathesis", self.item.nodeid
        return default, self.item.nodeid

    def mock_answered(self, contract: str, entry: JournalEntry) -> None:
        """An engine observer: an in-process mock answered."""
        source, test = self._source("suites")
        self.log.answered(contract, entry, source, test)

    def kit_answered(self, method: str, path: str, status: int) -> None:
        """A conformance-kit observer: the order service answered the kit."""
        _, test = self._source("conformance")
        record = {"contract": ORDER_SERVICE, "method": method, "path": path, "status": status}
        self.log.write({**record, "source": "conformance", "test": test})


def start(config: pytest.Config, path: Path) -> Recorder:
    """Record to `path` for the rest of the run (the controller of an xdist run empties it first)."""
    from harness.conformance.target import OBSERVERS as KIT_OBSERVERS
    from mocks.engine import OBSERVERS

    worker = hasattr(config, "workerinput")
    recorder = Recorder(LineLog(path, truncate=not worker))
    config.pluginmanager.register(recorder, "harness-coverage-recorder")
    OBSERVERS.append(recorder.mock_answered)
    KIT_OBSERVERS.append(recorder.kit_answered)
    os.environ[COVERAGE_ENV] = str(path.resolve())  # the live mocks the tests start record too
    return recorder
