"""`harness verify-contract`: a contract run as a test against a running provider, by schemathesis.

Every operation with valid and invalid data (examples, coverage of boundaries, fuzzing),
then stateful sequences along the contract's links; every answer checked (a documented
status, the schema, headers, content type; invalid data refused, valid data accepted;
never a 5xx). Schemathesis does the work (its `run` command, called in this process); this
module gives it a provider team's defaults and this project's vocabulary.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from harness.errors import UsageError

EPILOG = """examples:
  harness verify-contract contracts/strategy-service.yaml --url http://127.0.0.1:8101
  harness verify-contract my-api.yaml --url http://127.0.0.1:8000 -H 'Authorization: Bearer T' \\
      --seed 7 --max-examples 50 --junit-xml .run/contract.xml
  harness verify-contract my-api.yaml --url http://127.0.0.1:8000 --hooks my_project.signing
      (a module of schemathesis hooks: sign each request as your service expects)

exit status: 0 when every check held, 1 when one did not (the report names the operation,
the check and the answer, with a curl to reproduce it), 2 on a usage error."""


def parser() -> argparse.ArgumentParser:
    """The command's options."""
    parser = argparse.ArgumentParser(
        prog="harness verify-contract",
        description=__doc__.splitlines()[0] if __doc__ else None,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("contract", type=Path, help="the OpenAPI 3.0/3.1 file (JSON or YAML)")
    parser.add_argument("--url", required=True, help="base URL of the running provider")
    parser.add_argument(
        "-H", "--header", action="append", default=[], metavar="NAME:VALUE", help="sent with every request (repeatable)"
    )
    parser.add_argument("--hooks", metavar="MODULE", help="a module of schemathesis hooks (a signing hook, say)")
    parser.add_argument("--seed", type=int, help="fixes the generated data (default: a fresh seed, printed)")
    parser.add_argument("--max-examples", type=int, default=25, help="generated cases per operation and phase")
    parser.add_argument("--junit-xml", type=Path, metavar="FILE", help="also write the result as JUnit XML")
    parser.add_argument(
        "--exclude-check",
        action="append",
        default=[],
        metavar="CHECK",
        help="leave one check out (repeatable), e.g. ignored_auth against a mock that checks form only",
    )
    parser.add_argument("--no-stateful", action="store_true", help="skip the sequences along the contract's links")
    return parser


def schemathesis_args(args: argparse.Namespace) -> list[str]:
    """The `schemathesis run` arguments a verify-contract run stands for."""
    command = [
        "run",
        str(args.contract),
        "--url",
        args.url,
        "--checks",
        "all",
        "--max-examples",
        str(args.max_examples),
    ]
    phases = "examples,coverage,fuzzing" + ("" if args.no_stateful else ",stateful")
    command += ["--phases", phases, "--mode", "all", "--continue-on-failure"]
    for header in args.header:
        if ":" not in header:
            raise UsageError(f"--header {header!r} is not NAME:VALUE")
        command += ["--header", header]
    if args.seed is not None:
        command += ["--seed", str(args.seed)]
    if args.exclude_check:
        command += ["--exclude-checks", ",".join(args.exclude_check)]
    if args.junit_xml:
        args.junit_xml.parent.mkdir(parents=True, exist_ok=True)
        command += ["--report", "junit", "--report-junit-path", str(args.junit_xml)]
    return command


def main(argv: Sequence[str]) -> int:
    """Run the contract against the provider; schemathesis's exit status (0 pass, 1 a failure)."""
    import os

    args = parser().parse_args(argv)
    try:
        from schemathesis.cli import schemathesis
    except ImportError:
        raise UsageError("verify-contract runs schemathesis: pip install 'order-contract-harness[contract]'") from None
    if not args.contract.is_file():
        raise UsageError(f"{args.contract}: no such contract file")
    command = schemathesis_args(args)
    if args.hooks:
        os.environ["SCHEMATHESIS_HOOKS"] = args.hooks  # read by schemathesis when its command starts
    try:
        schemathesis.main(args=command, prog_name="harness verify-contract", standalone_mode=False)
    except SystemExit as exc:  # click's way to return the run's status
        return int(exc.code or 0)
    return 0
