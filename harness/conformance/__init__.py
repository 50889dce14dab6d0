"""Order-service conformance: the seed's rules, checked from outside over HTTP (and Redis, and logs).

    harness conformance --url http://127.0.0.1:8000 --dev --redis redis://127.0.0.1:6390/0 --logs service.log
    pytest --harness-order-service=http://127.0.0.1:8000 --harness-credentials=creds.json

Groups: signing, matrix, tokens, rate-limits, idempotency, anomalies, health, metrics, audit,
fail-closed. Each check names the rule it enforces; a report says pass, fail (with the
request and the answer) or not checked (and why).
"""

from harness.conformance.kit import CHECKS, GROUPS, Report, Result
from harness.conformance.run import run_kit, selected
from harness.conformance.target import Credentials, LogStream, Target

__all__ = ["CHECKS", "GROUPS", "Credentials", "LogStream", "Report", "Result", "Target", "run_kit", "selected"]
