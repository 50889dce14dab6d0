"""`harness compat`: compare two versions of a contract, or every contract with a git ref, and gate on it."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.compat.findings import BREAKING, LEVELS, Comparison, Finding
from harness.compat.gate import Declaration, contracts_at, declaration, default_base, document_at, repository_of
from harness.compat.impact import (
    Hit,
    client_methods,
    consumer_impact,
    impact_markdown,
    impact_text,
    pacts_of,
    recorded_pact,
)
from harness.compat.operations import DOCUMENT, compare_documents
from harness.coverage.report import read_records
from harness.errors import UsageError
from mocks.contract import contract_from_document
from mocks.document import read_document
from mocks.errors import ContractError

EPILOG = """examples:
  harness compat old/strategy-service.yaml contracts/strategy-service.yaml
  harness compat old.yaml new.yaml --pacts pacts/ --provider strategy-service --clients order_service/clients
  harness compat --git origin/main contracts/order-service.yaml --format markdown > comment.md
  harness compat --git --gate --pacts pacts/ --clients order_service/clients     (what `make compat` runs)
  harness compat old.yaml new.yaml --records .run/coverage.jsonl   the requests the suites sent, replayed

--git [REF]: each contract (default: every file of ./contracts) against its version at REF;
without REF, the merge base with the main line (on the main line: HEAD while the contracts
have uncommitted changes, else the previous commit).
--gate: a breaking change passes when the contract declares it: a major info.version bump
and a changelog entry for that version (info.x-changelog, or CHANGELOG.md beside the contract
with a heading naming the contract and the version).
exit status: 0 no breaking change (or, with --gate, none undeclared); 1 a breaking change;
2 a usage error (a file that is not a contract, a bad ref)."""


def parser() -> argparse.ArgumentParser:
    """The command's arguments (`--help` shows the examples)."""
    parse = argparse.ArgumentParser(
        prog="harness compat",
        description="What a contract revision changes for its clients: each difference classified, and whom it breaks.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parse.add_argument("files", nargs="*", type=Path, help="BASE REVISION; with --git, the contracts to check")
    parse.add_argument("--git", nargs="?", const="", metavar="REF", help="compare with the contracts at a git ref")
    parse.add_argument("--gate", action="store_true", help="pass breaking changes the contract declares")
    parse.add_argument("--pacts", type=Path, metavar="DIR", help="report the pact interactions each revision breaks")
    parse.add_argument("--provider", help="the provider's name in the pacts (default: the contract's file name)")
    parse.add_argument("--clients", type=Path, metavar="DIR", help="the consumer's source: name its client methods")
    parse.add_argument(
        "--records",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="requests the suites' mocks recorded (pytest --harness-coverage): replayed like pact interactions",
    )
    parse.add_argument("--format", choices=("text", "json", "markdown"), default="text", help="what stdout gets")
    parse.add_argument("--json", type=Path, metavar="FILE", help="also write the JSON report")
    parse.add_argument("--markdown", type=Path, metavar="FILE", help="also write the Markdown report")
    parse.add_argument("--show", choices=LEVELS, default="info", help="the lowest level listed (counts show all)")
    return parse


@dataclass
class Result:
    """One contract's comparison, what its revision breaks, and the gate's verdict."""

    comparison: Comparison
    hits: list[Hit] = field(default_factory=list)
    declared: Declaration | None = None

    @property
    def fails(self) -> bool:
        """A breaking change that is not declared (or any, without the gate)."""
        return bool(self.comparison.breaking) and not (self.declared and self.declared.declared)


def main(argv: Sequence[str]) -> int:
    """Run the command; returns its exit status."""
    args = parser().parse_args(list(argv))
    try:
        results = _git_results(args) if args.git is not None else [_file_result(args)]
    except ContractError as exc:
        raise UsageError(str(exc)) from exc
    _print(args, results)
    return 1 if any(r.fails for r in results) else 0


def _file_result(args: argparse.Namespace) -> Result:
    if len(args.files) != 2:
        raise UsageError("give BASE and REVISION (two contract files), or --git [REF] with the contracts")
    base_path, revision_path = args.files
    base, revision = read_document(base_path), read_document(revision_path)
    return _result(args, base, revision, revision_path)


def _git_results(args: argparse.Namespace) -> list[Result]:
    files = list(args.files) or _default_contracts()
    repo = repository_of(files[0].resolve())
    if args.git:
        ref, why = args.git, f"--git {args.git}"
    else:
        ref, why = default_base(repo, files[0].resolve().parent)
    if args.format == "text":
        print(f"comparing with {ref[:12]} ({why})")
    results = []
    for path in files:
        base = document_at(repo, ref, path)
        if base is None:
            if args.format == "text":
                print(f"{path.name}: new at this revision (nothing to compare)")
            continue
        results.append(_result(args, base, read_document(path), path))
    if not args.files:
        present = {p.name for p in files}
        for gone in contracts_at(repo, ref, files[0].parent):
            if gone.name not in present:
                results.append(_removed(gone, document_at(repo, ref, gone) or {}))
    return results


def _default_contracts() -> list[Path]:
    folder = Path("contracts")
    files = sorted(p for p in folder.glob("*") if p.suffix in (".yaml", ".yml", ".json")) if folder.is_dir() else []
    if not files:
        raise UsageError("no contracts given and no ./contracts folder with any: name the contract files")
    return files


def _removed(path: Path, base: dict[str, Any]) -> Result:
    version = str((base.get("info") or {}).get("version", "?"))
    finding = Finding("api-contract-removed", BREAKING, DOCUMENT, "#", f"the contract {path.name} was removed")
    return Result(Comparison(path.name, version, "(removed)", [finding]))


def _result(args: argparse.Namespace, base: dict[str, Any], revision: dict[str, Any], path: Path) -> Result:
    result = Result(compare_documents(base, revision, path.name))
    if args.gate and result.comparison.breaking:
        result.declared = declaration(base, revision, path)
    if (args.pacts is not None or args.records) and result.comparison.breaking:
        provider = args.provider or path.stem
        pacts = pacts_of(args.pacts, provider) if args.pacts is not None else []
        if args.records:
            pacts.append(recorded_pact(read_records(args.records), path.name, provider))
        base_contract = contract_from_document(base, path, answers=False)
        revision_contract = contract_from_document(revision, path, answers=False)
        ids = [op.operation_id for op in base_contract.operations.values()]
        methods = client_methods(args.clients, ids) if args.clients else None
        result.hits = consumer_impact(result.comparison, base_contract, revision_contract, pacts, methods)
    return result


def _print(args: argparse.Namespace, results: list[Result]) -> None:
    shown = LEVELS[: LEVELS.index(args.show) + 1]
    texts = {"text": _text(results, shown), "markdown": _markdown(results, shown), "json": _json(results)}
    print(texts[args.format])
    if args.json:
        args.json.write_text(texts["json"] + "\n", encoding="utf-8")
    if args.markdown:
        args.markdown.write_text(texts["markdown"] + "\n", encoding="utf-8")


def _verdict(result: Result) -> str:
    if not result.comparison.breaking:
        return "ok: no breaking change"
    if result.declared is None:
        return "BREAKING"
    if result.declared.declared:
        return f"declared breaking change ({result.declared.reason})"
    return f"UNDECLARED breaking change: {result.declared.reason}"


def _text(results: list[Result], shown: tuple[str, ...]) -> str:
    blocks = []
    for result in results:
        lines = [result.comparison.text(levels=shown), f"  => {_verdict(result)}"]
        if result.hits:
            lines.append(impact_text(result.hits))
        blocks.append("\n".join(lines))
    failing = sum(1 for r in results if r.fails)
    blocks.append(f"{len(results)} contract(s) compared, {failing} with a breaking change that fails")
    return "\n\n".join(blocks)


def _markdown(results: list[Result], shown: tuple[str, ...]) -> str:
    blocks = ["## Contract changes"]
    for result in results:
        blocks.append(result.comparison.markdown(levels=shown) + f"\n\n**{_verdict(result)}**")
        if result.hits:
            blocks.append(impact_markdown(result.hits))
    return "\n\n".join(blocks)


def _json(results: list[Result]) -> str:
    documents = []
    for result in results:
        data = result.comparison.as_dict()
        data["verdict"] = _verdict(result)
        data["fails"] = result.fails
        data["consumer_impact"] = [h.as_dict() for h in result.hits]
        documents.append(data)
    return json.dumps({"contracts": documents, "fails": any(r.fails for r in results)}, indent=2)
