"""`harness conformance`: run the kit against a running order service and print its report."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.conformance.kit import GROUPS
from harness.conformance.run import run_kit, selected
from harness.conformance.target import Credentials, LogStream, Target

EPILOG = """examples:
  harness conformance --url http://127.0.0.1:8000 --dev
  harness conformance --url http://127.0.0.1:8000 --credentials creds.json --only signing --only matrix
  harness conformance --url http://127.0.0.1:8000 --dev --redis redis://127.0.0.1:6390/0 \\
      --mocks .mocks/ready.json --logs service.log --json report.json

credentials: JSON shaped like the reference's dev file: {"services": {IDENTITY: {"api_keys": [..],
"signing_secrets": [..]}}, "jwt": {"secret": .., "audience": ..}}; without "jwt", give
"user": {"token": .., "accounts": [..]} (checks that must forge a token are then not checked).
groups (--only): {groups}; or a check's id (e.g. signing.replay).
exit status: 0 every check passed or was not checked; 1 a check failed; 2 a usage error."""


def parser() -> argparse.ArgumentParser:
    """The command's arguments (`--help` shows the examples)."""
    parse = argparse.ArgumentParser(
        prog="harness conformance",
        description="Check a running order service against the seed's rules, from outside.",
        epilog=EPILOG.replace("{groups}", ", ".join(GROUPS)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parse.add_argument("--url", required=True, help="base URL of the order service")
    keys = parse.add_mutually_exclusive_group(required=True)
    keys.add_argument("--credentials", type=Path, metavar="FILE", help="the identities' keys and the token secret")
    keys.add_argument("--dev", action="store_true", help="the reference's development keys (never in production)")
    parse.add_argument("--redis", metavar="URL", help="the service's Redis, which the kit may CLIENT PAUSE")
    parse.add_argument("--logs", metavar="FILE|-", help="the service's log lines: a file it appends to, or - (stdin)")
    parse.add_argument("--mocks", type=Path, metavar="READY_FILE", help="`mocks up --ready-file`: the owners it calls")
    parse.add_argument("--only", action="append", default=[], metavar="GROUP", help="a group or a check (repeatable)")
    parse.add_argument("--json", type=Path, metavar="FILE", help="also write the report as JSON")
    parse.add_argument("--verbose", action="store_true", help="details of passed checks too")
    return parse


def main(argv: Sequence[str]) -> int:
    """Run the kit; 0 nothing failed, 1 a check failed, 2 a usage error."""
    args = parser().parse_args(argv)
    try:
        selected(args.only)
        target = _target(args)
    except (ValueError, OSError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        report = run_kit(target, args.only)
    finally:
        target.close()
    print(report.text(verbose=args.verbose))
    if args.json:
        args.json.write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    return 1 if report.failed else 0


def _target(args: argparse.Namespace) -> Target:
    if args.dev:
        from order_service.security.dev import DEV_CREDENTIALS

        credentials = Credentials.load(DEV_CREDENTIALS)
    else:
        credentials = Credentials.load(args.credentials)
    logs = None
    if args.logs == "-":
        logs = LogStream(sys.stdin)
    elif args.logs:
        logs = LogStream.follow(Path(args.logs))
    mocks = json.loads(args.mocks.read_text())["mocks"] if args.mocks else {}
    return Target(args.url.rstrip("/"), credentials, redis_url=args.redis, logs=logs, mocks=mocks)
