"""Planted defects of the reference order service, each caught by the conformance check named beside it.

Each is one textual change to one module of `order_service` (the old text must occur exactly
once), applied only in a process started by `suites.conformance.patched`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Defect:
    name: str
    what: str
    module: str
    old: str
    new: str
    caught_by: str  # the check that must fail
    also: tuple[tuple[str, str], ...] = ()  # more (old, new) changes of the same module

    def apply(self, source: str) -> str:
        """`source` with the defect planted; ValueError when the reference changed under it."""
        for old, new in ((self.old, self.new), *self.also):
            if source.count(old) != 1:
                raise ValueError(f"defect {self.name}: {old!r} occurs {source.count(old)} times in {self.module}")
            source = source.replace(old, new)
        return source


_NO_CALL = "(lambda *_, **__: None)("
_LIST = [
    Defect(
        "v2-account-optional",
        "signing v2 without the account required in the covered list",
        "order_service.security.verifying",
        'ORDER_ENDPOINTS = Coverage(always=("authorization", "x-trading-account-id"))',
        'ORDER_ENDPOINTS = Coverage(always=("authorization",))',
        "signing-v2.covers-account",
    ),
    Defect(
        "v2-token-optional",
        "signing v2 without the user token required in the covered list",
        "order_service.security.verifying",
        'ORDER_ENDPOINTS = Coverage(always=("authorization", "x-trading-account-id"))',
        'ORDER_ENDPOINTS = Coverage(always=("x-trading-account-id",))',
        "signing-v2.covers-token",
    ),
    Defect(
        "skew-exclusive",
        "the skew window checked with >= instead of > (300 s refused)",
        "order_service.security.verifying",
        "abs(skew) > self._tolerance",
        "abs(skew) >= self._tolerance",
        "signing.skew-edge-ahead",
    ),
    Defect(
        "replay-not-consulted",
        "the replay store's answer ignored",
        "order_service.security.verifying",
        "        if not first:\n",
        "        if False:\n",
        "signing.replay",
    ),
    Defect(
        "nonce-not-signed",
        "the nonce left out of the signed string",
        "order_service.security.signing",
        '            nonce or "",\n',
        '            "",\n',
        "signing.nonce-covered",
    ),
    Defect(
        "query-not-signed",
        "the query left out of the signed string",
        "order_service.security.signing",
        "            canonical_query(query),\n",
        '            "",\n',
        "signing.covers-request",
    ),
    Defect(
        "query-sorted-by-name-only",
        "the canonical query sorted by name only (a repeated name keeps its sent order)",
        "order_service.security.signing",
        "for name, value in sorted(pairs))",
        "for name, value in sorted(pairs, key=lambda pair: pair[0]))",
        "signing.published-vectors",
    ),
    Defect(
        "duplicate-header-accepted",
        "a signing header sent twice accepted (the first value read)",
        "order_service.security.verifying",
        "            if len(found) > 1:\n",
        "            if len(found) > 2:\n",
        "signing.duplicate-headers",
    ),
    Defect(
        "no-www-authenticate",
        "401 answers without WWW-Authenticate",
        "order_service.security.dependencies",
        'headers = {"WWW-Authenticate": _challenge(exc.reason)} if exc.status == 401 else None',
        "headers = None",
        "signing.required-headers",
    ),
    Defect(
        "matrix-widened",
        "risk_manager allowed place_order",
        "order_service.settings",
        '"risk_manager": ["cancel_order", "get_positions"],',
        '"risk_manager": ["cancel_order", "get_positions", "place_order"],',
        "matrix.risk_manager.place_order",
    ),
    Defect(
        "expired-token-accepted",
        "the user token's expiry not verified",
        "order_service.security.users",
        'options={"require": ["exp", "sub", "aud"]}',
        'options={"require": ["sub", "aud"], "verify_exp": False}',
        "tokens.expired",
        also=(("if self._clock() >= expires:", "if False:"),),
    ),
    Defect(
        "any-account",
        "an account missing from the token accepted",
        "order_service.security.users",
        "        if account_id not in user.trading_accounts:\n",
        "        if False:\n",
        "tokens.account-in-token",
    ),
    Defect(
        "rate-limit-off-by-one",
        "the per-account limit allows 11 a second",
        "order_service.services.rate_limiter",
        "account_count > self.settings.per_account",
        "account_count > self.settings.per_account + 1",
        "rate-limits.eleventh-order",
    ),
    Defect(
        "no-retry-after",
        "429 and 503 answers without Retry-After",
        "order_service.api.errors",
        '        headers["Retry-After"] = str(retry_after)\n',
        "        pass\n",
        "rate-limits.eleventh-order",
    ),
    Defect(
        "idempotency-key-ignored",
        "the Idempotency-Key ignored",
        "order_service.api.desk",
        '        if key is not None:\n            with span("store claim_key", self._db):',
        '        if False:\n            with span("store claim_key", self._db):',
        "idempotency.same-answer",
    ),
    Defect(
        "other-body-same-key",
        "a different body under a used key answered with the first order",
        "order_service.orders.store",
        "        if record.fingerprint != fingerprint:\n            raise KeyReused(key)\n",
        "        if False:\n            raise KeyReused(key)\n",
        "idempotency.other-body",
    ),
    Defect(
        "threshold-inclusive",
        "every anomaly threshold checked with >= instead of >",
        "order_service.services.order_anomaly_detector",
        "        if observed <= threshold:",
        "        if observed < threshold:",
        "anomalies.large-quantity",
    ),
    Defect(
        "value-threshold-doubled",
        "the 10 lakh value rule at 20 lakh",
        "order_service.services.order_anomaly_detector",
        "Decimal(event.quantity) * price, s.max_value)",
        "Decimal(event.quantity) * price, s.max_value * 2)",
        "anomalies.large-value",
    ),
    Defect(
        "frequency-at-30",
        "HIGH_FREQUENCY_ORDERS raised at the 30th order",
        "order_service.services.order_anomaly_detector",
        "Decimal(in_window), Decimal(s.orders_per_minute))",
        "Decimal(in_window), Decimal(s.orders_per_minute - 1))",
        "anomalies.high-frequency",
    ),
    Defect(
        "symbols-at-17",
        "UNUSUAL_SYMBOLS raised only at the 17th symbol",
        "order_service.services.order_anomaly_detector",
        "Decimal(symbols), Decimal(s.symbols_per_day))",
        "Decimal(symbols), Decimal(s.symbols_per_day + 1))",
        "anomalies.unusual-symbols",
    ),
    Defect(
        "session-in-utc",
        "the session hours compared with UTC instead of IST",
        "order_service.services.order_anomaly_detector",
        "        clock = at.time().replace(tzinfo=None)\n",
        "        clock = time(*at.utctimetuple()[3:6])\n",
        "anomalies.off-hours",
    ),
    Defect(
        "cancellations-uncounted",
        "cancellations never counted for RAPID_CANCELLATIONS",
        "order_service.api.desk",
        "await self.detector.check_cancellation(account, self.clock(), order_id)",
        "None",
        "anomalies.rapid-cancellations",
    ),
    Defect(
        "no-critical-issues",
        "/health/redis without critical_issues",
        "order_service.services.redis_usage_monitor",
        '                "critical_issues": health.critical_issues,\n',
        "",
        "health.redis-format",
    ),
    Defect(
        "orders-metric-renamed",
        "order_service_orders_total named order_service_order_total",
        "order_service.api.desk",
        '"order_service_orders_total", "Orders placed',
        '"order_service_order_total", "Orders placed',
        "metrics.seed-names",
    ),
    Defect(
        "no-audit-for-orders",
        "no AUDIT_EVENT for a placed order",
        "order_service.api.desk",
        '        audit_event(\n            "order_placed",',
        f'        {_NO_CALL}\n            "order_placed",',
        "audit.orders",
    ),
    Defect(
        "no-audit-for-refusals",
        "no AUDIT_EVENT for a refused request",
        "order_service.security.dependencies",
        '    audit_event(\n        "auth_failure",',
        f'    {_NO_CALL}\n        "auth_failure",',
        "audit.refusals",
    ),
    Defect(
        "critical-line-renamed",
        "HIGH and CRITICAL anomalies logged without ORDER_ANOMALY_CRITICAL",
        "order_service.services.order_anomaly_detector",
        'log.critical("ORDER_ANOMALY_CRITICAL %s", line)',
        'log.critical("ORDER_ANOMALY %s", line)',
        "audit.anomalies",
    ),
    Defect(
        "redis-down-500",
        "a Redis error answered 500, not the fail-closed 503",
        "order_service.api.errors",
        "    (aioredis.RedisError, _redis_down),\n",
        "",
        "fail-closed.orders",
    ),
    Defect(
        "ready-without-redis",
        "/health/ready answering 200 while Redis is away",
        "order_service.api.health",
        "return JSONResponse(body, status_code=200 if ready_now else 503)",
        "return JSONResponse(body, status_code=200)",
        "fail-closed.health",
    ),
    Defect(
        "body-limit-unenforced",
        "the request-size limit never applied (a declared or a streamed body)",
        "order_service.api.limits",
        "        if declared and int(declared[0]) > self.max_body:\n",
        "        if False:\n",
        "fail-closed.oversized-body",
        also=(("                if received > self.max_body:\n", "                if False:\n"),),
    ),
]
DEFECTS = {defect.name: defect for defect in _LIST}


def table() -> str:
    """The README's table: each defect, where it is planted, and the check that catches it."""
    rows = ["| defect | planted in | caught by |", "| --- | --- | --- |"]
    rows += [f"| {d.what} | `{d.module}` | `{d.caught_by}` |" for d in _LIST]
    return "\n".join(rows)


if __name__ == "__main__":
    print(table())
