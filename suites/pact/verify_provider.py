"""`make verify-provider PROVIDER=... URL=... [STATES_URL=...]`: verify our pact against a running provider.

For owning-service teams. The provider at URL is replayed every interaction of
`pacts/order-service-<PROVIDER>.json`; before each one, its provider states are posted
to STATES_URL as `{"state": ..., "params": {...}, "action": "setup"}` and, after it,
`"action": "teardown"` (the README lists the states each provider must support). Exit
status 0 when every interaction matches, 1 with a list of mismatches when not, 2 on a
usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from suites.pact.participants import PROVIDERS, pact_file_name

PACTS = Path(__file__).resolve().parents[2] / "pacts"


@dataclass(frozen=True)
class Mismatch:
    interaction: str
    where: str  # a body path ($.strategy_id), "status", "header X" or "request"
    problem: str

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}"


@dataclass(frozen=True)
class Report:
    provider: str
    interactions: int
    mismatches: tuple[Mismatch, ...]

    @property
    def ok(self) -> bool:
        """Every interaction held, and there was at least one: nothing verified is a failure."""
        return self.interactions > 0 and not self.mismatches

    def __str__(self) -> str:
        if self.interactions == 0:
            return f"{self.provider}: the pact has no interactions, so nothing was verified"
        if self.ok:
            return f"{self.provider}: all {self.interactions} interactions verified"
        failing = sorted({m.interaction for m in self.mismatches})
        lines = [f"{self.provider}: {len(failing)} of {self.interactions} interactions failed"]
        for interaction in failing:
            lines.append(f"  {interaction}")
            lines += [f"    - {m}" for m in self.mismatches if m.interaction == interaction]
        return "\n".join(lines)


def _mismatches(results: dict[str, Any]) -> tuple[Mismatch, ...]:
    found = []
    for error in results.get("errors", []):
        interaction = str(error.get("interaction", "?")).split(" - ", 1)[-1]
        detail = error.get("mismatch", {})
        rows = detail.get("mismatches") or [
            {"type": detail.get("type", "error"), "mismatch": detail.get("message", "")}
        ]
        for row in rows:
            kind = row.get("type", "")
            where = {"StatusMismatch": "status", "BodyTypeMismatch": "body content type"}.get(
                kind, row.get("path") or (f"header {row['key']}" if "key" in row else kind or "request")
            )
            found.append(Mismatch(interaction, str(where), str(row.get("mismatch") or row)))
    return tuple(found)


@contextlib.contextmanager
def _stdout_to(path: str | None) -> Iterator[None]:
    """Send what the Rust core prints (straight to file descriptor 1) elsewhere."""
    if path is None:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    with open(path, "wb") as sink:
        os.dup2(sink.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


def verify_provider(
    provider: str, url: str, states_url: str | None = None, pact_dir: Path = PACTS, *, verbose: bool = False
) -> Report:
    """Replay the pact with `provider` against `url`; the report lists every mismatch."""
    os.environ.setdefault("PACT_DO_NOT_TRACK", "true")
    from pact import Verifier  # imported late: loading the Rust core is not free

    if provider not in PROVIDERS:
        raise ValueError(f"unknown provider {provider!r}; one of: {', '.join(PROVIDERS)}")
    pact_file = pact_dir / pact_file_name(provider)
    if not pact_file.is_file():
        raise ValueError(f"no pact file {pact_file}; run `make pacts`")
    host = urlsplit(url).hostname
    if not host:
        raise ValueError(f"{url!r} is not a URL with a host")
    verifier = Verifier(provider, host=host).add_transport(url=url).add_source(pact_file)
    if states_url:
        verifier = verifier.state_handler(states_url, body=True, teardown=True)
    # verify() raises on any failure; the results say which
    with _stdout_to(None if verbose else os.devnull), contextlib.suppress(RuntimeError):
        verifier.verify()
    interactions = len(json.loads(pact_file.read_text())["interactions"])
    return Report(provider, interactions, _mismatches(verifier.results))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make verify-provider", description=__doc__.splitlines()[0])
    parser.add_argument("--provider", required=True, choices=PROVIDERS)
    parser.add_argument("--url", required=True, help="base URL of the running provider")
    parser.add_argument("--states-url", help="where provider-state changes are posted (none: states are not set)")
    parser.add_argument("--pact-dir", type=Path, default=PACTS)
    parser.add_argument("--verbose", action="store_true", help="also print the pact verifier's own output")
    args = parser.parse_args(argv)
    try:
        report = verify_provider(args.provider, args.url, args.states_url, args.pact_dir, verbose=args.verbose)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report)
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
