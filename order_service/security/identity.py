"""Which calling service may perform which order operation: the service identity matrix."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from order_service.security.errors import AuthorizationError
from order_service.settings import AUTHORIZED_SERVICES

OPERATIONS = ("place_order", "modify_order", "cancel_order", "get_orders", "get_positions")


class CriticalServiceAuth:
    """The compliance document's `AUTHORIZED_SERVICES`, loaded from settings."""

    AUTHORIZED_SERVICES: ClassVar[Mapping[str, Sequence[str]]] = AUTHORIZED_SERVICES

    def __init__(self, matrix: Mapping[str, Sequence[str]] | None = None) -> None:
        matrix = self.AUTHORIZED_SERVICES if matrix is None else matrix
        unknown = {op for ops in matrix.values() for op in ops} - set(OPERATIONS)
        if unknown:
            raise ValueError(f"the service matrix names unknown operations {sorted(unknown)}")
        self._matrix = {identity: frozenset(ops) for identity, ops in matrix.items()}

    def allowed(self, identity: str, operation: str) -> bool:
        return operation in self._matrix.get(identity, frozenset())

    def authorize(self, identity: str, operation: str) -> None:
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}")
        if not self.allowed(identity, operation):
            raise AuthorizationError("operation_not_allowed", f"{identity} may not {operation}", identity=identity)
