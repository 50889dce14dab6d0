"""A mock's applied writes on disk: what a real owner keeps in its database, kept by a mock.

A mock keeps the answer of every write it applied under an Idempotency-Key, so a retry of
that write is answered, not applied again. In memory that promise ends with the process: a
mock killed and started again would apply a redelivered write a second time, which no real
owner does. With a ledger (`mocks serve --ledger FILE`) each applied write is appended to
the file as one JSON line before its answer is sent, and a mock started on the same file
answers those keys from it; the crash tier's checker reads the file to count how many
times each write reached its owner.

Appends are plain `write` calls on a file opened for appending: a killed process loses
nothing that was written (the kernel holds it); a power cut could, and is not this file's
concern.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from mocks.behaviour import Reply


@dataclass(frozen=True)
class Applied:
    """One write the mock applied: its operation, its key, when, and the answer it kept."""

    operation_id: str
    key: str
    at: float
    reply: Reply

    def as_dict(self) -> dict[str, Any]:
        """The ledger line."""
        reply = {"status": self.reply.status, "body": self.reply.body, "headers": list(self.reply.headers)}
        return {"operation_id": self.operation_id, "key": self.key, "at": self.at, "reply": reply}


def _applied(line: bytes) -> Applied:
    data = orjson.loads(line)
    reply = data["reply"]
    headers = tuple((str(name), str(value)) for name, value in reply["headers"])
    return Applied(data["operation_id"], data["key"], data["at"], Reply(reply["status"], reply["body"], headers))


def read_ledger(path: Path) -> Iterator[Applied]:
    """Every applied write in `path`, oldest first; a last line cut short by a kill is left out."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return
    for line in raw.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            return  # the process died inside this write: the write was not answered either
        yield _applied(line)


class Ledger:
    """Appends applied writes to one file (opened at once, so a bad path fails at start)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def append(self, applied: Applied) -> None:
        """Keep one applied write (one `write` call: lines of concurrent appends never interleave)."""
        os.write(self._fd, orjson.dumps(applied.as_dict()) + b"\n")

    def forget(self) -> None:
        """Empty the file (the mock's reset forgets every stored answer)."""
        os.ftruncate(self._fd, 0)

    def close(self) -> None:
        """Let the file go."""
        os.close(self._fd)
