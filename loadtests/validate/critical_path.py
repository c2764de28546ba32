"""The slowest path: Jaeger UI's critical path per trace, and its aggregate over a run.

Per trace this is exactly the algorithm of jaeger-ui's ``TracePage/CriticalPath`` (reference/otel-anchors.md §3.4):

1. each root (a span without a parent id) is processed on its own; a span whose parent is missing (an orphan) is
   dropped with its subtree, as Jaeger's clipping step drops it;
2. a CONSUMER child of a PRODUCER parent does not block it and is pruned with its subtree;
3. children are clipped to their (already clipped) parent; one wholly outside is dropped with its subtree;
4. walking backward from the root's end, the last-finishing child (greatest end strictly below the boundary, ties
   to the earliest child in list order: start time, then span id) takes the path, and its parent keeps the time
   after that child's end; with no such child a span keeps the time back to its start and hands its start to its
   parent as the new boundary.

Jaeger recurses; here the walk is a loop with one pointer per span into its children sorted by end: within one
parent the boundary only decreases, so each child list is scanned once and a trace costs O(n log n).

One deliberate difference: Jaeger tests the boundary for truthiness, so a boundary of exactly 0 (a child starting at
Unix time 0) restarts the parent's search and recurses until the stack overflows. Unix-nanosecond times never give
0; hand-made ones may, and here 0 is an ordinary boundary, so the walk ends and the sections still tile the root.

The aggregate sums each trace's sections per (service, operation) and compares the run's slowest traces (root
duration above the run's p95) with its median ones (between p40 and p60): where the tail's time goes, and whether
that differs from a typical request.
"""

from __future__ import annotations

import math
from array import array
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from loadtests.validate.spans import SpanRecord

__all__ = (
    "PathReport",
    "PathShare",
    "Section",
    "aggregate_paths",
    "critical_path",
    "group_by_trace",
    "operation_label",
    "self_times",
)

SLOW_QUANTILE = 0.95
MEDIAN_BAND = (0.40, 0.60)


class Section(msgspec.Struct, frozen=True):
    """A stretch of wall time ``[start_ns, end_ns)`` on the critical path, owned by one span."""

    span_id: str
    service: str
    name: str
    start_ns: int
    end_ns: int

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


class PathShare(msgspec.Struct, frozen=True, kw_only=True):
    """One (service, operation)'s part of the critical path over a run.

    ``share_*`` are time-weighted: the operation's critical-path time over the traces' total root time, in the
    whole run, in its slow traces and in its median traces (0 when the set holds no such time). The ``self_ms_*``
    and per-trace ``share_p*`` figures are over the ``traces_on_path`` traces where the operation has
    critical-path time at all (a Redis GET that only misses take is not averaged with zeros).
    """

    service: str
    operation: str
    share_all: float
    share_slow: float
    share_median: float
    self_ms_mean: float
    self_ms_p50: float
    self_ms_p95: float
    traces_on_path: int
    share_mean: float
    share_p50: float
    share_p95: float
    exemplar_trace_id: str | None
    """The slow trace where this operation took the most critical-path time (any trace if it is in no slow one)."""


class PathReport(msgspec.Struct, frozen=True, kw_only=True):
    traces: int
    """Traces analysed: those with at least one root that passed the filter and lasted longer than 0."""
    slow_traces: int
    median_traces: int
    p95_root_ms: float
    shares: list[PathShare]
    """Sorted by ``share_slow``, largest first."""
    sentence: str
    p50_root_ms: float = 0.0
    skipped_traces: int = 0
    """Traces without a usable root (orphans only, filtered out, or zero duration)."""


# --- one trace ----------------------------------------------------------------------------------------------------


def _order_key(span: SpanRecord) -> tuple[int, str]:
    return span.start_ns, span.span_id


class _Solved:
    """One trace's walk: the spans in list order and, per processed root, its sections as flat triples.

    ``sections`` holds ``span index, start, end`` triples in Jaeger's emission order (newest first); ``roots`` holds
    ``(root index, first triple offset, end offset)`` per root that produced sections.
    """

    __slots__ = ("order", "roots", "sections", "total_ns")

    def __init__(
        self, order: list[SpanRecord], roots: list[tuple[int, int, int]], sections: list[int], total_ns: int
    ) -> None:
        self.order = order
        self.roots = roots
        self.sections = sections
        self.total_ns = total_ns


def _solve(spans: Sequence[SpanRecord], root_filter: Callable[[SpanRecord], bool] | None) -> _Solved:
    order = sorted(spans, key=_order_key)
    n = len(order)
    # The first copy of a repeated span id wins (exporters retry); a repeat is left out of the tree.
    index = {order[i].span_id: i for i in range(n - 1, -1, -1)}
    kids: dict[int, list[int]] = {}
    parent: dict[int, int] = {}
    roots: list[int] = []
    for i, span in enumerate(order):
        if index[span.span_id] != i:
            continue
        parent_id = span.parent_id
        if parent_id is None:
            if root_filter is None or root_filter(span):
                roots.append(i)
            continue
        p = index.get(parent_id)
        if p is None or p == i:
            continue  # an orphan: dropped with its subtree
        parent[i] = p
        found = kids.get(p)
        if found is None:
            kids[p] = [i]
        else:
            found.append(i)  # spans come in list order, so children do too

    start = [0] * n
    end = [0] * n
    out_roots: list[tuple[int, int, int]] = []
    sections: list[int] = []
    total = 0
    for root in roots:
        start[root] = order[root].start_ns
        end[root] = order[root].end_ns
        by_end = _prune_and_clip(order, root, kids, start, end)
        first = len(sections)
        _walk(root, by_end, parent, start, end, sections)
        if len(sections) > first:
            out_roots.append((root, first, len(sections)))
            total += end[root] - start[root]
    return _Solved(order, out_roots, sections, total)


def _prune_and_clip(
    order: list[SpanRecord], root: int, kids: dict[int, list[int]], start: list[int], end: list[int]
) -> dict[int, list[int]]:
    """The root's blocking, clipped tree: each span's kept children sorted by end, latest first (ties: list order).

    Parents come before children, so a child is clipped to its parent's clipped extent.
    """
    by_end: dict[int, list[int]] = {}
    stack = [root]
    while stack:
        p = stack.pop()
        children = kids.get(p)
        if children is None:
            continue
        producer = order[p].kind == "producer"
        ps = start[p]
        pe = end[p]
        kept: list[int] = []
        for c in children:
            child = order[c]
            if producer and child.kind == "consumer":
                continue
            a = child.start_ns
            b = child.end_ns
            if a >= ps:
                if a >= pe:
                    continue
            else:
                if b <= ps:
                    continue
                a = ps
            if b > pe:
                b = pe
            start[c] = a
            end[c] = b
            kept.append(c)
        if kept:
            if len(kept) > 1:
                kept.sort(key=end.__getitem__, reverse=True)  # stable: ties keep list order
            by_end[p] = kept
            stack.extend(kept)
    return by_end


def _walk(
    root: int,
    by_end: dict[int, list[int]],
    parent: dict[int, int],
    start: list[int],
    end: list[int],
    sections: list[int],
) -> None:
    """Jaeger's backward walk from the root's end, appending ``span, start, end`` triples newest first."""
    pointer: dict[int, int] = {}
    current = root
    boundary: int | None = None
    while True:
        top = end[current] if boundary is None else boundary
        chosen = -1
        children = by_end.get(current)
        if children is not None:
            k = pointer.get(current, 0)
            if boundary is not None:
                count = len(children)
                while k < count and end[children[k]] >= boundary:
                    k += 1
                pointer[current] = k
            if k < len(children):
                chosen = children[k]
        if chosen >= 0:
            child_end = end[chosen]
            if child_end != top:
                sections += (current, child_end, top)
            current = chosen
            boundary = None
            continue
        own_start = start[current]
        if own_start != top:
            sections += (current, own_start, top)
        if current == root:
            return
        boundary = own_start
        current = parent[current]


def critical_path(
    spans: Sequence[SpanRecord], *, root_filter: Callable[[SpanRecord], bool] | None = None
) -> list[Section]:
    """The critical path of one trace: per root (in start order), its sections oldest first.

    The sections of each root tile ``[root.start_ns, root.end_ns]`` without gaps or overlaps. ``root_filter``
    limits the roots processed (all by default).
    """
    solved = _solve(spans, root_filter)
    order = solved.order
    flat = solved.sections
    out: list[Section] = []
    for _, first, last in solved.roots:
        for j in range(last - 3, first - 3, -3):
            span = order[flat[j]]
            out.append(Section(span.span_id, span.service, span.name, flat[j + 1], flat[j + 2]))
    return out


def self_times(sections: Iterable[Section]) -> dict[tuple[str, str], int]:
    """Critical-path time per (service, span name), in nanoseconds."""
    out: dict[tuple[str, str], int] = {}
    for section in sections:
        key = (section.service, section.name)
        out[key] = out.get(key, 0) + section.end_ns - section.start_ns
    return out


def group_by_trace(spans: Iterable[SpanRecord]) -> list[list[SpanRecord]]:
    """Spans grouped by trace id, traces in order of first appearance."""
    by_trace: dict[str, list[SpanRecord]] = {}
    for span in spans:
        found = by_trace.get(span.trace_id)
        if found is None:
            by_trace[span.trace_id] = [span]
        else:
            found.append(span)
    return list(by_trace.values())


def operation_label(span: SpanRecord) -> str:
    """A span name a reader recognises out of context: ``redis GET`` rather than ``GET``, ``cache.get l2``."""
    name = span.name
    attributes = span.attributes
    if not attributes:
        return name
    system = attributes.get("db.system.name") or attributes.get("db.system")
    if isinstance(system, str) and system and not name.lower().startswith(system.lower()):
        return f"{system} {name}"
    tier = attributes.get("cache.tier")
    if isinstance(tier, str) and tier:
        return f"{name} {tier}"
    return name


# --- a run --------------------------------------------------------------------------------------------------------


def _rank(sorted_values: Sequence[int] | Sequence[float], q: float) -> int:
    """Nearest-rank index of quantile ``q`` (a value of the data, no interpolation)."""
    return min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))


class _Operation:
    __slots__ = ("label", "self_ns", "service", "traces")

    def __init__(self, service: str, label: str) -> None:
        self.service = service
        self.label = label
        self.traces = array("q")
        self.self_ns = array("q")


def aggregate_paths(
    traces: Iterable[Sequence[SpanRecord]],
    *,
    root_filter: Callable[[SpanRecord], bool] | None = None,
) -> PathReport:
    """Critical-path shares per (service, operation) over a run, its slow traces and its median traces.

    ``root_filter`` chooses the roots that count (say, the gateway's ``POST /mcp`` server spans); by default every
    root does. A trace's duration is the sum of its chosen roots' durations (one root, normally).
    """
    operations: list[_Operation] = []
    op_index: dict[tuple[str, str], int] = {}
    durations = array("q")
    trace_ids: list[str] = []
    skipped = 0
    for spans in traces:
        solved = _solve(spans, root_filter)
        if solved.total_ns <= 0:
            skipped += 1
            continue
        order = solved.order
        flat = solved.sections
        by_span: dict[int, int] = {}
        for j in range(0, len(flat), 3):
            i = flat[j]
            by_span[i] = by_span.get(i, 0) + flat[j + 2] - flat[j + 1]
        by_op: dict[int, int] = {}
        for i, ns in by_span.items():
            span = order[i]
            key = (span.service, operation_label(span))
            k = op_index.get(key)
            if k is None:
                k = op_index[key] = len(operations)
                operations.append(_Operation(*key))
            by_op[k] = by_op.get(k, 0) + ns
        t = len(durations)
        durations.append(solved.total_ns)
        trace_ids.append(order[solved.roots[0][0]].trace_id)
        for k, ns in by_op.items():
            operation = operations[k]
            operation.traces.append(t)
            operation.self_ns.append(ns)
    return _report(operations, durations, trace_ids, skipped)


def _report(operations: list[_Operation], durations: array[int], trace_ids: list[str], skipped: int) -> PathReport:
    count = len(durations)
    if count == 0:
        return PathReport(
            traces=0,
            slow_traces=0,
            median_traces=0,
            p95_root_ms=0.0,
            shares=[],
            sentence="No trace with a usable root: no critical path to report.",
            skipped_traces=skipped,
        )
    ranked = sorted(durations)
    p95 = ranked[_rank(ranked, SLOW_QUANTILE)]
    low = ranked[_rank(ranked, MEDIAN_BAND[0])]
    high = ranked[_rank(ranked, MEDIAN_BAND[1])]
    slow = bytes(d > p95 for d in durations)
    above = any(slow)
    if not above:  # fewer than 20 traces, or ties at the top: the slowest ones are the tail
        slow = bytes(d >= p95 for d in durations)
    median = bytes(low <= d <= high for d in durations)
    total_all = sum(durations)
    total_slow = sum(d for d, s in zip(durations, slow, strict=True) if s)
    total_median = sum(d for d, m in zip(durations, median, strict=True) if m)

    shares: list[PathShare] = []
    for operation in operations:
        in_slow = in_median = 0
        best = -1
        best_exemplar = operation.traces[0]
        best_slow = False
        for t, ns in zip(operation.traces, operation.self_ns, strict=True):
            if slow[t]:
                in_slow += ns
                if not best_slow or ns > best:
                    best, best_exemplar, best_slow = ns, t, True
            elif not best_slow and ns > best:
                best, best_exemplar = ns, t
            if median[t]:
                in_median += ns
        self_sorted = sorted(operation.self_ns)
        per_trace = sorted(ns / durations[t] for t, ns in zip(operation.traces, operation.self_ns, strict=True))
        n = len(self_sorted)
        shares.append(
            PathShare(
                service=operation.service,
                operation=operation.label,
                share_all=round(sum(self_sorted) / total_all, 6),
                share_slow=round(in_slow / total_slow, 6) if total_slow else 0.0,
                share_median=round(in_median / total_median, 6) if total_median else 0.0,
                self_ms_mean=round(sum(self_sorted) / n / 1e6, 3),
                self_ms_p50=round(self_sorted[_rank(self_sorted, 0.5)] / 1e6, 3),
                self_ms_p95=round(self_sorted[_rank(self_sorted, 0.95)] / 1e6, 3),
                traces_on_path=n,
                share_mean=round(sum(per_trace) / n, 6),
                share_p50=round(per_trace[_rank(per_trace, 0.5)], 6),
                share_p95=round(per_trace[_rank(per_trace, 0.95)], 6),
                exemplar_trace_id=trace_ids[best_exemplar],
            )
        )
    shares.sort(key=lambda s: (-s.share_slow, -s.share_all, s.service, s.operation))
    return PathReport(
        traces=count,
        slow_traces=sum(slow),
        median_traces=sum(median),
        p95_root_ms=round(p95 / 1e6, 3),
        shares=shares,
        sentence=_sentence(shares[0], p95, sum(slow), above),
        p50_root_ms=round(ranked[_rank(ranked, 0.5)] / 1e6, 3),
        skipped_traces=skipped,
    )


def _percent(share: float) -> str:
    return f"{share * 100:.0f} %" if share >= 0.095 or share == 0 else f"{share * 100:.1f} %"


def _sentence(top: PathShare, p95_ns: int, slow: int, above: bool) -> str:
    where = f"{slow} {'trace' if slow == 1 else 'traces'} {'above' if above else 'at'} p95 = {p95_ns / 1e6:.1f} ms"
    return (
        f"The tail ({where}) is driven by {top.service} → {top.operation}: "
        f"{_percent(top.share_slow)} of critical-path time in those traces, vs {_percent(top.share_median)} "
        "in median traces."
    )
