"""Security failures: a public message in general words, the exact reason for the audit log.

SecurityError             (an `order_service.errors.OrderServiceError`)
├── AuthenticationError   401: missing or invalid credentials
└── AuthorizationError    403: valid credentials, operation or account not allowed
"""

from __future__ import annotations

from order_service.errors import OrderServiceError

PUBLIC = {
    "missing_header": "missing or duplicated request credentials",
    "duplicate_header": "missing or duplicated request credentials",
    "unknown_identity": "invalid request credentials",  # identity, key and signature failures look the same
    "bad_api_key": "invalid request credentials",
    "malformed_signature": "invalid request credentials",
    "bad_signature": "invalid request credentials",
    "version_missing": "a version 2 signature needs X-Signature-Version: 2",
    "unsupported_version": "unsupported request signing version",
    "v1_refused": "request signing version 1 is no longer accepted; sign with version 2",
    "bad_signed_headers": "X-Signed-Headers is malformed or does not cover what this operation requires",
    "missing_signed_header": "a header listed in X-Signed-Headers is missing",
    "bad_timestamp": "request timestamp missing or outside the accepted window",
    "stale_timestamp": "request timestamp missing or outside the accepted window",
    "replayed": "request already seen",
    "replay_unverifiable": "request cannot be checked for replay; sign it again",
    "certificate_required": "a client certificate is required",
    "certificate_identity": "the client certificate does not name the calling service",
    "bad_token": "invalid or expired user token",
    "operation_not_allowed": "the calling service may not perform this operation",
    "account_not_allowed": "the user may not act for this trading account",
}


class SecurityError(OrderServiceError):
    status = 401

    def __init__(self, reason: str, detail: str, *, identity: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.identity = identity

    @property
    def public_message(self) -> str:
        return PUBLIC.get(self.reason, "request refused")


class AuthenticationError(SecurityError):
    status = 401


class AuthorizationError(SecurityError):
    status = 403
