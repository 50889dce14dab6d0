"""`harness map`: the dependency map of a running stack, as JSON and as a picture.

    harness map --ready .run/mocks/ready.json --json map.json --svg map.svg --png map.png
    harness map --ready ready.json --collect 30 --otlp-port 4318   traces too, for 30 s

`--ready` is the ready file of a `mocks up` (`--ready-file`): the mocks' journals are read,
and the config service says which services are discovered. `--collect SECONDS` listens as an
OTLP/HTTP collector on `--otlp-port` for that long (point `mocks up --otlp-endpoint` or any
service's exporter at it): client spans give callers, rates and latencies. Contracts are the
mocks' own, plus `--contract NAME=FILE` for services of yours. Exit status 1 when an edge
seen in the traffic is missing from the contracts (`--allow-undocumented`: 0 anyway).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx

from harness.depmap import build, calls_from_journals, calls_from_spans, merge, render
from harness.errors import UsageError
from harness.traces import Collector, SpanRecord


def contract_operations(extra: Sequence[str], contracts_dir: Path | None) -> dict[str, set[str]]:
    """Each service's documented operationIds: the mocks' contracts, then `NAME=FILE` ones."""
    from mocks.contract import load_contract
    from mocks.registry import CONTRACTS_DIR, SERVICES

    found = {
        name: set(load_contract(spec.contract_path(contracts_dir or CONTRACTS_DIR)).operations)
        for name, spec in SERVICES.items()
    }
    for pair in extra:
        name, sep, file = pair.partition("=")
        if not sep or not name or not file:
            raise UsageError(f"--contract {pair!r}: expected NAME=FILE")
        found[name] = set(load_contract(file).operations)
    return found


def read_stack(ready_file: Path) -> tuple[dict[str, list[dict[str, Any]]], set[str]]:
    """The journals of every mock a `mocks up` ready file lists, and the services its config service knows."""
    try:
        ready = json.loads(ready_file.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"--ready {ready_file}: {exc}") from exc
    journals: dict[str, list[dict[str, Any]]] = {}
    discovered: set[str] = set()
    with httpx.Client(timeout=5, verify=False) as http:  # a dev stack: --tls certificates are its own CA's
        for name, url in ready.get("mocks", {}).items():
            journals[name] = http.get(f"{url}/__admin/journal").raise_for_status().json()["entries"]
        config = ready.get("mocks", {}).get("config-service")
        if config:
            discovered = {s["name"] for s in http.get(f"{config}/services").raise_for_status().json()["items"]}
            discovered.add("config-service")
    return journals, discovered


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness map", description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ready", type=Path, metavar="FILE", help="a `mocks up` ready file (journals, discovery)")
    parser.add_argument("--collect", type=float, metavar="SECONDS", help="collect OTLP traces for this long first")
    parser.add_argument("--otlp-port", type=int, default=4318, help="the collector's port (default: %(default)s)")
    parser.add_argument("--spans", type=Path, metavar="FILE", help="also read spans from this JSON-lines file")
    parser.add_argument("--save-spans", type=Path, metavar="FILE", help="write the collected spans here")
    parser.add_argument("--contract", action="append", default=[], metavar="NAME=FILE")
    parser.add_argument("--contracts-dir", type=Path, help="the mocks' contracts (default: the packaged ones)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the map here (default: stdout)")
    parser.add_argument("--svg", type=Path, metavar="FILE")
    parser.add_argument("--png", type=Path, metavar="FILE")
    parser.add_argument("--allow-undocumented", action="store_true", help="exit 0 even with flagged edges")
    return parser


def main(argv: Sequence[str]) -> int:
    """Run `harness map`; 0, 1 when an edge is missing from the contracts."""
    args = _parser().parse_args(list(argv))
    if args.ready is None and args.collect is None and args.spans is None:
        raise UsageError("nothing to map: give --ready, --collect or --spans")
    spans: list[SpanRecord] = []
    if args.spans is not None:
        spans += [SpanRecord(**json.loads(line)) for line in args.spans.read_text().splitlines() if line.strip()]
    if args.collect is not None:
        with Collector(port=args.otlp_port) as collector:
            print(f"collecting traces at {collector.endpoint} for {args.collect:g} s", file=sys.stderr)
            time.sleep(args.collect)
            spans += collector.spans()
    if args.save_spans is not None:
        args.save_spans.write_text("".join(json.dumps(asdict(s)) + "\n" for s in spans))
    journals, discovered = read_stack(args.ready) if args.ready is not None else ({}, set())
    calls = merge(calls_from_spans(spans), calls_from_journals(journals, spans))
    dependency_map = build(calls, contract_operations(args.contract, args.contracts_dir), discovered)
    text = json.dumps(dependency_map.as_dict(), indent=2) + "\n"
    if args.json is None:
        sys.stdout.write(text)
    else:
        args.json.write_text(text)
    for target in (args.svg, args.png):
        if target is not None:
            render(dependency_map, target)
    for flag in dependency_map.as_dict()["flagged"]:
        print(f"flagged: {flag}", file=sys.stderr)
    return 0 if args.allow_undocumented or not dependency_map.flagged else 1


__all__ = ["contract_operations", "main", "read_stack"]
