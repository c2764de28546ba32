"""The read side of the store, for the validator.

Spans of a run or of a time window, traces as trees, the runs, services and operations seen, metric points.

Every function takes a store path (opened read-only for the call) or an open connection from ``connect`` (reuse it
for several queries); reading while a receiver writes is safe, and sees everything committed so far, that is
everything answered 200. Results are typed ``msgspec`` Structs (cheap to build, encode straight to JSON for
reports) and small dataclasses for the trees.

A million spans as a ``Span`` list take ~1.7 GB (events, links, scopes, an attribute dict each); a reader that needs
less, like the validator, streams ``LeanSpan`` batches instead (``iter_span_rows_of_run``,
``iter_span_rows_in_window``): the same selection and rules, only the fields it needs, nothing held but a batch.

Run membership: the load generator sends its run id as W3C baggage (``pp.run_id``) and the services copy it onto
their server spans as ``pp.run.id`` (``contract.RUN_ID``); a process may also put it on its resource. A trace
belongs to a run when any of its spans carries the id (normally its root, the gateway's server span), and then
every span of the trace belongs to the run, except one that carries a different run id.

Exporters retry a batch whose answer they did not get, so the store may hold a span twice; reads drop repeats (same
trace and span id: the first one stored wins) and repeated metric points (same series, same timestamps).
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

import msgspec

from otel.receiver.store import connect_readonly

if TYPE_CHECKING:
    import os
    from collections.abc import Generator, Iterable, Iterator

__all__ = (
    "ExponentialBuckets",
    "ExponentialHistogram",
    "LeanSpan",
    "MetricPoint",
    "MetricSeries",
    "Operation",
    "Quantile",
    "RunSummary",
    "Source",
    "Span",
    "SpanEvent",
    "SpanKind",
    "SpanLink",
    "SpanNode",
    "StatusCode",
    "Trace",
    "build_traces",
    "connect",
    "iter_span_rows_in_window",
    "iter_span_rows_of_run",
    "metric_points",
    "metrics",
    "operations",
    "runs",
    "services",
    "spans_in_window",
    "spans_of_run",
    "trace",
    "traces",
    "traces_of_run",
)

Source: TypeAlias = "str | os.PathLike[str] | sqlite3.Connection"
"""A store path, or a connection from ``connect``."""


class SpanKind:
    """OTLP ``Span.SpanKind`` values, as stored in ``Span.kind``."""

    UNSPECIFIED = 0
    INTERNAL = 1
    SERVER = 2
    CLIENT = 3
    PRODUCER = 4
    CONSUMER = 5


class StatusCode:
    """OTLP ``Status.StatusCode`` values, as stored in ``Span.status_code``."""

    UNSET = 0
    OK = 1
    ERROR = 2


class SpanEvent(msgspec.Struct, frozen=True):
    name: str
    time_ns: int
    attributes: dict[str, Any]


class SpanLink(msgspec.Struct, frozen=True):
    trace_id: str
    span_id: str
    attributes: dict[str, Any]


class Span(msgspec.Struct, frozen=True):
    """One stored span; ids are lowercase hex, times are Unix nanoseconds.

    ``resource`` is one dict shared by every span of the same resource in a result: read it, do not change it.
    """

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: int
    """A ``SpanKind`` value."""
    service_name: str
    service_instance_id: str | None
    run_id: str | None
    """The run id the span itself carries (attribute, else resource); ``None`` for the spans a run adopts."""
    start_ns: int
    end_ns: int
    duration_ns: int
    status_code: int
    """A ``StatusCode`` value."""
    status_message: str
    attributes: dict[str, Any]
    events: list[SpanEvent]
    links: list[SpanLink]
    resource: dict[str, Any]
    scope_name: str
    scope_version: str


class LeanSpan(msgspec.Struct, frozen=True, gc=False):
    """The part of a stored span that run-wide analysis reads: ids, name, kind, service, times, status, attributes.

    Spans of one read with the same attributes may share one ``attributes`` dict (most spans of a run repeat a few
    sets, decoded once): read it, do not change it. ``gc=False``: millions of these, none cyclic.
    """

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: int
    """A ``SpanKind`` value."""
    service_name: str
    start_ns: int
    end_ns: int
    status_code: int
    """A ``StatusCode`` value."""
    attributes: dict[str, Any]


class RunSummary(msgspec.Struct, frozen=True):
    run_id: str
    spans: int
    """Spans carrying the run id (server spans, typically), not counting the spans their traces adopt."""
    traces: int
    first_start_ns: int
    last_end_ns: int


class Operation(msgspec.Struct, frozen=True):
    service_name: str
    name: str
    kind: int
    spans: int
    first_start_ns: int
    last_start_ns: int


class ExponentialBuckets(msgspec.Struct, frozen=True):
    offset: int
    bucket_counts: list[int]


class ExponentialHistogram(msgspec.Struct, frozen=True):
    scale: int
    zero_count: int
    zero_threshold: float
    positive: ExponentialBuckets
    negative: ExponentialBuckets


class Quantile(msgspec.Struct, frozen=True):
    quantile: float
    value: float


class MetricPoint(msgspec.Struct, frozen=True):
    """One data point. Which value fields are set depends on ``type``.

    - ``gauge``/``sum``: ``value``;
    - ``histogram``: ``count``, ``sum`` (when sent), ``min``/``max`` (when sent), ``bucket_bounds`` and
      ``bucket_counts`` (one more count than bounds; the last bucket is ``(bounds[-1], +inf)``);
    - ``exponential_histogram``: ``count``, ``sum``, ``min``, ``max``, ``exponential``;
    - ``summary``: ``count``, ``sum``, ``quantiles``.
    """

    name: str
    unit: str
    type: str
    temporality: int | None
    """1 delta, 2 cumulative (sums and histograms); ``None`` for gauges and summaries."""
    monotonic: bool | None
    service_name: str
    service_instance_id: str | None
    run_id: str | None
    scope_name: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    start_ns: int | None
    time_ns: int
    value: float | int | None
    count: int | None
    sum: float | None
    min: float | None
    max: float | None
    bucket_bounds: list[float] | None
    bucket_counts: list[int] | None
    exponential: ExponentialHistogram | None
    quantiles: list[Quantile] | None
    flags: int


class MetricSeries(msgspec.Struct, frozen=True):
    """A metric name as stored, with its type, unit and how many points it has."""

    name: str
    type: str
    unit: str
    points: int


@dataclass(slots=True)
class SpanNode:
    """A span and its children (ordered by start time)."""

    span: Span
    children: list[SpanNode] = field(default_factory=list)

    def walk(self) -> Iterator[SpanNode]:
        """This node and every descendant, depth first, parents before children (iterative: any depth is fine)."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))


@dataclass(slots=True)
class Trace:
    """The spans of one trace as trees.

    ``roots`` has one entry when the trace is whole; more when a parent is missing (not sampled, not exported yet,
    or outside the selection), each orphan then heading its own tree.
    """

    trace_id: str
    roots: list[SpanNode]
    span_count: int

    @property
    def root(self) -> SpanNode:
        """The earliest root: the trace's entry point when the trace is whole."""
        return self.roots[0]

    @property
    def start_ns(self) -> int:
        return min(node.span.start_ns for node in self.roots)

    @property
    def end_ns(self) -> int:
        return max(node.span.end_ns for node in self.walk())

    @property
    def complete(self) -> bool:
        return len(self.roots) == 1 and self.roots[0].span.parent_span_id is None

    def walk(self) -> Iterator[SpanNode]:
        for root in self.roots:
            yield from root.walk()


# --- connections ------------------------------------------------------------------------------------------------


def connect(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A read-only connection to the store at ``path`` (``StoreError`` when it is missing or not a store)."""
    return connect_readonly(path)


@contextlib.contextmanager
def _connection(source: Source) -> Iterator[sqlite3.Connection]:
    if isinstance(source, sqlite3.Connection):
        yield source
        return
    conn = connect_readonly(source)
    try:
        yield conn
    finally:
        conn.close()


# --- spans ------------------------------------------------------------------------------------------------------

_SPAN_SELECT = """
SELECT s.trace_id, s.span_id, s.parent_span_id, s.name, s.kind, s.service_name, s.service_instance_id, s.run_id,
       s.start_ns, s.end_ns, s.duration_ns, s.status_code, s.status_message, s.attributes, s.events, s.links,
       s.resource_id, s.scope_name, s.scope_version
"""

_RUN_TRACES = "SELECT DISTINCT trace_key, trace_id FROM spans WHERE run_id = ?1"
"""The traces of run ``?1``: those with a span that carries its id (through the partial index on ``run_id``)."""

_decode_object = msgspec.json.Decoder(dict[str, Any]).decode
_decode_events = msgspec.json.Decoder(list[SpanEvent]).decode
_decode_links = msgspec.json.Decoder(list[SpanLink]).decode
_EMPTY: dict[str, Any] = {}


class _Resources:
    """Resource attributes by id, each decoded once per query (a store holds a handful of resources)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._cache: dict[int, dict[str, Any]] = {}

    def __call__(self, resource_id: int) -> dict[str, Any]:
        found = self._cache.get(resource_id)
        if found is None:
            row = self._conn.execute("SELECT attributes FROM resources WHERE resource_id = ?", (resource_id,))
            text = row.fetchone()
            found = _decode_object(text[0]) if text else {}
            self._cache[resource_id] = found
        return found


def _spans(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[Span]:
    resources = _Resources(conn)
    seen: set[tuple[str, str]] = set()
    out: list[Span] = []
    for row in conn.execute(sql, params):
        (trace_id, span_id, parent, name, kind, service, instance, run_id, start, end, duration, code, message) = row[
            :13
        ]
        if (trace_id, span_id) in seen:
            continue
        seen.add((trace_id, span_id))
        attributes, events, links, resource_id, scope_name, scope_version = row[13:]
        out.append(
            Span(
                trace_id=trace_id,
                span_id=span_id,
                parent_span_id=parent,
                name=name,
                kind=kind,
                service_name=service,
                service_instance_id=instance,
                run_id=run_id,
                start_ns=start,
                end_ns=end,
                duration_ns=duration,
                status_code=code,
                status_message=message,
                attributes=_decode_object(attributes) if attributes != "{}" else {},
                events=_decode_events(events) if events != "[]" else [],
                links=_decode_links(links) if links != "[]" else [],
                resource=resources(resource_id),
                scope_name=scope_name,
                scope_version=scope_version,
            )
        )
    return out


def _run_sql(select: str) -> str:
    """``select``'s columns of every span of run ``?1``'s traces (see the module docstring), in start order."""
    return f"""
        WITH run_traces AS ({_RUN_TRACES})
        {select}
        FROM run_traces AS r JOIN spans AS s ON s.trace_key = r.trace_key AND s.trace_id = r.trace_id
        WHERE s.run_id IS NULL OR s.run_id = ?1
        ORDER BY s.start_ns, s.rowid
    """


def _window_sql(select: str, service: str | None) -> str:
    """``select``'s columns of the spans started in ``[?1, ?2)`` (of service ``?3`` when given), in start order."""
    sql = f"{select} FROM spans AS s WHERE s.start_ns >= ?1 AND s.start_ns < ?2"
    if service is not None:
        sql += " AND s.service_name = ?3"
    return sql + " ORDER BY s.start_ns, s.rowid"


def _window_params(start_ns: int, end_ns: int, service: str | None) -> tuple[Any, ...]:
    return (start_ns, end_ns) if service is None else (start_ns, end_ns, service)


def spans_of_run(source: Source, run_id: str) -> list[Span]:
    """Every span of the run's traces (see the module docstring), ordered by start time."""
    with _connection(source) as conn:
        return _spans(conn, _run_sql(_SPAN_SELECT), (run_id,))


def spans_in_window(source: Source, start_ns: int, end_ns: int, *, service: str | None = None) -> list[Span]:
    """Spans that started in ``[start_ns, end_ns)``, optionally of one service, ordered by start time.

    A window cuts traces at its edges; use ``traces`` with the ids found to get them whole.
    """
    with _connection(source) as conn:
        return _spans(conn, _window_sql(_SPAN_SELECT, service), _window_params(start_ns, end_ns, service))


# --- spans, lean and streamed -------------------------------------------------------------------------------------

_LEAN_SELECT = """
SELECT s.trace_id, s.span_id, s.parent_span_id, s.name, s.kind, s.service_name, s.start_ns, s.end_ns, s.status_code,
       s.attributes
"""
_ATTRIBUTE_CACHE = 4096
"""Distinct attribute texts kept decoded at a time. A run repeats a few hundred (a cache lookup, a Redis command,
a route) on most of its spans; the rest (request ids) are each seen once, and only make the cache start over."""


class _FirstCopies:
    """Whether a (trace id, span id) is new in a read: the first copy wins, as in ``_spans``.

    Keyed by span id alone (a span id two traces share goes to a small set), so a million spans need no million
    key tuples.
    """

    def __init__(self) -> None:
        self._trace_of: dict[str, str] = {}
        self._shared: set[tuple[str, str]] = set()

    def first(self, trace_id: str, span_id: str) -> bool:
        seen = self._trace_of.get(span_id)
        if seen is None:
            self._trace_of[span_id] = trace_id
            return True
        if seen == trace_id:
            return False
        if (trace_id, span_id) in self._shared:
            return False
        self._shared.add((trace_id, span_id))
        return True


def _lean_batches(
    source: Source, sql: str, params: tuple[Any, ...], batch_size: int
) -> Generator[list[LeanSpan], None, None]:
    with _connection(source) as conn:
        cursor = conn.execute(sql, params)
        try:
            first = _FirstCopies().first
            decoded: dict[str, dict[str, Any]] = {}
            while rows := cursor.fetchmany(batch_size):
                batch: list[LeanSpan] = []
                for trace_id, span_id, parent, name, kind, service, start, end, code, text in rows:
                    if not first(trace_id, span_id):
                        continue
                    attributes = decoded.get(text)
                    if attributes is None:
                        if len(decoded) >= _ATTRIBUTE_CACHE:
                            decoded.clear()
                        attributes = decoded[text] = _decode_object(text)
                    batch.append(LeanSpan(trace_id, span_id, parent, name, kind, service, start, end, code, attributes))
                if batch:
                    yield batch
        finally:
            cursor.close()


def _check_batch_size(batch_size: int) -> None:
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")


def iter_span_rows_of_run(
    source: Source, run_id: str, *, batch_size: int = 4096
) -> Generator[list[LeanSpan], None, None]:
    """``spans_of_run`` as ``LeanSpan`` batches: the same spans, in the same order.

    A batch holds at most ``batch_size`` spans (fewer where repeats were dropped). The query runs, and a path is
    opened, when the first batch is asked for; the connection is released when the iterator ends or is closed.
    """
    _check_batch_size(batch_size)
    return _lean_batches(source, _run_sql(_LEAN_SELECT), (run_id,), batch_size)


def iter_span_rows_in_window(
    source: Source, start_ns: int, end_ns: int, *, service: str | None = None, batch_size: int = 4096
) -> Generator[list[LeanSpan], None, None]:
    """``spans_in_window`` as ``LeanSpan`` batches, like ``iter_span_rows_of_run``."""
    _check_batch_size(batch_size)
    sql = _window_sql(_LEAN_SELECT, service)
    return _lean_batches(source, sql, _window_params(start_ns, end_ns, service), batch_size)


def _trace_spans(conn: sqlite3.Connection, trace_ids: Iterable[str]) -> list[Span]:
    out: list[Span] = []
    sql = f"{_SPAN_SELECT} FROM spans AS s WHERE s.trace_key = ?1 AND s.trace_id = ?2 ORDER BY s.start_ns, s.rowid"
    for trace_id in dict.fromkeys(trace_id.lower() for trace_id in trace_ids):
        try:
            key = int.from_bytes(bytes.fromhex(trace_id)[8:], "big", signed=True)
        except ValueError:
            continue
        out.extend(_spans(conn, sql, (key, trace_id)))
    return out


def traces(source: Source, trace_ids: Iterable[str]) -> list[Trace]:
    """Whole traces by hex id, in the order given (unknown or malformed ids are skipped)."""
    with _connection(source) as conn:
        by_id = {found.trace_id: found for found in build_traces(_trace_spans(conn, trace_ids))}
    return [by_id[trace_id.lower()] for trace_id in trace_ids if trace_id.lower() in by_id]


def trace(source: Source, trace_id: str) -> Trace | None:
    """One whole trace by hex id, or ``None``."""
    found = traces(source, [trace_id])
    return found[0] if found else None


def traces_of_run(source: Source, run_id: str) -> list[Trace]:
    """The run's traces as trees, ordered by start time."""
    return build_traces(spans_of_run(source, run_id))


def build_traces(spans: Iterable[Span]) -> list[Trace]:
    """Group spans into trees by trace, children and traces ordered by start time.

    A span whose parent is not among ``spans`` becomes a root. A repeated span id (a retried export) is kept once.
    """
    by_trace: dict[str, dict[str, SpanNode]] = {}
    for span in spans:
        nodes = by_trace.setdefault(span.trace_id, {})
        if span.span_id not in nodes:
            nodes[span.span_id] = SpanNode(span)
    out: list[Trace] = []
    for trace_id, nodes in by_trace.items():
        roots: list[SpanNode] = []
        for node in nodes.values():
            parent_id = node.span.parent_span_id
            parent = nodes.get(parent_id) if parent_id is not None else None
            if parent is None or parent is node:
                roots.append(node)
            else:
                parent.children.append(node)
        for node in nodes.values():
            node.children.sort(key=_start_order)
        _break_cycles(nodes, roots)
        roots.sort(key=_start_order)
        out.append(Trace(trace_id, roots, len(nodes)))
    out.sort(key=lambda found: (found.start_ns, found.trace_id))
    return out


def _break_cycles(nodes: dict[str, SpanNode], roots: list[SpanNode]) -> None:
    """Make every span reachable from a root, so that walks end and no span is lost.

    A cycle of parent ids (malformed input) is cut at its earliest span, which becomes a root.
    """
    reached = {id(node) for root in roots for node in root.walk()}
    while len(reached) < len(nodes):
        head = min((node for node in nodes.values() if id(node) not in reached), key=_start_order)
        parent_id = head.span.parent_span_id
        if parent_id is not None and parent_id in nodes:
            nodes[parent_id].children.remove(head)
        roots.append(head)
        reached.update(id(node) for node in head.walk())


def _start_order(node: SpanNode) -> tuple[int, str]:
    return node.span.start_ns, node.span.span_id


# --- runs, services, operations ---------------------------------------------------------------------------------


def runs(source: Source) -> list[RunSummary]:
    """The run ids in the store, with their extent, most recent first."""
    sql = """
        SELECT run_id, count(*), count(DISTINCT trace_id), min(start_ns), max(end_ns)
        FROM spans WHERE run_id IS NOT NULL GROUP BY run_id ORDER BY min(start_ns) DESC
    """
    with _connection(source) as conn:
        return [RunSummary(*row) for row in conn.execute(sql)]


def services(source: Source) -> list[str]:
    """Service names that sent spans, sorted."""
    with _connection(source) as conn:
        return [row[0] for row in conn.execute("SELECT DISTINCT service_name FROM operations ORDER BY 1")]


def operations(source: Source, *, service: str | None = None, run_id: str | None = None) -> list[Operation]:
    """(service, span name, kind) with span counts, sorted; all time from a summary table, or one run's."""
    with _connection(source) as conn:
        if run_id is None:
            sql = "SELECT service_name, name, kind, span_count, first_start_ns, last_start_ns FROM operations"
            params: tuple[Any, ...] = ()
            if service is not None:
                sql += " WHERE service_name = ?"
                params = (service,)
            found = [Operation(*row) for row in conn.execute(sql + " ORDER BY 1, 2, 3", params)]
        else:
            sql = f"""
                WITH run_traces AS ({_RUN_TRACES})
                SELECT s.service_name, s.name, s.kind, count(DISTINCT s.span_id), min(s.start_ns), max(s.start_ns)
                FROM run_traces AS r JOIN spans AS s ON s.trace_key = r.trace_key AND s.trace_id = r.trace_id
                WHERE (s.run_id IS NULL OR s.run_id = ?1) AND (?2 IS NULL OR s.service_name = ?2)
                GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
            """
            found = [Operation(*row) for row in conn.execute(sql, (run_id, service))]
    return found


# --- metrics ----------------------------------------------------------------------------------------------------

_POINT_SELECT = """
SELECT name, unit, type, temporality, monotonic, service_name, service_instance_id, run_id, scope_name, attributes,
       resource_id, start_ns, time_ns, value, count, sum, min, max, bucket_bounds, bucket_counts, exponential,
       quantiles, flags
FROM metric_points
"""
_decode_floats = msgspec.json.Decoder(list[float]).decode
_decode_ints = msgspec.json.Decoder(list[int]).decode
_decode_exponential = msgspec.json.Decoder(ExponentialHistogram).decode
_decode_quantiles = msgspec.json.Decoder(list[Quantile]).decode


def metrics(source: Source) -> list[MetricSeries]:
    """The metric names in the store, with type, unit and stored point count (repeats included), sorted."""
    sql = "SELECT name, type, unit, count(*) FROM metric_points GROUP BY name, type, unit ORDER BY 1, 2, 3"
    with _connection(source) as conn:
        return [MetricSeries(*row) for row in conn.execute(sql)]


def metric_points(
    source: Source,
    name: str,
    *,
    start_ns: int | None = None,
    end_ns: int | None = None,
    service: str | None = None,
    run_id: str | None = None,
) -> list[MetricPoint]:
    """Points of metric ``name`` with ``time_ns`` in ``[start_ns, end_ns)`` (either bound optional), ordered by time.

    ``run_id`` keeps the points that carry that run id (attribute or resource); the services' metrics carry none,
    so select theirs by the run's time window (``runs``).
    """
    clauses = ["name = ?"]
    params: list[Any] = [name]
    for clause, value in (
        ("time_ns >= ?", start_ns),
        ("time_ns < ?", end_ns),
        ("service_name = ?", service),
        ("run_id = ?", run_id),
    ):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    sql = f"{_POINT_SELECT} WHERE {' AND '.join(clauses)} ORDER BY time_ns, rowid"
    out: list[MetricPoint] = []
    seen: set[tuple[Any, ...]] = set()
    with _connection(source) as conn:
        resources = _Resources(conn)
        for row in conn.execute(sql, params):
            key = (row[6], row[9], row[10], row[11], row[12])  # instance, attributes, resource, start, time
            if key in seen:
                continue
            seen.add(key)
            out.append(_point(row, resources))
    return out


def _point(row: tuple[Any, ...], resources: _Resources) -> MetricPoint:
    bounds, counts, exponential, quantiles = row[18], row[19], row[20], row[21]
    return MetricPoint(
        name=row[0],
        unit=row[1],
        type=row[2],
        temporality=row[3],
        monotonic=None if row[4] is None else bool(row[4]),
        service_name=row[5],
        service_instance_id=row[6],
        run_id=row[7],
        scope_name=row[8],
        attributes=_decode_object(row[9]) if row[9] != "{}" else {},
        resource=resources(row[10]),
        start_ns=row[11],
        time_ns=row[12],
        value=row[13],
        count=row[14],
        sum=row[15],
        min=row[16],
        max=row[17],
        bucket_bounds=_decode_floats(bounds) if bounds is not None else None,
        bucket_counts=_decode_ints(counts) if counts is not None else None,
        exponential=_decode_exponential(exponential) if exponential is not None else None,
        quantiles=_decode_quantiles(quantiles) if quantiles is not None else None,
        flags=row[22],
    )
