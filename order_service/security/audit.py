"""The audit trail: one `AUDIT_EVENT` log line of JSON per security decision or order event."""

from __future__ import annotations

import json
import logging
from typing import Any

log = logging.getLogger("order_service.audit")


def audit_event(event: str, **fields: Any) -> None:
    log.info("AUDIT_EVENT %s", json.dumps({"event": event, **fields}, default=str, sort_keys=True))
