"""The harness's pytest plugin (entry point `pytest11`): the mocks as fixtures, named `harness_*`.

    def test_validation_falls_back(harness_mocks):
        strategy = harness_mocks.service("strategy-service")
        with strategy.outage(kind="status", status=503):
            ...                                     # the code under test calls the mock
        strategy.assert_called("validateStrategy", times=3)

Fixtures:
    harness_mocks        every mock in-process (ASGI, no sockets), reset before each test; an
                         error inside a mock while serving the test fails the test (MockFailed)
    harness_live_mocks   every mock as a real server on free loopback ports (one set per
                         session and xdist worker), reset before each test
    harness_mock_of      `harness_mock_of("path/to/any.yaml", seed=0)`: a mock of any OpenAPI 3.0/3.1
                         file, in-process, named by the file's stem (`.client(stem)`, `.service(stem)`)
    harness_mock_settings  limits of the in-process mocks; override it in a conftest.py
    harness_signer       `harness_signer("algo_engine")`: an httpx.Auth signing with the dev keys

Marker:
    @pytest.mark.harness_fault("strategy-service", kind="status", status=503, operation_id=...)
        the fault is on `harness_mocks` (or `harness_live_mocks`) when the test starts.

Conformance (the seed's rules checked from outside, `harness.conformance`):
    pytest --harness-order-service=URL [--harness-credentials=FILE] [--harness-conformance-redis=URL]
           [--harness-conformance-logs=FILE] [--harness-conformance-mocks=READY_FILE]
           [--harness-conformance-only=GROUP]

Coverage (`harness coverage` reads it):
    pytest --harness-coverage=FILE   every operation each mock answers, with the test that asked

ini options (pytest.ini, pyproject's [tool.pytest.ini_options]):
    harness_contracts_dir   a folder of contracts named like the packaged ones (default: packaged)
    harness_ready_timeout   seconds the live mocks may take to start (default 60)
    harness_redis_required  true: no real Redis fails the tests that need one instead of skipping them
                            (so does `HARNESS_REQUIRE=redis` in the environment, as CI sets it)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

# Only pytest at import: pytest loads this plugin in every run of an environment that has the
# harness installed, so the mocks, httpx and redis are imported by the fixtures that use them.
if TYPE_CHECKING:
    import httpx
    import redis

    from harness.redis import RealRedis
    from harness.servers import InProcessMocks, LiveMocks
    from mocks.app import MockApp
    from mocks.engine import MockSettings


CONFORMANCE_OPTIONS = (
    ("--harness-order-service", "URL of an order service: run the conformance kit against it"),
    ("--harness-credentials", "its credentials file (default: the reference's development keys)"),
    ("--harness-conformance-redis", "its Redis, which the kit may CLIENT PAUSE"),
    ("--harness-conformance-logs", "a file the service appends its log lines to"),
    ("--harness-conformance-mocks", "the ready file of `mocks up` the service runs against"),
)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the plugin's ini options and the conformance kit's command-line options."""
    parser.addini("harness_contracts_dir", "folder of the contracts the mocks serve (default: the packaged ones)")
    parser.addini("harness_ready_timeout", "seconds the live mocks may take to start", default="60")
    parser.addini("harness_redis_required", "no real Redis fails instead of skipping", type="bool", default=False)
    group = parser.getgroup("harness")
    for name, text in CONFORMANCE_OPTIONS:
        group.addoption(name, default=None, help=text)
    group.addoption("--harness-conformance-only", action="append", default=[], help="a group or check id")
    group.addoption(
        "--harness-coverage",
        metavar="FILE",
        default=None,
        help="write every operation the mocks answer (and the conformance kit's requests) to FILE: harness coverage",
    )


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """`--harness-order-service=URL`: the conformance kit's checks join the collected tests."""
    if config.getoption("--harness-order-service", None):
        from harness.conformance.pytest_entry import add_items

        add_items(session, config, items)


def pytest_configure(config: pytest.Config) -> None:
    """Register the `harness_fault` marker; start recording for `--harness-coverage`."""
    config.addinivalue_line(
        "markers", "harness_fault(service, kind, **spec): a mock fault in place when the test starts (harness)"
    )
    coverage = config.getoption("--harness-coverage", None)
    if coverage:
        from harness.coverage.record import start

        start(config, Path(coverage))


def _contracts_dir(config: pytest.Config) -> Path:
    configured = str(config.getini("harness_contracts_dir") or "")
    if configured:
        return config.rootpath / configured
    from mocks.registry import CONTRACTS_DIR

    return CONTRACTS_DIR


def _apply_faults(request: pytest.FixtureRequest, mock_set: InProcessMocks | LiveMocks) -> None:
    for marker in request.node.iter_markers("harness_fault"):
        service, *rest = marker.args
        spec = dict(marker.kwargs)
        kind = rest[0] if rest else spec.pop("kind", "status")
        mock_set.service(service).fault(kind, **spec)


@pytest.fixture(scope="session")
def harness_mock_settings() -> MockSettings:
    """The in-process mocks' limits; override this fixture to change them."""
    from mocks.engine import MockSettings

    return MockSettings()


@pytest.fixture(scope="session")
def harness_in_process_apps(harness_mock_settings: MockSettings, pytestconfig: pytest.Config) -> dict[str, MockApp]:
    """Every mock app, built once a session; the config-service mock points at the others."""
    from harness.servers import in_process_url
    from mocks.registry import SERVICES, build_mock

    registry = {name: in_process_url(name) for name in SERVICES}
    contracts = _contracts_dir(pytestconfig)
    return {
        name: build_mock(name, registry=registry, settings=harness_mock_settings, contracts_dir=contracts)
        for name in SERVICES
    }


@pytest.fixture
def harness_mocks(
    harness_in_process_apps: dict[str, MockApp], request: pytest.FixtureRequest
) -> Iterator[InProcessMocks]:
    """Every mock in-process, reset before the test (and given the test's `harness_fault` markers).

    An error raised inside a mock while it served the test fails the test after it ran
    (`MockFailed`, the mock's error as its cause), even when the test did not look at the 500.
    """
    from harness.servers import InProcessMocks

    mock_set = InProcessMocks(harness_in_process_apps)
    mock_set.reset()
    _apply_faults(request, mock_set)
    yield mock_set
    mock_set.raise_failures()


@pytest.fixture
def harness_mock_of(harness_mock_settings: MockSettings) -> Iterator[Callable[..., InProcessMocks]]:
    """A factory: the mock of any contract file, in-process; its errors fail the test as `harness_mocks`' do.

    A contract the engine cannot serve raises `ContractError` at once, naming the file and
    the JSON pointer; values generated where a response has no example are fixed by `seed`.
    """
    from harness.servers import InProcessMocks
    from mocks.app import create_app
    from mocks.contract import load_contract

    made: list[InProcessMocks] = []

    def build(path: str | Path, *, seed: int = 0) -> InProcessMocks:
        contract = load_contract(path, seed=seed)
        mock_set = InProcessMocks({Path(path).stem: create_app(contract, settings=harness_mock_settings)})
        made.append(mock_set)
        return mock_set

    yield build
    for mock_set in made:
        mock_set.raise_failures()


@pytest.fixture(scope="session")
def harness_live_servers(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[LiveMocks]:
    """Real mock servers for the session (each xdist worker starts its own, on its own ports)."""
    contracts = _contracts_dir(pytestconfig)
    from harness.servers import start_mock_servers, stop_mock_servers

    live = start_mock_servers(
        tmp_path_factory.mktemp("harness-mocks") / "mocks.log",
        timeout=float(pytestconfig.getini("harness_ready_timeout")),
        extra=("--no-redis", "--no-order-service", "--contracts-dir", str(contracts)),
    )
    try:
        yield live
    finally:
        stop_mock_servers(live)


@pytest.fixture
def harness_live_mocks(harness_live_servers: LiveMocks, request: pytest.FixtureRequest) -> Iterator[LiveMocks]:
    """Every mock as a real server, reset before the test (and given its `harness_fault` markers).

    An error raised inside a mock while it served the test fails the test after it ran
    (`MockFailed`, with the traceback from the mock's process).
    """
    harness_live_servers.reset()
    _apply_faults(request, harness_live_servers)
    yield harness_live_servers
    harness_live_servers.raise_failures()


@pytest.fixture
def harness_signer() -> Callable[..., Any]:
    """A factory: `harness_signer(identity, **kwargs)` is an `httpx.Auth` that signs with the dev keys."""
    from order_service.security.dev import dev_signer

    return dev_signer


@pytest.fixture
def harness_signed_client() -> Callable[..., httpx.AsyncClient]:
    """A factory of clients of an order service: signed as a service, with a user token for an account.

    `harness_signed_client(base_url, identity="algo_engine", account="ZX1234", **httpx_kwargs)`;
    the dev keys sign, and the dev user token lets `user-1` act for `account`.
    """
    import httpx

    from order_service.security.dev import dev_signer, dev_user_token

    def build(
        base_url: str, identity: str = "algo_engine", account: str = "ZX1234", **kwargs: Any
    ) -> httpx.AsyncClient:
        headers = {"authorization": f"Bearer {dev_user_token(accounts=(account,))}", "x-trading-account-id": account}
        return httpx.AsyncClient(
            base_url=base_url, auth=dev_signer(identity), headers={**headers, **kwargs.pop("headers", {})}, **kwargs
        )

    return build


def _redis_required(config: pytest.Config) -> bool:
    """The ini option, or the CI switch `HARNESS_REQUIRE` naming `redis` (or `all`)."""
    wanted = {name.strip() for name in os.environ.get("HARNESS_REQUIRE", "").split(",")}
    return bool(config.getini("harness_redis_required")) or bool(wanted & {"redis", "all"})


@pytest.fixture(scope="session")
def harness_redis(pytestconfig: pytest.Config) -> Iterator[RealRedis]:
    """A real Redis for the session (each xdist worker its own), from the first source that works."""
    from harness.redis import RedisUnavailable, open_source

    try:
        source = open_source(os.environ.get("HARNESS_REDIS_SOURCE") or None)
        server = next(source)
    except RedisUnavailable as exc:
        if _redis_required(pytestconfig):
            pytest.fail(f"{exc} (a real Redis is required here)", pytrace=False)
        pytest.skip(str(exc))
    yield server
    next(source, None)  # the source's clean-up: the container or process stops


@pytest.fixture
def harness_redis_client(harness_redis: RealRedis) -> Iterator[redis.Redis]:
    """A client of `harness_redis` (text replies), its database emptied before the test."""
    harness_redis.empty()
    client = harness_redis.client(decode_responses=True)
    try:
        yield client
    finally:
        client.close()
