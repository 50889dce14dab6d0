"""Health endpoints, metric names, the audit and anomaly log lines, and failing closed without Redis."""

from __future__ import annotations

import json
import uuid
from typing import Any

from harness.conformance.kit import check
from harness.conformance.outcomes import Failed, NotChecked
from harness.conformance.target import LogStream, Target, expect

SEED_METRICS = (
    "order_service_http_requests_total",
    "order_service_orders_total",
    "redis_usage_memory_percentage",
    "service_client_request_duration_seconds",
)
# The seed's /health/redis response format: each key and the type of its value.
REDIS_HEALTH = {
    "is_healthy": bool,
    "memory_usage_percentage": (int, float),
    "connection_pool_usage": (int, float),
    "warnings": list,
    "critical_issues": list,
}
REDIS_USAGE = {"total_keys": int, "total_memory_mb": (int, float), "patterns": dict}
PATTERN = {"key_count": int, "memory_usage_mb": (int, float)}


def _shape(value: Any, fields: dict[str, Any], where: str) -> None:
    if not isinstance(value, dict):
        raise Failed(f"{where} is not an object: {value!r}")
    for name, kind in fields.items():
        if name not in value:
            raise Failed(f"{where} has no {name!r} (the seed's format): {sorted(value)}")
        if not isinstance(value[name], kind) or (kind is int and isinstance(value[name], bool)):
            raise Failed(f"{where}.{name} is {value[name]!r}, not {kind}")


@check("health.ready", "GET /health/ready answers 200 with a JSON body while the service can take orders")
def _ready(target: Target) -> None:
    answer = target.send("GET", "/health/ready")
    expect(answer, 200, "readiness")
    answer.json()


@check("health.redis-format", "GET /health/redis answers the seed's format, 200 and status healthy when Redis is")
def _redis_format(target: Target) -> None:
    answer = target.send("GET", "/health/redis")
    expect(answer, 200, "/health/redis with Redis up")
    body = answer.json()
    if body.get("status") != "healthy":
        raise Failed(f"status is {body.get('status')!r}, not 'healthy'", answer.shown())
    _shape(body.get("redis_health"), REDIS_HEALTH, "redis_health")
    _shape(body.get("redis_usage"), REDIS_USAGE, "redis_usage")
    for name, pattern in body["redis_usage"]["patterns"].items():
        _shape(pattern, PATTERN, f"redis_usage.patterns.{name}")


@check("health.limiter-and-breaker", "GET /health/rate-limiter and /health/circuit-breaker answer 200 with JSON")
def _limiter_and_breaker(target: Target) -> None:
    for path in ("/health/rate-limiter", "/health/circuit-breaker"):
        answer = target.send("GET", path)
        expect(answer, 200, path)
        answer.json()


@check("metrics.seed-names", "GET /metrics exposes the seed's four metric names and the anomalies counter")
def _seed_names(target: Target) -> None:
    names = target.metric_names()
    missing = [
        n for n in (*SEED_METRICS, "order_service_order_anomalies_total") if not names & {n, n[: -len("_total")]}
    ]
    if missing:
        raise Failed(f"/metrics has no {missing}")


@check("metrics.counts-orders", "order_service_orders_total and order_service_http_requests_total count each order")
def _counts_orders(target: Target) -> None:
    orders, requests = target.metric("order_service_orders_total"), target.metric("order_service_http_requests_total")
    target.placed(target.fresh_account())
    if target.metric("order_service_orders_total") - orders < 1:
        raise Failed("order_service_orders_total did not grow with a placed order")
    if target.metric("order_service_http_requests_total") - requests < 1:
        raise Failed("order_service_http_requests_total did not grow with a request")


def _logs(target: Target) -> LogStream:
    if target.logs is None:
        raise NotChecked("needs the service's log stream (--logs FILE or -)")
    return target.logs


def _line(target: Target, *needles: str) -> str:
    line = _logs(target).wait_for(*needles)
    if line is None:
        raise Failed(f"no log line with {' and '.join(repr(n) for n in needles)}")
    return line


@check("audit.orders", "every order, modification and cancellation writes an AUDIT_EVENT line naming the order")
def _audit_orders(target: Target) -> None:
    _logs(target)
    account = target.fresh_account()
    order_id = target.placed(account)["order_id"]
    _line(target, "AUDIT_EVENT", order_id)
    expect(
        target.signed("algo_engine", "PATCH", f"/orders/{order_id}", account=account, order={"quantity": 2}),
        200,
        "a change",
    )
    expect(target.signed("algo_engine", "DELETE", f"/orders/{order_id}", account=account), 200, "a cancel")
    lines = [line for line in _logs(target).lines() if "AUDIT_EVENT" in line and order_id in line]
    if len(lines) < 3:
        _line(target, "AUDIT_EVENT", order_id, "cancel")  # waits a little longer for the last one
        lines = [line for line in _logs(target).lines() if "AUDIT_EVENT" in line and order_id in line]
    if len(lines) < 3:
        raise Failed(f"{len(lines)} AUDIT_EVENT lines name order {order_id} after placing, changing and cancelling it")


@check("audit.refusals", "a refused request writes an AUDIT_EVENT line with the reason")
def _audit_refusals(target: Target) -> None:
    _logs(target)
    marker = f"/orders/kit-{uuid.uuid4().hex[:12]}"
    answer = target.send("DELETE", marker)
    expect(answer, (401, 404, 422), "an unsigned cancel")
    _line(target, "AUDIT_EVENT", marker)


@check(
    "audit.anomalies",
    "HIGH and CRITICAL anomalies log ORDER_ANOMALY_CRITICAL, MEDIUM ORDER_ANOMALY_WARNING, with the order id",
)
def _audit_anomalies(target: Target) -> None:
    _logs(target)
    order = target.placed(target.fresh_account(), quantity=200_000, price="1")  # 4x the limit: CRITICAL
    for anomaly in order.get("anomalies") or []:
        severity = anomaly.get("severity")
        wanted = {
            "HIGH": "ORDER_ANOMALY_CRITICAL",
            "CRITICAL": "ORDER_ANOMALY_CRITICAL",
            "MEDIUM": "ORDER_ANOMALY_WARNING",
        }
        if severity in wanted:
            _line(target, wanted[severity], order["order_id"], anomaly["type"])
    if not order.get("anomalies"):
        raise Failed("an order of 200,000 raised no anomaly to log", json.dumps(order)[:500])


def _paused(target: Target) -> Any:
    if target.redis_url is None:
        raise NotChecked("needs control of the service's Redis (--redis URL) to pause it")
    import redis

    return redis.Redis.from_url(target.redis_url, socket_timeout=5)


@check("fail-closed.orders", "with Redis unavailable no order is placed: 503, and the order is not in the book after")
def _fail_closed_orders(target: Target) -> None:
    control = _paused(target)
    account = target.fresh_account()
    control.execute_command("CLIENT", "PAUSE", 3000, "ALL")
    try:
        answer = target.place(account, key=uuid.uuid4().hex, paced=False)
    finally:
        control.execute_command("CLIENT", "UNPAUSE")
    expect(answer, 503, "an order while Redis does not answer")
    listed = target.signed("user_interface", "GET", "/orders", account=account)
    if listed.status == 200 and listed.json().get("items"):
        raise Failed("the refused order is in the book", listed.shown())


# each health endpoint that depends on Redis, and the status its body must say while Redis is away
_REDIS_HEALTH = (("/health/redis", "unhealthy"), ("/health/ready", "not_ready"), ("/health/rate-limiter", "unhealthy"))


@check(
    "fail-closed.health",
    "with Redis unavailable GET /health/redis, /health/ready and /health/rate-limiter answer 503 and say so",
)
def _fail_closed_health(target: Target) -> None:
    control = _paused(target)
    control.execute_command("CLIENT", "PAUSE", 6000, "ALL")  # each answer may take its health timeout
    try:
        answers = [(target.send("GET", path, paced=False), said) for path, said in _REDIS_HEALTH]
    finally:
        control.execute_command("CLIENT", "UNPAUSE")
    for answer, said in answers:
        expect(answer, 503, f"{answer.path} while Redis does not answer")
        if answer.json().get("status") != said:
            raise Failed(f"{answer.path}: status is not {said!r}", answer.shown())


@check("fail-closed.oversized-body", "a POST /orders body over 1 MiB is refused 413 with the JSON error, unread")
def _oversized_body(target: Target) -> None:
    body = b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'  # twice the contract's 1,048,576 bytes
    answer = target.send("POST", "/orders", body=body, paced=False)  # no credentials: the size is refused first
    expect(answer, 413, "a 2 MiB order body")
    if answer.json().get("error") != "payload_too_large":
        raise Failed("the 413 body is not the contract's error (error: payload_too_large)", answer.shown())
