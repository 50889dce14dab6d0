"""Readiness waits raise: a server that exits at once, or never answers, is never taken as ready."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from harness.errors import NotReady
from harness.processes import wait_until
from harness.servers import free_port
from suites.fixtures.redis import start_redis_server


def test_a_process_that_exits_at_once_is_not_ready() -> None:
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    with pytest.raises(NotReady, match="exited with status 3 before it was ready"):
        wait_until(lambda: False, what="the server", timeout=30, process=process)


def test_a_probe_that_never_holds_times_out() -> None:
    began = time.monotonic()
    with pytest.raises(NotReady, match=r"the server: not ready after 0\.2 s"):
        wait_until(lambda: 1 / 0 == 0, what="the server", timeout=0.2)  # a probe that raises is "not yet"
    assert time.monotonic() - began < 5


def test_a_redis_server_that_exits_at_once_is_refused() -> None:
    """The fault the old readiness loops missed: they fell through and the test went on."""
    stand_in = "/bin/true"  # exits 0 at once, like a redis-server that cannot start
    with pytest.raises(NotReady, match="exited with status 0"):
        start_redis_server(stand_in, free_port())
