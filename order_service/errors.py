"""The order service's errors: one root, `OrderServiceError`.

    OrderServiceError                     root of every error the order service raises on purpose
    ├── SecurityError                     (security.errors) a request refused: 401, 403
    ├── ScanError                         (compliance.scanner) a path that cannot be scanned
    ├── StoreError                        the order store (PostgreSQL) failed
    │   ├── StoreUnavailableError         the database cannot be reached: orders are refused (503)
    │   └── MigrationError                (orders.migrate) schema history and code disagree
    └── ServiceError                      anything that went wrong calling another service
        ├── ServiceNotFoundError          404: the resource does not exist
        ├── ServiceRejectedError          another documented 4xx (409, 422): the owner refused the request
        ├── ContractViolationError        the answer is not what the contract says (mismatches listed)
        ├── ServiceTimeoutError           no answer in time
        └── ServiceUnavailableError       cannot be reached, 5xx, 429 (after the retries)
            └── CircuitOpenError          not even tried: the service's breaker is open

httpx's errors are translated at one boundary (`clients.base.map_transport_errors`),
always `raise ... from exc`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class OrderServiceError(Exception):
    """Root of the order service's own errors."""


class StoreError(OrderServiceError):
    """The order store failed."""


class StoreUnavailableError(StoreError):
    """The order store cannot be reached now (the order was not placed; a retry may succeed)."""


class ServiceError(OrderServiceError):
    """Base of the client errors; `service` and `operation` say where."""

    def __init__(self, message: str, *, service: str, operation: str) -> None:
        super().__init__(message)
        self.service = service
        self.operation = operation


class ServiceNotFoundError(ServiceError):
    pass


class ServiceRejectedError(ServiceError):
    def __init__(self, message: str, *, service: str, operation: str, status: int, body: Any) -> None:
        super().__init__(message, service=service, operation=operation)
        self.status = status
        self.body = body


@dataclass(frozen=True)
class Mismatch:
    """One way an answer breaks the contract."""

    field: str  # dotted path; empty for the whole body
    problem: str

    def __str__(self) -> str:
        return f"{self.field or '(body)'}: {self.problem}"


class ContractViolationError(ServiceError):
    def __init__(self, message: str, *, service: str, operation: str, mismatches: tuple[Mismatch, ...]) -> None:
        super().__init__(message, service=service, operation=operation)
        self.mismatches = mismatches

    def __str__(self) -> str:
        lines = [super().__str__(), *(f"  - {m}" for m in self.mismatches)]
        return "\n".join(lines)


class ServiceTimeoutError(ServiceError):
    pass


class ServiceUnavailableError(ServiceError):
    def __init__(self, message: str, *, service: str, operation: str, retry_after: float | None = None) -> None:
        super().__init__(message, service=service, operation=operation)
        self.retry_after = retry_after


class CircuitOpenError(ServiceUnavailableError):
    pass
