"""Every check of the kit, registered on import (see `harness.conformance.kit.check`)."""

from harness.conformance.checks import operations, orders, security, signing_v2

__all__ = ["operations", "orders", "security", "signing_v2"]
