"""Pact participant names, in one place so consumer and provider never drift apart."""

from __future__ import annotations

CONSUMER = "order-service"
PROVIDERS = ("strategy-service", "account-service", "analytics-service", "config-service")


def pact_file_name(provider: str) -> str:
    return f"{CONSUMER}-{provider}.json"
