"""Waiting for and stopping the helper processes a test starts (mock servers, Redis, a service)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Any

from harness.errors import NotReady


def wait_until(
    ready: Callable[[], bool],
    *,
    what: str,
    timeout: float = 10.0,
    process: subprocess.Popen[Any] | None = None,
    interval: float = 0.02,
) -> None:
    """Poll `ready` until it is true.

    Args:
        ready: the probe; its exceptions count as "not yet" (a port not listening refuses).
        what: names the awaited thing in the error.
        timeout: seconds before giving up.
        process: when given, its exit before readiness fails at once.
        interval: seconds between probes.

    Raises:
        NotReady: `process` exited first, or `timeout` passed.
    """
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise NotReady(f"{what}: the process exited with status {process.returncode} before it was ready")
        try:
            if ready():
                return
        except Exception:  # a probe of a server still starting may fail any way
            pass
        if time.monotonic() > deadline:
            raise NotReady(f"{what}: not ready after {timeout:.1f} s")
        time.sleep(interval)


def stop_process(process: subprocess.Popen[Any], timeout: float = 10.0) -> int:
    """Terminate, wait up to `timeout`, then kill; return the exit status."""
    if process.poll() is None:
        process.terminate()
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()
