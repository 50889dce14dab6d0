"""Scan Python code for SQL touching anything but the service's own schema, and for hard-coded service URLs.

SQL is found in string literals (implicitly concatenated ones joined), f-strings (each
interpolation replaced by a placeholder) and `text(...)` arguments, and parsed with
sqlglot: a finding is a table reference, however spelled (`PUBLIC.Strategy`,
`"public"."strategy"`, `public . strategy`), never a substring match, so prose that merely
mentions `public.strategy` is not one. The kinds:

- `foreign_table`: a table another service owns (the seed's `public.*` list);
- `other_schema`: any other table outside the service's own schema;
- `unqualified_table`: a table without a schema (the search path decides where it is);
- `unknown_table`: a table of the own schema that its migrations never create.

The own schema is learnt from the migrations (`order_service.orders.migrations`: every
`CREATE TABLE schema.name`, and `CREATE FUNCTION schema.name` for functions read as
tables). URLs are string literals with an http(s) scheme and a host, outside settings
modules and docstrings. A finding on a line marked `# Legacy:` is reported separately and
does not fail the scan.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from order_service.errors import OrderServiceError

FOREIGN_TABLES = frozenset(
    {
        "strategy",
        "portfolio",
        "strategy_portfolio",
        "kite_accounts",
        "holdings",
        "strategy_pnl_metrics",
    }
)
_SQL_START = re.compile(r"^\s*(select|insert|update|delete|with|merge|upsert)\b", re.IGNORECASE)
_URL = re.compile(r"^\s*https?://[^\s/:]+(:\d+)?(/\S*)?\s*$", re.IGNORECASE)
_PLACEHOLDER = "0"
SETTINGS_FILES = frozenset({"settings.py"})
_CREATE_TABLE = re.compile(
    r"\bCREATE\s+(?:OR\s+REPLACE\s+)?(?:TABLE|FUNCTION)\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)\.(\w+)", re.IGNORECASE
)


@dataclass(frozen=True)
class Schema:
    """The service's own schema: its name and the tables (and set-returning functions) its migrations create."""

    name: str
    tables: frozenset[str]

    @classmethod
    def from_migrations(cls, name: str, sql_texts: list[str]) -> Schema:
        """The tables of `name` that `CREATE TABLE name.table` statements in `sql_texts` create."""
        tables = {t.lower() for text in sql_texts for s, t in _CREATE_TABLE.findall(text) if s.lower() == name}
        return cls(name, frozenset(tables))


def own_schema() -> Schema:
    """The order service's schema, from its migrations (and the migrations' own record)."""
    folder = resources.files("order_service.orders.migrations")
    texts = [entry.read_text(encoding="utf-8") for entry in folder.iterdir() if entry.name.endswith(".sql")]
    schema = Schema.from_migrations("order_service", texts)
    return Schema(schema.name, schema.tables | {"schema_migrations"})


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    kind: str  # foreign_table | hardcoded_url
    detail: str
    legacy: bool

    def __str__(self) -> str:
        mark = " (legacy)" if self.legacy else ""
        return f"{self.path}:{self.line}: {self.kind}{mark}: {self.detail}"


def _strings(tree: ast.AST) -> Iterator[tuple[int, int, str, bool]]:
    """(first line, last line, text, is_docstring) of every string literal and f-string."""
    docstrings = set()
    fragments = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values}
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                docstrings.add(id(first.value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in fragments:
            yield node.lineno, node.end_lineno or node.lineno, node.value, id(node) in docstrings
        elif isinstance(node, ast.JoinedStr):
            text = "".join(
                part.value if isinstance(part, ast.Constant) and isinstance(part.value, str) else _PLACEHOLDER
                for part in node.values
            )
            yield node.lineno, node.end_lineno or node.lineno, text, False


def _legacy_lines(source: str) -> set[int]:
    marked = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT and token.string.lstrip("#").strip().startswith("Legacy:"):
            marked.add(token.start[0])
    return marked


def table_findings(sql: str, schema: Schema) -> list[tuple[str, str]]:
    """(kind, detail) of every table reference outside `schema`; [] when it is not SQL that parses."""
    try:
        statements = sqlglot.parse(sql, dialect="postgres")
    except (ParseError, TokenError):
        return []
    found = set()
    for statement in statements:
        if statement is None:
            continue
        named = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
        for table in statement.find_all(exp.Table):
            db, name = table.db.lower(), table.name.lower()
            if not name and isinstance(table.this, exp.Anonymous):  # a function read as a table
                name = str(table.this.this).lower()
            if not db:
                if name not in named and name:
                    found.add(("unqualified_table", f"SQL names table {name} without a schema"))
            elif db == "public" and name in FOREIGN_TABLES:
                found.add(("foreign_table", f"SQL touches public.{name}"))
            elif db != schema.name:
                found.add(("other_schema", f"SQL touches {db}.{name}, outside the schema {schema.name}"))
            elif name not in schema.tables:
                found.add(("unknown_table", f"SQL touches {db}.{name}, which no migration creates"))
    return sorted(found)


def scan_source(source: str, path: str, schema: Schema | None = None) -> list[Finding]:
    """The findings of one file's source (`schema`: the service's own, by default the order service's)."""
    schema = schema or own_schema()
    tree = ast.parse(source, filename=path)
    legacy = _legacy_lines(source)
    is_settings = Path(path).name in SETTINGS_FILES
    found = []
    for first, last, text, is_docstring in _strings(tree):
        marked = any(line in legacy for line in range(first, last + 1))
        if _SQL_START.match(text):
            for kind, detail in table_findings(text, schema):
                found.append(Finding(path, first, kind, detail, marked))
        elif not is_docstring and not is_settings and _URL.match(text):
            found.append(
                Finding(path, first, "hardcoded_url", f"service URL {text.strip()!r} outside settings", marked)
            )
    return sorted(found, key=lambda f: (f.line, f.kind))


class ScanError(OrderServiceError):
    """A path cannot be scanned: it does not exist, or a file in it is not Python that parses."""


def scan_tree(root: Path, schema: Schema | None = None) -> list[Finding]:
    """The findings of `root`: one Python file, or every `.py` file under a folder.

    Raises:
        ScanError: `root` does not exist, or a file cannot be read or parsed (named, with the line).
    """
    if root.is_file():
        paths = [root]
    elif root.is_dir():
        paths = [p for p in sorted(root.rglob("*.py")) if not {".venv", "__pycache__"} & set(p.parts)]
    else:
        raise ScanError(f"{root}: no such file or folder")
    findings = []
    for path in paths:
        try:
            findings += scan_source(path.read_text(encoding="utf-8"), str(path), schema)
        except SyntaxError as exc:
            raise ScanError(f"{path}:{exc.lineno}: not Python that parses ({exc.msg})") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ScanError(f"{path}: cannot be read ({exc})") from exc
    return findings


def as_json(findings: list[Finding]) -> dict[str, object]:
    return {
        "violations": [asdict(f) for f in findings if not f.legacy],
        "legacy": [asdict(f) for f in findings if f.legacy],
    }
