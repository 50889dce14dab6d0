"""A bounded record of the requests a mock received, for tests to query.

Entries keep raw bytes and are decoded only when read, so recording costs little on
the hot path; the buffer drops its oldest entries past `max_entries`, so memory stays
bounded however long a mock runs.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(slots=True)
class JournalEntry:
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

    def as_dict(self) -> dict[str, Any]:
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
        }


class Journal:
    """The last `max_entries` requests, oldest first."""

    def __init__(self, max_entries: int = 5000, body_limit: int = 4096) -> None:
        if max_entries < 1 or body_limit < 0:
            raise ValueError("max_entries must be positive and body_limit not negative")
        self._entries: deque[JournalEntry] = deque(maxlen=max_entries)
        self._body_limit = body_limit
        self.total = 0  # requests recorded since the last clear, including dropped ones

    def record(
        self,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        operation_id: str | None,
    ) -> JournalEntry:
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
        )
        self._entries.append(entry)
        return entry

    def clear(self) -> None:
        self._entries.clear()
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
        ]
        return found[-limit:] if limit else found
