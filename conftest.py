"""Root conftest: loads the harness's fixtures, which live in modules (suites/fixtures)."""

from __future__ import annotations

import pytest

pytest_plugins = [
    "suites.fixtures.mocks",
    "suites.fixtures.redis",
    "suites.fixtures.postgres",
    "suites.fixtures.clients",
    "suites.fixtures.pact",
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
