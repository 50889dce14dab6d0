"""Find the operation for a method and path: a tree by path segment.

A request walks one node per segment, so routing costs the same for 10 operations as for
10,000. At each node a literal segment is tried before a segment with a parameter in it
(`{name}.{ext}`), and that before a whole-segment parameter (`{id}`); a branch that leads
to no template is left for the next one, so `/users/me` and `/users/{id}/posts` both route.
The most specific template that matches decides, unless it lacks the method and another
template (not just a generalisation of it, as `{id}` is of `me`) has it: a 405 names its methods.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from mocks.contract import Operation
from mocks.errors import RequestRejected

_PARAM = re.compile(r"\{([^{}/]+)\}")


@dataclass
class _Node:
    """One segment's choices: literals by text, mixed segments by regex, then parameters by name."""

    literals: dict[str, _Node] = field(default_factory=dict)
    mixed: dict[str, tuple[re.Pattern[str], _Node]] = field(default_factory=dict)  # by segment template
    params: dict[str, _Node] = field(default_factory=dict)  # by name: a segment that is one parameter
    operations: dict[str, Operation] = field(default_factory=dict)  # by method, where a template ends

    @property
    def template(self) -> str:
        """The path template that ends here."""
        return next(iter(self.operations.values())).path

    def child(self, segment: str) -> _Node:
        """The node below for one segment of a template (created on first use)."""
        names = _PARAM.findall(segment)
        if not names:
            return self.literals.setdefault(segment, _Node())
        if segment == "{" + names[0] + "}":
            return self.params.setdefault(names[0], _Node())
        if segment not in self.mixed:
            self.mixed[segment] = (_segment_regex(segment), _Node())
        return self.mixed[segment][1]


def _segment_regex(segment: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^{}/]+\})", segment)
    return re.compile("".join(f"(?P<{p[1:-1]}>.+?)" if p.startswith("{") else re.escape(p) for p in parts if p))


class Router:
    """Finds the operation serving a method and path, with the path's parameters."""

    def __init__(self, operations: Mapping[str, Operation]) -> None:
        self._root = _Node()
        for op in operations.values():
            node = self._root
            for segment in op.path.split("/")[1:]:
                node = node.child(segment)
            node.operations[op.method] = op

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]]:
        """The operation and its path parameters (decoded).

        Raises:
            RequestRejected: 404 when no template matches, 405 (with `Allow`) when only the method does not.
        """
        segments = path.split("/")[1:] if path.startswith("/") else [path]
        first: _Node | None = None
        for node, params in _walk(self._root, segments, 0, {}):
            op = node.operations.get(method)
            # OpenAPI matches concrete paths before their templated counterparts: a template that only
            # generalises the first match (a parameter where it has a literal) does not take its requests
            if op is not None and (first is None or not _generalises(op.path, first.template)):
                return op, {name: unquote(value) for name, value in params.items()}
            first = first or node
        if first is not None:
            methods = ", ".join(sorted(first.operations))
            raise RequestRejected(
                405,
                "method_not_allowed",
                f"{method} is not allowed on {path}; allowed: {methods}",
                headers=(("allow", methods),),
            )
        raise RequestRejected(404, "not_found", f"no operation of this service matches {method} {path}")


def _generalises(general: str, specific: str) -> bool:
    """Whether `general` has a parameter wherever the two differ, and `specific` a literal there."""
    pairs = list(zip(general.split("/"), specific.split("/"), strict=False))
    if any("{" not in g and g != s for g, s in pairs):
        return False
    return any("{" in g and "{" not in s for g, s in pairs)


Found = tuple[_Node, dict[str, str]]


def _walk(node: _Node, segments: list[str], depth: int, params: dict[str, str]) -> Iterator[Found]:
    """Every node (with operations) the path ends on, most specific first."""
    if depth == len(segments):
        if node.operations:
            yield node, params
        return
    segment = segments[depth]
    literal = node.literals.get(segment)
    if literal is not None:
        yield from _walk(literal, segments, depth + 1, params)
    for regex, child in node.mixed.values():
        found = regex.fullmatch(segment)
        if found is not None:
            yield from _walk(child, segments, depth + 1, {**params, **found.groupdict()})
    if segment:
        for name, child in node.params.items():
            yield from _walk(child, segments, depth + 1, {**params, name: segment})
