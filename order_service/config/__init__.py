"""Service discovery (`ServiceDiscovery`, `ConfigServiceClient`) and the seed's `_get_service_port`."""

from __future__ import annotations

from order_service.config.discovery import ConfigServiceClient, ServiceDiscovery


async def _get_service_port(service_name: str, discovery: ServiceDiscovery | None = None) -> int:
    """The port a service listens on, through the config service (as the compliance document names it)."""
    from order_service.clients import default_hub

    return await (discovery or default_hub().discovery).get_service_port(service_name)


__all__ = ["ConfigServiceClient", "ServiceDiscovery", "_get_service_port"]
