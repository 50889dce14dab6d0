"""A bounded record of the requests a mock received, for tests to query.

Entries keep raw bytes and are decoded only when read, so recording costs little on
the hot path; the buffer drops its oldest entries past `max_entries` or `max_bytes` (what
the kept targets, headers and bodies add up to), so memory stays bounded however long a
mock runs and however large its requests are.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import orjson

from mocks.tracing import TraceRef


@dataclass(slots=True)
class JournalEntry:
    """One received request: what came in, how it was answered, and whether a fault or a replay answered it."""

    seq: int
    at: float
    method: str
    path: str
    query: str
    headers: list[tuple[bytes, bytes]]
    body: bytes
    body_truncated: bool
    operation_id: str | None
    status: int | None = None  # None when the connection was dropped or hung
    fault: str | None = None
    replayed: bool = False
    trace: TraceRef | None = None  # the request's place in its trace (W3C traceparent), if it had one

    def as_dict(self) -> dict[str, Any]:
        """The entry as `GET /__admin/journal` shows it."""
        try:
            body: Any = orjson.loads(self.body) if self.body and not self.body_truncated else None
        except orjson.JSONDecodeError:
            body = None
        return {
            "seq": self.seq,
            "at": self.at,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "operation_id": self.operation_id,
            "headers": {k.decode("latin-1"): v.decode("latin-1") for k, v in self.headers},
            "body": body,
            "raw_body": self.body.decode("utf-8", "replace"),
            "body_truncated": self.body_truncated,
            "status": self.status,
            "fault": self.fault,
            "replayed": self.replayed,
            "trace": self.trace.as_dict() if self.trace is not None else None,
        }


def _size(entry: JournalEntry) -> int:
    return len(entry.path) + len(entry.query) + len(entry.body) + sum(len(k) + len(v) for k, v in entry.headers)


class Journal:
    """The last `max_entries` requests, oldest first."""

    def __init__(self, max_entries: int = 5000, body_limit: int = 4096, max_bytes: int = 32 * 1024 * 1024) -> None:
        if max_entries < 1 or body_limit < 0 or max_bytes < 1:
            raise ValueError("max_entries and max_bytes must be positive and body_limit not negative")
        self._entries: deque[JournalEntry] = deque()
        self._max_entries = max_entries
        self._body_limit = body_limit
        self._max_bytes = max_bytes
        self.bytes = 0  # what the kept entries hold: target, headers and kept body
        self.total = 0  # requests recorded since the last clear, including dropped ones

    def record(
        self,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        operation_id: str | None,
        trace: TraceRef | None = None,
    ) -> JournalEntry:
        """Keep one request (cut to the journal's limits); the oldest go when it is full."""
        self.total += 1
        truncated = len(body) > self._body_limit
        entry = JournalEntry(
            seq=self.total,
            at=time.time(),
            method=method,
            path=path,
            query=query,
            headers=headers,
            body=body[: self._body_limit] if truncated else body,
            body_truncated=truncated,
            operation_id=operation_id,
            trace=trace,
        )
        self._entries.append(entry)
        self.bytes += _size(entry)
        while len(self._entries) > self._max_entries or (self.bytes > self._max_bytes and len(self._entries) > 1):
            self.bytes -= _size(self._entries.popleft())
        return entry

    def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()
        self.bytes = 0
        self.total = 0

    def __len__(self) -> int:
        return len(self._entries)

    def find(
        self,
        *,
        operation_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        trace_id: str | None = None,
        since: int = 0,
        limit: int | None = None,
    ) -> list[JournalEntry]:
        """Entries matching every given filter, oldest first; `since` is an exclusive seq."""
        found = [
            e
            for e in self._entries
            if e.seq > since
            and (operation_id is None or e.operation_id == operation_id)
            and (method is None or e.method == method.upper())
            and (path is None or e.path == path)
            and (status is None or e.status == status)
            and (trace_id is None or (e.trace is not None and e.trace.trace_id == trace_id))
        ]
        return found[-limit:] if limit else found
