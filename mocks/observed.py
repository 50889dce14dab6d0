"""Answered operations appended to a file as JSON lines: what `harness coverage` and `harness compat` read.

One line per answer, each written with one `write` on a file opened for appending, so the
lines of several processes (the test process and the live mocks it starts) never interleave.
The first `DETAILED` answers of each operation (per test, where a test is known) also carry
the request as it came (method, path, query, headers with credentials left out, the body as
the journal kept it), so a contract revision can be replayed against what the suites sent.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from mocks.journal import JournalEntry

DETAILED = 20
# credentials never go to the file: their presence is kept, their value is not
SECRET_HEADERS = frozenset(
    {"authorization", "cookie", "x-internal-api-key", "x-request-signature", "proxy-authorization"}
)


class LineLog:
    """A JSON-lines file several processes append to."""

    def __init__(self, path: Path, *, truncate: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (os.O_TRUNC if truncate else 0)
        self.path = path
        self._fd = os.open(path, flags, 0o644)
        self._detailed: Counter[tuple[str | None, str, str]] = Counter()

    def write(self, record: dict[str, Any]) -> None:
        """Append one record as one line."""
        os.write(self._fd, orjson.dumps(record) + b"\n")

    def answered(self, contract: str, entry: JournalEntry, source: str, test: str | None) -> None:
        """Append one mock answer (with its request while the operation has had fewer than DETAILED)."""
        record: dict[str, Any] = {
            "contract": contract,
            "operation": entry.operation_id,
            "status": entry.status,
            "source": source,
            "test": test,
        }
        key = (test, contract, str(entry.operation_id))
        if self._detailed[key] < DETAILED:
            self._detailed[key] += 1
            record["request"] = request_of(entry)
        self.write(record)

    def close(self) -> None:
        """Close the file (later writes fail)."""
        os.close(self._fd)


def request_of(entry: JournalEntry) -> dict[str, Any]:
    """The entry's request, shaped as a pact interaction's request (credentials' values left out)."""
    headers = {}
    for raw_name, raw_value in entry.headers:
        name = raw_name.decode("latin-1").lower()
        headers[name] = "(left out)" if name in SECRET_HEADERS else raw_value.decode("latin-1")
    try:
        body: Any = orjson.loads(entry.body) if entry.body and not entry.body_truncated else None
    except orjson.JSONDecodeError:
        body = None
    return {"method": entry.method, "path": entry.path, "query": entry.query, "headers": headers, "body": body}


def mock_observer(log: LineLog, source: str) -> Any:
    """An engine observer (`mocks.engine.OBSERVERS`) writing each answer with `source` and no test."""

    def observe(contract: str, entry: JournalEntry) -> None:
        log.answered(contract, entry, source, None)

    return observe
