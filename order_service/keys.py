"""The key prefixes the order service writes in Redis, and the usage pattern of each.

One source for both sides: the code that writes keys takes its prefix from here, and the
Redis usage monitor classifies keys by the same table (settings may extend it).
"""

from __future__ import annotations

IDEMPOTENCY = "idempotency"  # idempotency records (the order service keeps its own in PostgreSQL now)
REPLAY = "replay"  # signatures seen by request verification
RATE_LIMIT = "rate_limit"  # request windows per account and service
ANOMALY = "anomaly"  # sliding windows of the anomaly rules
CACHE = "cache"  # cached answers of other services
MARKET = "market"  # last traded prices and other live market data
LOCK = "lock"  # distributed locks
QUEUE = "queue"  # background job queues
OUTBOX = "outbox"  # writes waiting for their owner

PATTERN_OF_PREFIX: dict[str, str] = {
    f"{IDEMPOTENCY}:": "idempotency",
    f"{REPLAY}:": "idempotency",
    f"{RATE_LIMIT}:": "rate_limiting",
    f"{ANOMALY}:": "rate_limiting",
    f"{CACHE}:": "caching",
    f"{MARKET}:": "real_time_data",
    f"{LOCK}:": "worker_coordination",
    f"{QUEUE}:": "worker_coordination",
    f"{OUTBOX}:": "worker_coordination",
}
