"""The harness as its users get it: built, installed from the wheel into a fresh virtualenv, used from outside.

Nothing here may reach the checkout: the virtualenv is new, the commands run in a temporary
folder, and the example consumer project is a copy. What a user does after `pip install`:
`harness --help`, `harness mocks up`, a consumer project's tests on the plugin's fixtures,
`harness verify-pacts` with a packaged pact.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.processes import stop_process, wait_until
from harness.servers import free_port
from mocks.registry import SERVICES

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.live, pytest.mark.package]


@dataclass(frozen=True)
class Installed:
    wheel: Path
    sdist: Path
    venv: Path
    outside: Path  # a folder that is not the checkout, where every command runs

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def run(self, *command: str, timeout: float = 300, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command,
            cwd=cwd or self.outside,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def clean_env() -> dict[str, str]:
    """This process's environment without what would lead back to the checkout or its virtualenv."""
    dropped = {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYTEST_ADDOPTS", "PYTEST_PLUGINS"}
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("HARNESS_")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(ROOT)))
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("installed")
    dist, outside = base / "dist", base / "outside"
    outside.mkdir()
    build = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(dist), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    shutil.rmtree(ROOT / "build", ignore_errors=True)  # what setuptools leaves behind
    wheel, sdist = next(dist.glob("*.whl")), next(dist.glob("*.tar.gz"))
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    done = Installed(wheel, sdist, venv, outside)
    install = done.run(done.bin("python"), "-m", "pip", "install", "--quiet", f"{wheel}[verify]", "pytest", timeout=900)
    assert install.returncode == 0, install.stderr[-3000:]
    return done


def test_the_wheel_carries_contracts_pacts_and_dev_keys(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    assert {f"mocks/contracts/{name}.yaml" for name in SERVICES} <= names
    assert {
        f"harness/pacts/order-service-{p}.json"
        for p in ("strategy-service", "account-service", "analytics-service", "config-service")
    } <= names
    assert "order_service/security/dev_credentials.json" in names
    assert "order_service/security/signing_vectors_v2.json" in names
    assert "mocks/dev_oauth_clients.json" in names
    assert "harness/pacts/algo-engine-order-service.json" in names
    entry_points = zipfile.ZipFile(installed.wheel).read(
        next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    )
    assert b"[pytest11]\nharness = harness.plugin" in entry_points
    assert b"[console_scripts]\nharness = harness.cli:run" in entry_points


def test_the_sdist_carries_what_a_wheel_is_built_from(installed: Installed) -> None:
    with tarfile.open(installed.sdist) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert {
        "contracts/strategy-service.yaml",
        "pacts/order-service-strategy-service.json",
        "harness/plugin.py",
    } <= names


def test_the_installed_package_is_not_the_checkout(installed: Installed) -> None:
    where = installed.run(
        installed.bin("python"), "-c", "import harness, mocks, order_service; print(harness.__file__, mocks.__file__)"
    )
    assert where.returncode == 0, where.stderr
    assert str(ROOT) not in where.stdout
    assert str(installed.venv) in where.stdout


def test_the_installed_package_finds_its_contracts_and_dev_keys(installed: Installed) -> None:
    """What a bare wheel lacked: `build_mock` raised ContractError, `dev_security_settings` FileNotFoundError."""
    probe = (
        "from mocks.registry import build_mock; from order_service.security.dev import dev_security_settings; "
        "from order_service.security.signing import published_refusals, published_vectors; "
        "app = build_mock('strategy-service'); settings = dev_security_settings(); "
        "auth = build_mock('auth-service').engine.behaviour; "  # its dev clients are package data too
        "print(sorted(app.engine.contract.operations)[0], settings.credentials_file.is_file(), "
        "len(published_vectors(2)) > 0, len(published_refusals()) > 0, 'order-service' in auth.clients)"
    )
    result = installed.run(installed.bin("python"), "-c", probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["createDefaultStrategy", "True", "True", "True", "True"]


def test_harness_help_names_every_command(installed: Installed) -> None:
    result = installed.run(installed.bin("harness"), "--help")
    assert result.returncode == 0, result.stderr
    for command in (
        "mocks",
        "verify-pacts",
        "verify-contract",
        "check-openapi",
        "proxy",
        "sign",
        "scan",
        "conformance",
        "compat",
        "coverage",
        "chaos",
        "map",
    ):
        assert f"\n  {command} " in result.stdout
    mapped = installed.run(installed.bin("harness"), "map", "--help")
    assert mapped.returncode == 0, mapped.stderr
    assert "--collect" in mapped.stdout  # the map and the collector came with the wheel
    conformance = installed.run(installed.bin("harness"), "conformance", "--help")
    assert conformance.returncode == 0, conformance.stderr
    assert "examples:" in conformance.stdout  # the kit and its checks came with the wheel
    compat = installed.run(installed.bin("harness"), "compat", "--help")
    assert compat.returncode == 0, compat.stderr
    assert "--gate" in compat.stdout  # the comparison came with the wheel
    verify = installed.run(installed.bin("harness"), "verify-pacts", "--help")
    assert verify.returncode == 0
    assert "example: harness verify-pacts" in verify.stdout
    assert "(default:" in verify.stdout


@pytest.fixture(scope="module")
def running_mocks(installed: Installed) -> Iterator[dict[str, str]]:
    """`harness mocks up` from the installed package, on free ports."""
    ports = {name: free_port() for name in SERVICES}
    ready = installed.outside / "mocks.ready.json"
    log = installed.outside / "mocks.log"
    command = [installed.bin("harness"), "mocks", "up", "--no-redis", "--no-order-service", "--ready-file", str(ready)]
    command += [f"--port={name}={port}" for name, port in ports.items()]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, cwd=installed.outside, env=clean_env(), stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        wait_until(ready.exists, what="harness mocks up", timeout=90, process=process, interval=0.1)
        yield dict(json.loads(ready.read_text())["mocks"])
    finally:
        stop_process(process)


def test_an_example_consumer_project_runs_on_the_plugin(installed: Installed, running_mocks: dict[str, str]) -> None:
    project = installed.outside / "consumer"
    shutil.copytree(ROOT / "examples" / "consumer", project, ignore=shutil.ignore_patterns("__pycache__", ".pytest*"))
    result = installed.run(installed.bin("python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "4 passed" in result.stdout


def test_a_packaged_pact_verifies_against_the_running_mock(installed: Installed, running_mocks: dict[str, str]) -> None:
    url = running_mocks["strategy-service"]
    result = installed.run(
        installed.bin("harness"),
        "verify-pacts",
        "--provider",
        "strategy-service",
        "--url",
        url,
        "--states-url",
        url + "/__admin/states",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "strategy-service: all 11 interactions verified"
