"""Config service mock: service discovery answering the real addresses of the other mocks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from typing_extensions import override

from mocks.behaviour import Behaviour, ProviderState, Reply, not_found
from mocks.clock import MockClock
from mocks.validation import MockRequest

NAME = r"(?P<service_name>[a-z][a-z0-9_-]{1,62})"


class ConfigBehaviour(Behaviour):
    """`registry` maps service names to base URLs (the launcher passes the mocks' real ones)."""

    def __init__(self, clock: MockClock, registry: Mapping[str, str] | None = None, ttl_seconds: int = 30) -> None:
        super().__init__(clock)
        self._initial = dict(registry or {})
        self.ttl_seconds = ttl_seconds
        self.handlers = {"listServices": self.list_services, "getServiceEndpoint": self.endpoint}
        self.states = [
            ProviderState(
                f"service {NAME} is registered at (?P<base_url>\\S+)", "the registry entry", self._state_registered
            ),
            ProviderState(
                f"service {NAME} is registered",
                "registered at http://127.0.0.1:8101 unless given",
                self._state_registered,
            ),
            ProviderState(f"service {NAME} is not registered", "no registry entry", self._state_absent),
        ]
        self.reset()

    @override
    def reset(self) -> None:
        self.services: dict[str, dict[str, Any]] = {}
        self.seed({"services": self._initial})

    @override
    def seed(self, data: Mapping[str, Any]) -> None:
        unknown = set(data) - {"services"}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}; expected services (name -> base URL)")
        for name, base_url in data.get("services", {}).items():
            self.services[name] = self._entry(name, str(base_url))

    @override
    def snapshot(self) -> dict[str, Any]:
        return {"services": self.services}

    def _entry(self, name: str, base_url: str) -> dict[str, Any]:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{name}: {base_url!r} is not an http(s) URL with a host")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return {
            "name": name,
            "scheme": parts.scheme,
            "host": parts.hostname,
            "port": port,
            "base_url": f"{parts.scheme}://{parts.netloc}",
            "ttl_seconds": self.ttl_seconds,
        }

    def list_services(self, request: MockRequest) -> Reply:
        """`listServices`: every registered service."""
        return Reply(200, {"items": [self.services[name] for name in sorted(self.services)]})

    def endpoint(self, request: MockRequest) -> Reply:
        """`getServiceEndpoint`: where one service is, with its cache TTL."""
        name = request.path_params["service_name"]
        if name not in self.services:
            raise not_found(f"no service is registered as {name}")
        return Reply(200, self.services[name])

    def _state_registered(self, params: Mapping[str, Any]) -> None:
        name = params["service_name"]
        self.services[name] = self._entry(name, params.get("base_url", "http://127.0.0.1:8101"))

    def _state_absent(self, params: Mapping[str, Any]) -> None:
        self.services.pop(params["service_name"], None)
