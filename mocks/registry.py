"""The mocked services: which contract, which behaviour, which default port."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from mocks.app import MockApp, create_app
from mocks.behaviour import Behaviour
from mocks.behaviours.account import AccountBehaviour
from mocks.behaviours.analytics import AnalyticsBehaviour
from mocks.behaviours.auth import AuthBehaviour
from mocks.behaviours.calendar import CalendarBehaviour
from mocks.behaviours.config import ConfigBehaviour
from mocks.behaviours.order import OrderBehaviour
from mocks.behaviours.strategy import StrategyBehaviour
from mocks.clock import MockClock
from mocks.engine import MockSettings

# package data (pip installs wheels unpacked, so this is a folder on disk)
CONTRACTS_DIR = Path(str(files("mocks.contracts")))


@dataclass(frozen=True)
class ServiceSpec:
    """One mocked service: its name, default port and behaviour."""

    name: str
    default_port: int
    behaviour: Callable[[MockClock], Behaviour]

    def contract_path(self, contracts_dir: Path = CONTRACTS_DIR) -> Path:
        """Where the service's contract is."""
        return contracts_dir / f"{self.name}.yaml"


CONFIG_SERVICE = "config-service"

SERVICES: dict[str, ServiceSpec] = {
    spec.name: spec
    for spec in (
        ServiceSpec(CONFIG_SERVICE, 8100, ConfigBehaviour),
        ServiceSpec("strategy-service", 8101, StrategyBehaviour),
        ServiceSpec("account-service", 8102, AccountBehaviour),
        ServiceSpec("analytics-service", 8103, AnalyticsBehaviour),
        ServiceSpec("calendar-service", 8104, CalendarBehaviour),
        ServiceSpec("order-service", 8105, OrderBehaviour),
        ServiceSpec("auth-service", 8106, AuthBehaviour),
    )
}


def build_mock(
    name: str,
    *,
    registry: Mapping[str, Any] | None = None,
    settings: MockSettings | None = None,
    contracts_dir: Path = CONTRACTS_DIR,
) -> MockApp:
    """The mock app of a named service; `registry` (name -> base URL or instances) feeds the config service."""
    try:
        spec = SERVICES[name]
    except KeyError:
        raise ValueError(f"unknown service {name!r}; known: {', '.join(SERVICES)}") from None
    clock = MockClock()
    if name == CONFIG_SERVICE:
        behaviour: Behaviour = ConfigBehaviour(clock, registry or {})
    else:
        behaviour = spec.behaviour(clock)
    return create_app(spec.contract_path(contracts_dir), behaviour, settings=settings)
