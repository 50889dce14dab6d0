"""`harness chaos`: crash rounds over real processes; exit 0 with no violation, 1 with any, 2 on usage."""

from __future__ import annotations

import argparse
import random
import shlex
import signal
import time
from collections.abc import Sequence
from pathlib import Path

from harness.chaos.history import read_faults
from harness.chaos.nemesis import KINDS
from harness.chaos.stack import REFERENCE_COMMAND
from harness.errors import UsageError


def parser() -> argparse.ArgumentParser:
    """The command's arguments."""
    parser = argparse.ArgumentParser(
        prog="harness chaos",
        description="Crash rounds: clients, a seeded fault schedule and a checker over real processes.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--seed", type=int, action="append", help="a round's seed (repeatable; none: a new one)")
    parser.add_argument("--seconds", type=float, default=60.0, help="each round's length")
    parser.add_argument("--duration", type=float, help="keep running rounds (new seeds) until this many seconds")
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--out", type=Path, default=Path(".run/chaos"), help="where each round keeps its files")
    parser.add_argument("--schedule", type=Path, help="replay the faults of this log (a round's faults.jsonl)")
    parser.add_argument(
        "--partitions",
        choices=("auto", "on", "off"),
        default="auto",
        help="run Redis, PostgreSQL and the owner on a namespace of their own and partition them with iptables "
        "(needs root; auto: where it can, on: fail where it cannot)",
    )
    parser.add_argument(
        "--replica-command",
        default=shlex.join(REFERENCE_COMMAND),
        help="how to start an order-service replica (gets --host and --port)",
    )
    parser.add_argument(
        "--store-queries",
        type=Path,
        metavar="FILE",
        help="how the checker reads your order service's database: a JSON object of SQL (orders, keys, outbox, "
        "pending; see harness.chaos.round.StoreQueries); default: the reference implementation's schema",
    )
    return parser


def _interrupt(signum: int, _: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str]) -> int:
    """Run the rounds asked for; print each report."""
    from harness.chaos.round import Report, RoundConfig, StoreQueries, load_store_queries, run_round, summary

    args = parser().parse_args(argv)
    # SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C: each stack stops its processes and
    # removes its namespace on the way out.
    signal.signal(signal.SIGTERM, _interrupt)
    if args.seconds < 15:
        raise UsageError("--seconds must be at least 15: the last fault heals 8 s before the round ends")
    schedule = read_faults(args.schedule) if args.schedule else None
    try:
        queries = load_store_queries(args.store_queries) if args.store_queries else StoreQueries()
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    seeds = list(args.seed or [])
    began = time.monotonic()
    reports: list[Report] = []
    while True:
        if seeds:
            seed = seeds.pop(0)
        elif not reports or (args.duration and time.monotonic() - began < args.duration):
            seed = random.SystemRandom().randrange(1 << 31)
        else:
            break
        replay = f"harness chaos --seed {seed} --seconds {args.seconds:g}"
        print(f"chaos: round {len(reports) + 1}, seed {seed} (replay: {replay})")
        config = RoundConfig(
            seed=seed,
            seconds=args.seconds,
            folder=args.out / f"seed-{seed}",
            clients=args.clients,
            replica_command=shlex.split(args.replica_command),
            schedule=schedule,
            kinds=KINDS,
            partitions=args.partitions,
            queries=queries,
        )
        report = run_round(config)
        print(report.text(), flush=True)
        print(f"  files: {config.folder}")
        reports.append(report)
        if not seeds and not args.duration:
            break
    print(summary(reports))
    return 1 if any(r.verdict.violations for r in reports) else 0
