"""`python -m order_service.compliance [PATH ...] [--json]`: exit 1 when any non-legacy finding remains.

A PATH is a Python file or a folder (every `.py` file under it). Exit codes: 0 clean, 1 violations,
2 a path that does not exist or a file that cannot be parsed (named on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from order_service.compliance.scanner import ScanError, as_json, scan_tree


def main(argv: list[str] | None = None, prog: str = "python -m order_service.compliance") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[Path(__file__).resolve().parents[1]])
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    args = parser.parse_args(argv)
    try:
        findings = [finding for path in args.paths for finding in scan_tree(path)]
    except ScanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    violations = [f for f in findings if not f.legacy]
    if args.json:
        print(json.dumps(as_json(findings), indent=2))
    else:
        for finding in findings:
            print(finding)
        legacy = len(findings) - len(violations)
        print(f"{len(violations)} violation(s), {legacy} legacy line(s) in {', '.join(map(str, args.paths))}")
    return 1 if violations else 0


if __name__ == "__main__":
    raise SystemExit(main())
