"""`make bench`: routing and start-up that scale, and the engine against a bare ASGI floor.

Generated contracts of 10, 1,000 and 10,000 operations (templated paths, one shared response
schema, so only the route table differs) are each served by `python -m mocks serve FILE` on
127.0.0.1, and one route of each is loaded with wrk: requests/s and p99, and the ratio of
the 10,000 figure to the 10 one (target: 0.9 or more). The floor is a bare ASGI app
answering fixed bytes under the same uvicorn settings: the engine's GET rate on the
10-operation contract against it (target: 0.5 or more). Start-up: a generated 1,000-operation
contract of about 5 MB, every response without an example (so each answer is generated),
loaded in this process (median of three) and launched to its first 200, with the server's
peak RSS (targets: under 2 s, under 300 MB).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.processes import stop_process
from mocks.app import create_app
from mocks.contract import load_contract
from suites.bench.bench_mocks import free_port, python_load, rss_mb, start
from suites.bench.wrk import Load, run_wrk

HOST = "127.0.0.1"
SIZES = (10, 1_000, 10_000)
FLOOR = (
    "import uvicorn, sys\n"
    "BODY = b'{\"ok\":true}'\n"
    "HEAD = [(b'content-type', b'application/json'), (b'content-length', str(len(BODY)).encode())]\n"
    "async def app(scope, receive, send):\n"
    "    if scope['type'] != 'http':\n"
    "        return\n"
    "    await send({'type': 'http.response.start', 'status': 200, 'headers': HEAD})\n"
    "    await send({'type': 'http.response.body', 'body': BODY})\n"
    "uvicorn.run(app, host='127.0.0.1', port=int(sys.argv[1]), loop='uvloop', http='httptools',"
    " log_level='warning', access_log=False, lifespan='off')\n"
)


def routing_contract(operations: int) -> dict[str, Any]:
    """`operations` GETs on templated paths under 50 prefixes, all answering one small schema."""
    item = {
        "type": "object",
        "required": ["id", "name"],
        "properties": {"id": {"type": "integer", "minimum": 1}, "name": {"type": "string", "maxLength": 40}},
    }
    paths = {
        f"/area{i % 50}/items{i}/{{item_id}}/detail": {
            "get": {
                "operationId": f"get{i}",
                "parameters": [{"name": "item_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Item"},
                                "example": {"id": 1, "name": "one"},
                            }
                        },
                    }
                },
            }
        }
        for i in range(operations)
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": f"{operations} routes", "version": "1"},
        "paths": paths,
        "components": {"schemas": {"Item": item}},
    }


def large_contract(operations: int = 1_000, fields: int = 24) -> dict[str, Any]:
    """About 5 MB: each operation its own response schema of `fields` described fields, no examples."""
    kinds: list[dict[str, Any]] = [
        {"type": "string", "format": "date-time"},
        {"type": "integer", "minimum": 0, "maximum": 10_000},
        {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
        {"type": "number", "minimum": 0},
        {"type": "string", "enum": ["open", "closed", "pending"]},
        {"type": "array", "items": {"type": "string", "format": "uuid"}, "maxItems": 3},
        {"type": "boolean"},
        {"type": ["string", "null"], "maxLength": 64},
    ]
    text = "A field of the generated bench contract, described at some length as real contracts do, with its units. "
    schemas = {
        f"Resource{i}": {
            "type": "object",
            "required": [f"field{j}" for j in range(0, fields, 3)],
            "properties": {f"field{j}": {**kinds[j % len(kinds)], "description": text} for j in range(fields)},
        }
        for i in range(operations)
    }
    paths = {
        f"/group{i % 40}/resources{i}/{{resource_id}}": {
            "get": {
                "operationId": f"getResource{i}",
                "description": text * 3,
                "parameters": [{"name": "resource_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": {
                        "description": "the resource",
                        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/Resource{i}"}}},
                    }
                },
            }
        }
        for i in range(operations)
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "large", "version": "1"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def load(url: str, seconds: float) -> Load:
    if shutil.which("wrk"):
        return run_wrk(url, seconds=seconds)
    return python_load(url, seconds, post=False)


def serve_and_load(command: list[str], path: str, seconds: float) -> tuple[Load, float]:
    """Start a server, load `path` on it; its Load and the seconds from launch to the first 200."""
    port = free_port()
    process, cold = start([*command, str(port)], port, timeout=120, path=path)
    try:
        return load(f"http://{HOST}:{port}{path}", seconds), cold
    finally:
        stop_process(process)


def startup(path: Path, runs: int = 3) -> dict[str, float]:
    """The large contract: in-process load (median), launch to first 200, the server's peak RSS."""
    in_process = []
    for _ in range(runs):
        began = time.perf_counter()
        create_app(load_contract(path))
        in_process.append(time.perf_counter() - began)
    port = free_port()
    command = [sys.executable, "-m", "mocks", "serve", str(path), "--host", HOST, "--port", str(port)]
    process, cold = start(command, port, timeout=120, path="/group0/resources0/r1")
    try:
        peak = rss_mb(process.pid, "VmHWM")
    finally:
        stop_process(process)
    return {"load_s": statistics.median(in_process), "first_200_s": cold, "peak_rss_mb": peak}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench (routing)", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each load run")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {
        "seconds": args.seconds,
        "load_tool": "wrk -t2 -c32" if shutil.which("wrk") else "python",
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for size in SIZES:
            contract = folder / f"routes-{size}.json"
            contract.write_text(json.dumps(routing_contract(size)))
            middle = size // 2
            route = f"/area{middle % 50}/items{middle}/7/detail"
            command = [sys.executable, "-m", "mocks", "serve", str(contract), "--host", HOST, "--port"]
            measured, cold = serve_and_load(command, route, args.seconds)
            results[f"routes_{size}"] = {**measured.__dict__, "first_200_s": cold}
        floor, _ = serve_and_load([sys.executable, "-c", FLOOR], "/", args.seconds)
        results["floor"] = floor.__dict__
        large = folder / "large.json"
        large.write_text(json.dumps(large_contract()))
        results["large"] = {"bytes": large.stat().st_size, "operations": 1_000, **startup(large)}
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def report(results: dict[str, Any]) -> None:
    r = results
    print(
        f"\nrouting: {r['load_tool']}, {r['seconds']:.0f} s per run, 127.0.0.1, GET one route of a generated contract"
    )
    print(f"{'operations':>12}{'rps':>10}{'p50 ms':>9}{'p99 ms':>9}{'vs 10':>8}{'errors':>8}")
    base = r["routes_10"]["rps"]
    for size in SIZES:
        row = r[f"routes_{size}"]
        ratio = row["rps"] / base
        print(
            f"{size:>12,}{row['rps']:>10.0f}{row['p50_ms']:>9.2f}{row['p99_ms']:>9.2f}{ratio:>8.2f}{row['errors']:>8}"
        )
    floor = r["floor"]
    print(
        f"floor (bare ASGI app, fixed bytes, same server): {floor['rps']:.0f} rps, p99 {floor['p99_ms']:.2f} ms;"
        f" engine (10 operations) / floor: {base / floor['rps']:.2f}"
    )
    large = r["large"]
    print(
        f"start-up, {large['operations']:,} operations, {large['bytes'] / 1e6:.1f} MB, no examples: "
        f"load and compile {large['load_s']:.2f} s (median of 3, in process), "
        f"launch to first 200 {large['first_200_s']:.2f} s, peak RSS {large['peak_rss_mb']:.0f} MB"
    )


if __name__ == "__main__":
    raise SystemExit(main())
