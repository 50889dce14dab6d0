"""`make bench`: a real uvicorn mock on loopback against a hand-written FastAPI baseline.

Reports, for `GET /strategies/{id}/validate` and a validated `POST /strategies/{id}/sync-pnl`
at 32 concurrent connections: requests/s, p50 and p99 latency; the ratio to the baseline
measured in the same run; cold start (launch to first 200); peak RSS; and RSS after a
soak of `--soak` requests (the journal is bounded, so memory must stay flat).
Load comes from wrk (Debian's package) when installed, else from a Python load loop.
All traffic is to 127.0.0.1 and every run stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx

from harness.processes import stop_process
from suites.bench.wrk import Load, closed_loop, run_wrk

HOST = "127.0.0.1"
GET_PATH = "/strategies/42/validate"
POST_PATH = "/strategies/42/sync-pnl"
POST_BODY = json.dumps(
    {
        "as_of": "2026-11-26T15:30:00+05:30",
        "realized_pnl": "12500.50",
        "unrealized_pnl": "-2300.25",
        "total_pnl": "10200.25",
        "open_positions": 3,
    }
)
BASELINE = (
    "import uvicorn, sys; from suites.bench.baseline_app import create_baseline_app; "
    "uvicorn.run(create_baseline_app(), host='127.0.0.1', port=int(sys.argv[1]), loop='uvloop', "
    "http='httptools', log_level='warning', access_log=False)"
)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start(
    command: list[str], port: int, timeout: float = 20.0, path: str = GET_PATH
) -> tuple[subprocess.Popen[bytes], float]:
    """Launch a server; return it and the seconds from launch to its first 200 on `path`."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://{HOST}:{port}{path}"
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read().decode() if process.stderr else ''}")
        try:
            with urllib.request.urlopen(url, timeout=0.5) as response:
                if response.status == 200:
                    return process, time.perf_counter() - started
        except (urllib.error.URLError, OSError):
            time.sleep(0.005)
    process.kill()
    raise RuntimeError(f"no 200 from {url} within {timeout} s")


def rss_mb(pid: int, field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for {pid}")


def wrk(url: str, seconds: float, post: bool, workdir: Path) -> Load:
    script = None
    if post:
        script = workdir / "post.lua"
        script.write_text(
            'wrk.method = "POST"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = {json.dumps(POST_BODY)}\n"
        )
    return run_wrk(url, seconds=seconds, script=script)


def python_load(url: str, seconds: float, post: bool) -> Load:
    """Fallback when wrk is missing: 32 connections from one asyncio loop (the client is the bottleneck)."""

    async def run() -> Load:
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
        async with httpx.AsyncClient(limits=limits, timeout=10) as client:

            def send() -> Awaitable[httpx.Response]:
                if post:
                    return client.post(url, content=POST_BODY, headers={"content-type": "application/json"})
                return client.get(url)

            return await closed_loop(send, workers=32, seconds=seconds, expected=200)

    return asyncio.run(run())


def measure(port: int, seconds: float, post: bool, workdir: Path) -> Load:
    url = f"http://{HOST}:{port}{POST_PATH if post else GET_PATH}"
    return wrk(url, seconds, post, workdir) if shutil.which("wrk") else python_load(url, seconds, post)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each load run")
    parser.add_argument("--soak", type=int, default=1_000_000, help="requests in the memory soak (0: skip)")
    parser.add_argument("--cold-starts", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    tool = "wrk -t2 -c32" if shutil.which("wrk") else "python load loop, 32 connections (install wrk for real figures)"
    mock_cmd = [sys.executable, "-m", "mocks", "serve", "strategy-service", "--host", HOST, "--port"]
    base_cmd = [sys.executable, "-c", BASELINE]
    results: dict[str, Any] = {"load_tool": tool, "seconds": args.seconds}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        colds = []
        for _ in range(args.cold_starts):
            port = free_port()
            process, cold = start([*mock_cmd, str(port)], port)
            colds.append(cold)
            stop_process(process)
        results["cold_start_s"] = {"median": statistics.median(colds), "max": max(colds)}

        for label, command in (("baseline", base_cmd), ("mock", mock_cmd)):
            port = free_port()
            process, _ = start([*command, str(port)], port)
            try:
                for route, post in (("GET", False), ("POST", True)):
                    load = measure(port, args.seconds, post, workdir)
                    results[f"{label}_{route}"] = asdict(load)
                results[f"{label}_peak_rss_mb"] = rss_mb(process.pid, "VmHWM")
                if label == "mock" and args.soak:
                    rate = results["mock_GET"]["rps"]
                    before = rss_mb(process.pid, "VmRSS")
                    done = 0
                    while done < args.soak:  # alternate GET and POST until the count is reached
                        chunk = max(5.0, min(60.0, (args.soak - done) / max(rate, 1.0)))
                        done += measure(port, chunk, post=done % 2 == 1, workdir=workdir).requests
                    results["soak"] = {
                        "requests": done,
                        "rss_before_mb": before,
                        "rss_after_mb": rss_mb(process.pid, "VmRSS"),
                        "peak_rss_mb": rss_mb(process.pid, "VmHWM"),
                    }
            finally:
                stop_process(process)

    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def report(results: dict[str, Any]) -> None:
    r = results
    print(f"\nload: {r['load_tool']}, {r['seconds']:.0f} s per run, 127.0.0.1, strategy-service mock")
    print(f"{'':22}{'mock rps':>10}{'p50 ms':>9}{'p99 ms':>9}{'baseline rps':>14}{'ratio':>8}{'errors':>8}")
    for route in ("GET", "POST"):
        mock, base = r[f"mock_{route}"], r[f"baseline_{route}"]
        path = GET_PATH if route == "GET" else POST_PATH
        print(
            f"{route + ' ' + path.rsplit('/', 1)[1]:22}{mock['rps']:>10.0f}{mock['p50_ms']:>9.2f}"
            f"{mock['p99_ms']:>9.2f}{base['rps']:>14.0f}{mock['rps'] / base['rps']:>8.2f}"
            f"{mock['errors'] + base['errors']:>8}"
        )
    cold = r["cold_start_s"]
    print(f"cold start (launch to first 200): median {cold['median']:.2f} s, max {cold['max']:.2f} s")
    print(f"peak RSS: mock {r['mock_peak_rss_mb']:.1f} MB, baseline {r['baseline_peak_rss_mb']:.1f} MB")
    soak = r.get("soak")
    if isinstance(soak, dict):
        print(
            f"soak: {soak['requests']:,} requests, RSS {soak['rss_before_mb']:.1f} -> "
            f"{soak['rss_after_mb']:.1f} MB (peak {soak['peak_rss_mb']:.1f} MB)"
        )


if __name__ == "__main__":
    raise SystemExit(main())
