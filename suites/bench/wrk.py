"""The benches' load: wrk (Debian's package) read back into numbers, or a Python loop without it.

wrk is C and light, so on this 2-core machine the server under test gets the CPU a Python
load loop would take from it.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

# Replays requests built beforehand (one per NUL-separated record), each thread its own share,
# so signed requests are never sent twice (the replay store would refuse them).
REPLAY_LUA = """
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  local f = assert(io.open(args[1], "rb"))
  local data = f:read("*a")
  f:close()
  local threads = tonumber(args[2])
  reqs, total, idx = {}, 0, 0
  local i = 0
  for r in string.gmatch(data, "([^%z]+)") do
    if i % threads == id then
      total = total + 1
      reqs[total] = r
    end
    i = i + 1
  end
end
function request()
  idx = idx % total + 1
  return reqs[idx]
end
"""


@dataclass
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([0-9.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(
    url: str,
    *,
    seconds: float,
    threads: int = 2,
    connections: int = 32,
    script: Path | None = None,
    script_args: tuple[str, ...] = (),
) -> Load:
    """One wrk run; non-2xx answers and socket errors count as errors."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:.0f}s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    if script_args:
        command += ["--", *script_args]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"([0-9]+) requests in", out).group(1))  # type: ignore[union-attr]
    errors_match = re.search(r"Non-2xx or 3xx responses: ([0-9]+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = int(errors_match.group(1)) if errors_match else 0
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return Load(rps, p50, p99, total, errors)


async def closed_loop(
    send: Callable[[], Awaitable[httpx.Response]], *, workers: int, seconds: float, expected: int
) -> Load:
    """`workers` tasks each sending one request after another for `seconds`; other statuses are errors."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            response = await send()
            latencies.append((time.perf_counter() - began) * 1000)
            errors += response.status_code != expected

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = time.perf_counter() - began
    cuts = statistics.quantiles(latencies, n=100)
    return Load(len(latencies) / elapsed, cuts[49], cuts[98], len(latencies), errors)


def write_raw_requests(path: Path, requests: list[bytes]) -> None:
    """The file REPLAY_LUA reads: whole HTTP/1.1 requests separated by NUL bytes."""
    if any(b"\0" in r for r in requests):
        raise ValueError("a request contains a NUL byte")
    path.write_bytes(b"\0".join(requests))
