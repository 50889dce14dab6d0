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
    """`registry` maps service names to base URLs (the launcher passes the mocks' real ones).

    A service may run several instances: its value is then a list of base URLs, or of
    `{"base_url": ..., "weight": n}`; the answer names them all in `instances` (and the
    first as `base_url`, for clients that call one).
    """

    def __init__(self, clock: MockClock, registry: Mapping[str, Any] | None = None, ttl_seconds: int = 30) -> None:
        super().__init__(clock)
        self._initial = dict(registry or {})
        self.ttl_seconds = self._initial_ttl = ttl_seconds
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
        self.ttl_seconds = self._initial_ttl
        self.services: dict[str, dict[str, Any]] = {}
        self.seed({"services": self._initial})

    @override
    def seed(self, data: Mapping[str, Any]) -> None:
        unknown = set(data) - {"services", "ttl_seconds"}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}; expected services (name -> base URL or instances)")
        ttl = data.get("ttl_seconds", self.ttl_seconds)
        if not isinstance(ttl, int) or isinstance(ttl, bool) or not 0 <= ttl <= 86_400:
            raise ValueError(f"ttl_seconds {ttl!r} is not a whole number of seconds from 0 to 86400")
        entries = {name: self._entry(name, value) for name, value in data.get("services", {}).items()}
        self.services.update(entries)  # all or nothing: a bad entry changed nothing
        self.ttl_seconds = ttl

    @override
    def snapshot(self) -> dict[str, Any]:
        return {"services": self.services}

    def _entry(self, name: str, value: Any) -> dict[str, Any]:
        listed = value if isinstance(value, list) else [value]
        if not listed:
            raise ValueError(f"{name}: no instances")
        instances = [self._instance(name, item) for item in listed]
        parts = urlsplit(instances[0]["base_url"])
        entry: dict[str, Any] = {
            "name": name,
            "scheme": parts.scheme,
            "host": parts.hostname,
            "port": parts.port or (443 if parts.scheme == "https" else 80),
            "base_url": instances[0]["base_url"],
        }
        if len(instances) > 1:
            entry["instances"] = instances
        return entry

    @staticmethod
    def _instance(name: str, item: Any) -> dict[str, Any]:
        base_url, weight = (item.get("base_url"), item.get("weight", 1)) if isinstance(item, dict) else (item, 1)
        parts = urlsplit(str(base_url))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{name}: {base_url!r} is not an http(s) URL with a host")
        if not isinstance(weight, int) or isinstance(weight, bool) or not 1 <= weight <= 1000:
            raise ValueError(f"{name}: weight {weight!r} is not a whole number from 1 to 1000")
        return {"base_url": f"{parts.scheme}://{parts.netloc}", "weight": weight}

    def list_services(self, request: MockRequest) -> Reply:
        """`listServices`: every registered service."""
        return Reply(200, {"items": [self._answer(name) for name in sorted(self.services)]})

    def _answer(self, name: str) -> dict[str, Any]:
        return {**self.services[name], "ttl_seconds": self.ttl_seconds}

    def endpoint(self, request: MockRequest) -> Reply:
        """`getServiceEndpoint`: where one service is, with its cache TTL."""
        name = request.path_params["service_name"]
        if name not in self.services:
            raise not_found(f"no service is registered as {name}")
        return Reply(200, self._answer(name))

    def _state_registered(self, params: Mapping[str, Any]) -> None:
        name = params["service_name"]
        self.services[name] = self._entry(name, params.get("base_url", "http://127.0.0.1:8101"))

    def _state_absent(self, params: Mapping[str, Any]) -> None:
        self.services.pop(params["service_name"], None)
