"""Answered operations appended to a file as JSON lines: what `harness coverage` reads.

One line per answer, each written with one `write` on a file opened for appending, so the
lines of several processes (the test process and the live mocks it starts) never interleave.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson


class LineLog:
    """A JSON-lines file several processes append to."""

    def __init__(self, path: Path, *, truncate: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (os.O_TRUNC if truncate else 0)
        self.path = path
        self._fd = os.open(path, flags, 0o644)

    def write(self, record: dict[str, Any]) -> None:
        """Append one record as one line."""
        os.write(self._fd, orjson.dumps(record) + b"\n")

    def close(self) -> None:
        """Close the file (later writes fail)."""
        os.close(self._fd)


def mock_observer(log: LineLog, source: str) -> Any:
    """An engine observer (`mocks.engine.OBSERVERS`) writing each answer with `source` and no test."""

    def observe(contract: str, operation: str, status: int) -> None:
        log.write({"contract": contract, "operation": operation, "status": status, "source": source, "test": None})

    return observe
