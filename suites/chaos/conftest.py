"""The crash tier needs what its stack starts: redis-server and PostgreSQL's server binaries."""

from __future__ import annotations

import pytest

from suites.fixtures import environment
from suites.fixtures.postgres import server_binaries


@pytest.fixture(autouse=True)
def crash_tier(request: pytest.FixtureRequest) -> None:
    """The round's binaries, or the tier's skip (a failure under the CI switch) for tests marked `chaos`."""
    if request.node.get_closest_marker("chaos") is None:
        return
    environment.binary("redis-server")
    environment.binary("redis-cli", tier="redis-server")
    server_binaries()


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Crash rounds run one after another on one xdist worker (`--dist loadgroup`): two rounds at
    once would each start a whole stack on the same two cores, and time their own faults."""
    for item in items:
        if item.get_closest_marker("chaos") is not None:
            item.add_marker(pytest.mark.xdist_group("crash-rounds"))
