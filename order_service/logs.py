"""Logging of `python -m order_service serve`: one JSON line per event, on stdout or into a file.

The service's events are log records whose message starts with a tag and, for most, a JSON
object: `AUDIT_EVENT {...}`, `ORDER_ANOMALY_CRITICAL {...}`, `OUTBOX_DELIVERY_PAUSED ...`.
The JSON format keeps the whole message (so the seed's log queries, which search for the
tag, find it) and adds the tag and the object as fields of their own:

    {"time": "2026-12-02T10:00:00.123+00:00", "level": "INFO", "logger": "order_service.audit",
     "message": "AUDIT_EVENT {...}", "event": "AUDIT_EVENT", "fields": {...}}
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

_TAGGED = re.compile(r"^([A-Z][A-Z0-9_]{2,}) ?(.*)$", re.DOTALL)


class JsonLines(logging.Formatter):
    """A record as one JSON line (see the module doc)."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        tagged = _TAGGED.match(message)
        if tagged:
            line["event"] = tagged[1]
            rest = tagged[2]
            if rest.startswith("{"):
                with contextlib.suppress(ValueError):  # not an object after all: the message says it
                    line["fields"] = json.loads(rest)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, separators=(",", ":"))


def configure(level: str = "INFO", fmt: Literal["json", "text"] = "json", file: Path | None = None) -> logging.Handler:
    """Send the service's records (and the libraries' warnings) to stdout or `file`; return the handler."""
    handler: logging.Handler = (
        logging.FileHandler(file, encoding="utf-8") if file else logging.StreamHandler(sys.stdout)
    )
    handler.setFormatter(
        JsonLines() if fmt == "json" else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)  # libraries: warnings and worse
    logging.getLogger("order_service").setLevel(level.upper())
    return handler
