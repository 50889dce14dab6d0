"""Provider verification: replay a pact against a running provider, and say what did not match.

For owning-service teams. Every interaction of the pact (the packaged
`order-service-<provider>.json`, or any pact file) is replayed against the provider. Before
each one its provider states are set: posted to a states URL as
`{"state": ..., "params": {...}, "action": "setup"}` (and `"teardown"` after), or, from
Python, passed to a callable, as pact-python allows. The report lists each mismatch by
interaction; `Report.junit_xml()` writes it for a CI.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import httpx

from harness.errors import UsageError
from harness.resign import Exchange, Prepare, ResigningProxy, Signer

CONSUMER = "order-service"
PACTS = Path(str(files("harness.pacts")))
StateHandler = Callable[..., None]


def pact_file_name(provider: str, consumer: str = CONSUMER) -> str:
    """The file a consumer's pact with `provider` is written to."""
    return f"{consumer}-{provider}.json"


def packaged_providers(pact_dir: Path = PACTS) -> tuple[str, ...]:
    """The providers that have a pact in `pact_dir`, by its file names."""
    prefix = f"{CONSUMER}-"
    return tuple(sorted(p.stem.removeprefix(prefix) for p in pact_dir.glob(f"{prefix}*.json")))


@dataclass(frozen=True)
class Mismatch:
    """One difference between what the pact expects and what the provider answered."""

    interaction: str
    where: str  # a body path ($.strategy_id), "status", "header X" or "request"
    problem: str

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}"


@dataclass(frozen=True)
class Report:
    """The outcome of verifying one provider: every interaction, every mismatch."""

    provider: str
    interactions: tuple[str, ...]
    mismatches: tuple[Mismatch, ...]

    @property
    def ok(self) -> bool:
        """Every interaction held, and there was at least one: nothing verified is a failure."""
        return bool(self.interactions) and not self.mismatches

    def __str__(self) -> str:
        if not self.interactions:
            return f"{self.provider}: the pact has no interactions, so nothing was verified"
        if self.ok:
            return f"{self.provider}: all {len(self.interactions)} interactions verified"
        failing = sorted({m.interaction for m in self.mismatches})
        lines = [f"{self.provider}: {len(failing)} of {len(self.interactions)} interactions failed"]
        for interaction in failing:
            lines.append(f"  {interaction}")
            lines += [f"    - {m}" for m in self.mismatches if m.interaction == interaction]
        return "\n".join(lines)

    def junit_xml(self) -> str:
        """One test case an interaction, a failure element for each that did not match."""
        suite = ElementTree.Element(
            "testsuite",
            name=f"pact {CONSUMER} -> {self.provider}",
            tests=str(len(self.interactions)),
            failures=str(len({m.interaction for m in self.mismatches})),
        )
        for interaction in self.interactions:
            case = ElementTree.SubElement(suite, "testcase", classname=self.provider, name=interaction)
            found = [str(m) for m in self.mismatches if m.interaction == interaction]
            if found:
                failure = ElementTree.SubElement(case, "failure", message=found[0])
                failure.text = "\n".join(found)
        return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True)


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


def resolve_pact(provider: str, pact: Path | None = None, pact_dir: Path = PACTS, consumer: str = CONSUMER) -> Path:
    """The pact file to verify: `pact` when given, else the one for `provider` in `pact_dir`.

    Raises:
        UsageError: no such file, or no packaged pact for `provider`.
    """
    if pact is not None:
        if not pact.is_file():
            raise UsageError(f"no pact file {pact}")
        return pact
    pact_file = pact_dir / pact_file_name(provider, consumer)
    if not pact_file.is_file():
        prefix = f"{consumer}-"
        known = ", ".join(sorted(p.stem.removeprefix(prefix) for p in pact_dir.glob(f"{prefix}*.json"))) or "none"
        raise UsageError(f"no pact for provider {provider!r} in {pact_dir} (pacts for: {known})")
    return pact_file


def verify_provider(
    provider: str,
    url: str,
    states: str | StateHandler | None = None,
    pact_dir: Path = PACTS,
    *,
    pact: Path | None = None,
    verbose: bool = False,
    consumer: str = CONSUMER,
    signer: httpx.Auth | Signer | None = None,
    prepare: Prepare | None = None,
) -> Report:
    """Replay the pact with `provider` against `url`; the report lists every mismatch.

    Args:
        provider: the provider's name as the pact has it (`strategy-service`).
        url: the provider's base URL.
        states: where provider states are set: a URL (the body is posted), or a callable
            `(state, action, params)` as pact-python calls it; None sets no states.
        pact_dir: where the pact files are (default: the packaged ones).
        pact: one pact file, instead of `pact_dir`'s file for `provider`.
        verbose: also print the pact verifier's own output.
        consumer: whose pact with `provider` (`order-service`; `algo-engine` for the order service's own API).
        signer: sign each replayed request afresh (an `httpx.Auth`, or a callable choosing one per request,
            see `harness.resign`); a request whose signature the provider refuses is reported as such.
        prepare: change each replayed request before it is signed (a fresh user token, say).

    Raises:
        UsageError: an unknown provider, a missing pact, a URL without a host.
    """
    os.environ.setdefault("PACT_DO_NOT_TRACK", "true")
    from pact import Verifier  # imported late: loading the Rust core is not free

    pact_file = resolve_pact(provider, pact, pact_dir, consumer)
    if not urlsplit(url).hostname:
        raise UsageError(f"{url!r} is not a URL with a host")
    interactions = json.loads(pact_file.read_text())["interactions"]
    with contextlib.ExitStack() as stack:
        proxy = stack.enter_context(ResigningProxy(url, signer, prepare)) if signer is not None else None
        target = proxy.url if proxy is not None else url
        verifier = Verifier(provider, host=urlsplit(target).hostname).add_transport(url=target).add_source(pact_file)
        if isinstance(states, str):
            verifier = verifier.state_handler(states, body=True, teardown=True)
        elif states is not None:
            verifier = verifier.state_handler(states, teardown=True)
        # verify() raises on any failure; the results say which
        with _stdout_to(None if verbose else os.devnull), contextlib.suppress(RuntimeError):
            verifier.verify()
    mismatches = _mismatches(verifier.results)
    if proxy is not None:
        mismatches = _signature_refusals(interactions, mismatches, proxy.exchanges) + mismatches
    described = tuple(i.get("description", "?") for i in interactions)
    return Report(provider, described, mismatches)


def _signature_refusals(
    interactions: list[dict[str, Any]], mismatches: tuple[Mismatch, ...], exchanges: list[Exchange]
) -> tuple[Mismatch, ...]:
    """A failing interaction whose request the provider refused for its signature says so first."""
    failing = {m.interaction for m in mismatches}
    refused = [e for e in exchanges if e.signature_refused]
    found = []
    for interaction in interactions:
        name = interaction.get("description", "?")
        request = interaction.get("request", {})
        path = request.get("path", "")
        method = str(request.get("method", "")).upper()
        hit = next((e for e in refused if e.method == method and e.path.split("?", 1)[0] == path), None)
        if name in failing and hit is not None:
            problem = f"the provider refused the re-signed request's signature (401): {hit.body[:200]}"
            found.append(Mismatch(name, "signature", problem))
    return tuple(found)
