"""The service dependency map: who calls which operation of whom, how often, how well, how fast.

Calls come from two sources, each a list of `Call`:
- traces (`calls_from_spans`): every client span a service exported names the caller (its
  service), the callee (`peer.service`), the operation (`rpc.method`), the status and the
  time the call took, retries included as calls of their own;
- the mocks' journals (`calls_from_journals`): every request a mock received; its caller is
  the service whose client span the request's `traceparent` names, when the trace is known,
  else `unknown`. A request no contract operation matched keeps its method and path.
`build` folds them into edges (caller, callee, operation: calls, rate, error share, p50,
p99) and nodes (discovered through the config service, or only seen in the traffic), and
flags every edge its callee's contract does not document: an operation the contract lacks,
or a callee without a contract. `render` draws the map with Graphviz (`dot`: Debian's
`graphviz` package); `harness map` is the command.
"""

from __future__ import annotations

import math
import shutil
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.traces import SpanRecord

UNKNOWN = "unknown"


@dataclass(frozen=True)
class Call:
    """One request from `caller` to `service`'s `operation` (None when no contract operation matched)."""

    caller: str
    service: str
    operation: str | None
    at: float  # seconds since the epoch
    status: int | None  # None: no answer (a timeout, a dropped connection)
    error: bool
    duration_ms: float | None = None
    target: str = ""  # METHOD path, for a request no operation matched
    span_id: str | None = None  # the caller's client span, where a trace names it


@dataclass
class Edge:
    """Every call of one caller to one operation of one service, summed up."""

    caller: str
    service: str
    operation: str
    calls: int
    rate_per_second: float
    error_share: float
    p50_ms: float | None
    p99_ms: float | None
    in_contract: bool
    why: str = ""  # what the flag means, when not in the contract


@dataclass
class DependencyMap:
    """Nodes, edges and the flagged edges, over `window_seconds` of traffic."""

    window_seconds: float
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    @property
    def flagged(self) -> list[Edge]:
        """Edges seen in the traffic that the callee's contract does not document."""
        return [e for e in self.edges if not e.in_contract]

    def as_dict(self) -> dict[str, Any]:
        """The map as `harness map` prints it."""
        return {
            "window_seconds": round(self.window_seconds, 3),
            "nodes": self.nodes,
            "edges": [asdict(e) for e in self.edges],
            "flagged": [f"{e.caller} -> {e.service} {e.operation}: {e.why}" for e in self.flagged],
        }


def calls_from_spans(spans: Iterable[SpanRecord]) -> list[Call]:
    """The client spans' calls (a span without `peer.service` is not a call to another service)."""
    calls = []
    for span in spans:
        peer = span.attributes.get("peer.service")
        if span.kind != "client" or not peer:
            continue
        status = span.attributes.get("http.response.status_code")
        code = int(status) if status is not None else None
        calls.append(
            Call(
                caller=span.service,
                service=str(peer),
                operation=str(span.attributes.get("rpc.method") or "") or None,
                at=span.start_ns / 1e9,
                status=code,
                error=span.status == "error" or code is None or code >= 500,
                duration_ms=span.duration_ms,
                target=f"{span.attributes.get('http.request.method', '')} {span.attributes.get('url.full', '')}",
                span_id=span.span_id,
            )
        )
    return calls


def calls_from_journals(journals: Mapping[str, Sequence[Mapping[str, Any]]], spans: Iterable[SpanRecord]) -> list[Call]:
    """The mocks' received requests; callers from the traces where a request's parent span is known."""
    callers = {s.span_id: s.service for s in spans}
    calls = []
    for service, entries in journals.items():
        for entry in entries:
            trace = entry.get("trace")
            caller = callers.get(trace["parent_span_id"], UNKNOWN) if trace else UNKNOWN
            status = entry.get("status")
            calls.append(
                Call(
                    caller=caller,
                    service=service,
                    operation=entry.get("operation_id"),
                    at=float(entry["at"]),
                    status=status,
                    error=status is None or status >= 500,
                    target=f"{entry['method']} {entry['path']}",
                    span_id=trace["parent_span_id"] if trace else None,
                )
            )
    return calls


def _percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile (None without values)."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(share * len(ordered)) - 1)], 3)


def build(
    calls: Sequence[Call],
    contracts: Mapping[str, set[str]],
    discovered: Iterable[str] = (),
    window_seconds: float | None = None,
) -> DependencyMap:
    """The map of `calls`; `contracts`: each service's documented operations; `discovered`: the config service's."""
    if window_seconds is None:
        times = [c.at for c in calls]
        window_seconds = max(times) - min(times) if len(times) > 1 else 0.0
    window = max(window_seconds, 1e-9)
    grouped: dict[tuple[str, str, str], list[Call]] = defaultdict(list)
    for call in calls:
        grouped[(call.caller, call.service, call.operation or call.target)].append(call)
    result = DependencyMap(window_seconds)
    for name in sorted(discovered):
        result.nodes[name] = {"discovered": True, "contract": name in contracts}
    for (caller, service, operation), group in sorted(grouped.items()):
        for name in (caller, service):
            result.nodes.setdefault(name, {"discovered": False, "contract": name in contracts})
        documented = contracts.get(service)
        matched = group[0].operation is not None
        if documented is None:
            in_contract, why = False, f"{service} has no contract"
        elif not matched or operation not in documented:
            in_contract, why = False, f"{service}'s contract has no operation {operation!r}"
        else:
            in_contract, why = True, ""
        durations = [c.duration_ms for c in group if c.duration_ms is not None]
        result.edges.append(
            Edge(
                caller=caller,
                service=service,
                operation=operation,
                calls=len(group),
                rate_per_second=round(len(group) / window, 3) if window_seconds > 0 else float(len(group)),
                error_share=round(sum(c.error for c in group) / len(group), 4),
                p50_ms=_percentile(durations, 0.50),
                p99_ms=_percentile(durations, 0.99),
                in_contract=in_contract,
                why=why,
            )
        )
    return result


def merge(traced: Sequence[Call], journaled: Sequence[Call]) -> list[Call]:
    """Calls from both sources, each once: a journaled call whose client span the traces hold is that span's.

    A traced call has a duration; the callee's journal entry of the same call (its
    `traceparent` names the client span) adds nothing. Every other journal entry is kept: an
    untraced caller's, or one whose span a sampler or a full export queue left out.
    """
    spans = {c.span_id for c in traced}
    return [*traced, *(c for c in journaled if c.span_id is None or c.span_id not in spans)]


def dot_source(dependency_map: DependencyMap) -> Any:
    """The map as a `graphviz.Digraph` (flagged edges red and dashed, undiscovered nodes dashed)."""
    import graphviz  # type: ignore[import-untyped]

    graph = graphviz.Digraph("dependencies", graph_attr={"rankdir": "LR", "fontname": "Helvetica"})
    graph.attr("node", shape="box", style="rounded", fontname="Helvetica", fontsize="11")
    graph.attr("edge", fontname="Helvetica", fontsize="9")
    for name, node in dependency_map.nodes.items():
        style = "rounded" if node["discovered"] or name == UNKNOWN else "rounded,dashed"
        graph.node(name, name, style=style)
    for edge in dependency_map.edges:
        label = f"{edge.operation}\n{edge.calls} calls, {edge.rate_per_second:g}/s, {edge.error_share:.0%} errors"
        if edge.p99_ms is not None:
            label += f"\np50 {edge.p50_ms:g} ms, p99 {edge.p99_ms:g} ms"
        if edge.in_contract:
            graph.edge(edge.caller, edge.service, label=label)
        else:
            graph.edge(edge.caller, edge.service, label=f"{label}\nNOT IN CONTRACT", color="red", style="dashed")
    return graph


def render(dependency_map: DependencyMap, target: Path) -> Path:
    """Draw the map into `target` (.svg or .png) with Graphviz's `dot`; UsageError without it."""
    fmt = target.suffix.lstrip(".").lower()
    if fmt not in ("svg", "png"):
        raise UsageError(f"{target}: the map is drawn as .svg or .png")
    if shutil.which("dot") is None:
        raise UsageError("drawing the map needs Graphviz's dot: apt-get install graphviz (or brew install graphviz)")
    data = dot_source(dependency_map).pipe(format=fmt)
    target.write_bytes(data)
    return target


__all__ = [
    "Call",
    "DependencyMap",
    "Edge",
    "build",
    "calls_from_journals",
    "calls_from_spans",
    "dot_source",
    "merge",
    "render",
]
