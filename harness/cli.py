r"""`harness`: the one command of the contract harness.

    harness mocks up                       every mock, a throwaway Redis, the reference order service
    harness mocks serve strategy-service   one mock
    harness mocks serve path/to/any.yaml   a mock of any OpenAPI 3.0/3.1 file (no code)
    harness verify-pacts --provider strategy-service --url http://127.0.0.1:8001 \\
        --states-url http://127.0.0.1:8001/__admin/states --junit-xml pact.xml
    harness verify-contract my-api.yaml --url http://127.0.0.1:8000 --junit-xml contract.xml
    harness check-openapi my-openapi.yaml --pacts pacts/ --provider strategy-service
    harness proxy my-api.yaml --upstream http://127.0.0.1:8000 --port 4011 --log violations.jsonl
    harness sign POST http://127.0.0.1:8000/orders --data '{...}'
    harness scan path/to/service
    harness conformance --url http://127.0.0.1:8000 --dev   the seed's rules checked from outside
    harness compat old.yaml new.yaml --pacts pacts/   breaking changes, and the interactions they break
    harness coverage --records .run/coverage.jsonl --html .run/coverage.html --gate
    harness chaos --seed 7 --seconds 60     a crash round (faults over real processes, then a checker)
    harness map --ready ready.json --collect 30 --svg map.svg   who calls what: rates, errors, latency

Exit status: 0 success; 1 a check failed (a mismatch, a violation, a non-2xx answer);
2 a usage error (the message names it).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from harness.errors import UsageError

USAGE = 2


def _mocks(argv: Sequence[str]) -> int:
    from mocks.cli import main

    return main(argv, prog="harness mocks")


def _sign(argv: Sequence[str]) -> int:
    from order_service.security.__main__ import main

    return main(list(argv), prog="harness sign")


def _scan(argv: Sequence[str]) -> int:
    from order_service.compliance.__main__ import main

    return main(list(argv), prog="harness scan")


def _conformance(argv: Sequence[str]) -> int:
    from harness.conformance.cli import main

    return main(argv)


def _compat(argv: Sequence[str]) -> int:
    from harness.compat.cli import main

    return main(argv)


def _coverage(argv: Sequence[str]) -> int:
    from harness.coverage.cli import main

    return main(argv)


def _chaos(argv: Sequence[str]) -> int:
    from harness.chaos.cli import main

    return main(argv)


def _verify_parser() -> argparse.ArgumentParser:
    from harness.verify import PACTS, packaged_providers

    parser = argparse.ArgumentParser(
        prog="harness verify-pacts",
        description="Replay a consumer pact against a running provider; exit 0 pass, 1 mismatch, 2 usage.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="example: harness verify-pacts --provider strategy-service --url http://127.0.0.1:8001 "
        "--states-url http://127.0.0.1:8001/__admin/states",
    )
    parser.add_argument(
        "--provider", required=True, help=f"the provider's name (packaged pacts: {', '.join(packaged_providers())})"
    )
    parser.add_argument("--url", required=True, help="base URL of the running provider")
    parser.add_argument("--states-url", help="where provider-state changes are posted (none: states are not set)")
    parser.add_argument("--pact", type=Path, help="one pact file to verify, instead of the packaged one")
    parser.add_argument("--pact-dir", type=Path, default=PACTS, help="where the pacts are")
    parser.add_argument("--junit-xml", type=Path, metavar="FILE", help="also write the result as JUnit XML")
    parser.add_argument("--verbose", action="store_true", help="also print the pact verifier's own output")
    parser.add_argument("--consumer", default="order-service", help="whose pact (algo-engine: the order service's API)")
    signing = parser.add_argument_group(
        "re-signing", "sign every replayed request afresh (timestamp, nonce, signature) for a provider that checks them"
    )
    signing.add_argument("--credentials", type=Path, metavar="FILE", help="the provider's credentials (plain keys)")
    signing.add_argument("--dev", action="store_true", help="the dev credentials, and a fresh dev user token each")
    signing.add_argument("--sign-as", metavar="IDENTITY", help="sign as this identity (default: X-Service-Identity)")
    signing.add_argument("--signing-version", type=int, choices=(1, 2), default=2)
    signing.add_argument("--user-token", metavar="TOKEN", help="the Bearer token each replayed request carries")
    return parser


def _verify(argv: Sequence[str]) -> int:
    from harness.resign import bearer_token, dev_user_tokens, signer_from_credentials
    from harness.verify import verify_provider

    args = _verify_parser().parse_args(argv)
    signer, prepare = None, None
    if args.dev or args.credentials:
        from order_service.security.dev import DEV_CREDENTIALS

        credentials = args.credentials or DEV_CREDENTIALS
        signer = signer_from_credentials(credentials, version=args.signing_version, identity=args.sign_as)
    if args.user_token:
        prepare = bearer_token(args.user_token)
    elif args.dev:
        prepare = dev_user_tokens()
    report = verify_provider(
        args.provider,
        args.url,
        args.states_url,
        args.pact_dir,
        pact=args.pact,
        verbose=args.verbose,
        consumer=args.consumer,
        signer=signer,
        prepare=prepare,
    )
    print(report)
    if args.junit_xml:
        args.junit_xml.write_text(report.junit_xml())
    return 0 if report.ok else 1


def _verify_contract(argv: Sequence[str]) -> int:
    from harness.contract_test import main

    return main(argv)


def _check_openapi(argv: Sequence[str]) -> int:
    from harness.pact_check import main

    return main(list(argv))


def _map(argv: Sequence[str]) -> int:
    from harness.map_cli import main

    return main(argv)


def _proxy(argv: Sequence[str]) -> int:
    from harness.proxy import main

    return main(list(argv))


COMMANDS: dict[str, tuple[Callable[[Sequence[str]], int], str]] = {
    "mocks": (_mocks, "start the mocks: `up` (all, with Redis and the order service), `serve NAME` or `serve FILE`"),
    "verify-pacts": (_verify, "verify a provider against our pacts (or any pact file)"),
    "verify-contract": (
        _verify_contract,
        "run an OpenAPI contract as a test against a running provider (schemathesis)",
    ),
    "check-openapi": (_check_openapi, "does a provider's own OpenAPI still satisfy every interaction of our pacts?"),
    "proxy": (_proxy, "forward traffic to a provider, checking each request and answer against a contract"),
    "sign": (_sign, "sign and send one request with the dev keys (a curl for the order API)"),
    "scan": (_scan, "the compliance scan: another service's tables read by SQL"),
    "conformance": (_conformance, "check a running order service against the seed's rules, from outside"),
    "compat": (_compat, "what a contract revision breaks for its clients (and which pacts); the CI gate"),
    "coverage": (_coverage, "which contract operations and statuses the pacts, suites, schemathesis and kit exercised"),
    "chaos": (_chaos, "crash rounds: clients, a seeded fault schedule and a checker over real processes"),
    "map": (_map, "the dependency map of a running stack (journals, discovery, traces): JSON, SVG, PNG"),
}


def _top_help() -> str:
    lines = [__doc__.strip(), "", "commands (each has --help):"]
    lines += [f"  {name:<17}{summary}" for name, (_, summary) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `harness` command; returns its exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USAGE
    except BrokenPipeError:  # `harness ... | head`: the reader left; say nothing more
        _quiet_stdout()
        return 1


def _dispatch(args: list[str]) -> int:
    if not args or args[0] in ("-h", "--help"):
        print(_top_help())
        return 0 if args else USAGE
    if args[0] == "--version":
        from harness import __version__

        print(f"harness {__version__}")
        return 0
    command = COMMANDS.get(args[0])
    if command is None:
        print(f"harness: unknown command {args[0]!r}; one of: {', '.join(COMMANDS)}", file=sys.stderr)
        return USAGE
    return command[0](args[1:])


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush has nowhere to fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def run() -> None:
    """The console script's entry point."""
    status = main()
    try:
        sys.stdout.flush()  # what is still buffered fails here, not in the interpreter's shutdown
    except BrokenPipeError:
        _quiet_stdout()
        status = status or 1
    raise SystemExit(status)
