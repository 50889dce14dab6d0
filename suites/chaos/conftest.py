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
