"""docker-compose.yml cannot run here (no engine), so it is checked: schema, then agreement with `make mocks`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mocks.registry import SERVICES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


def check_compose_schema(path: Path) -> subprocess.CompletedProcess[str]:
    checker = Path(sys.executable).parent / "check-jsonschema"
    return subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text()))


def test_compose_file_matches_the_compose_specification() -> None:
    result = check_compose_schema(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_catches_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text().replace("    healthcheck:", "    healthcheck: yes-please\n    x:", 1))
    result = check_compose_schema(broken)
    assert result.returncode != 0


def test_every_mock_redis_and_the_order_service_are_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == set(SERVICES) | {"redis", "postgres", "order-service-app"}


def test_the_order_service_runs_on_the_mocks_and_redis(compose: dict[str, Any]) -> None:
    app = compose["services"]["order-service-app"]
    assert app["command"][:4] == ["python", "-m", "order_service", "serve"]
    assert app["environment"]["ORDER_SERVICE_REDIS_URL"] == "redis://redis:6379/0"
    config_port = SERVICES["config-service"].default_port
    assert app["environment"]["ORDER_SERVICE_CONFIG_SERVICE_URL"] == f"http://config-service:{config_port}"
    assert app["environment"]["ORDER_SERVICE_DATABASE_URL"] == "postgresql://postgres@postgres:5432/postgres"
    assert set(app["depends_on"]) == {"redis", "postgres", "config-service"}
    assert "/health/ready" in " ".join(app["healthcheck"]["test"])


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_ports_commands_and_health_checks_agree_with_make_mocks(compose: dict[str, Any], name: str) -> None:
    service = compose["services"][name]
    port = SERVICES[name].default_port
    assert service["ports"] == [f"{port}:{port}"]
    command = service["command"]
    assert command[:5] == ["python", "-m", "mocks", "serve", name]
    assert command[command.index("--port") + 1] == str(port)
    assert command[command.index("--host") + 1] == "0.0.0.0"
    probe = " ".join(service["healthcheck"]["test"])
    assert f"http://127.0.0.1:{port}/__admin/health" in probe
    assert service["build"] == "."


def test_config_service_reports_every_mock_by_its_compose_name(compose: dict[str, Any]) -> None:
    command = compose["services"]["config-service"]["command"]
    registry = {}
    for arg in command:
        if arg.startswith("--registry="):
            name, _, url = arg.removeprefix("--registry=").partition("=")
            registry[name] = url
    assert registry == {name: f"http://{name}:{spec.default_port}" for name, spec in SERVICES.items()}


def test_dockerfile_builds_from_a_python_base_and_exposes_every_port() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.1[1-9]", dockerfile, re.MULTILINE)
    exposed = {int(p) for line in dockerfile.splitlines() if line.startswith("EXPOSE") for p in line.split()[1:]}
    assert exposed == {spec.default_port for spec in SERVICES.values()} | {8000}
    for folder in ("mocks", "contracts", "order_service"):
        assert f"COPY {folder} ./{folder}" in dockerfile
