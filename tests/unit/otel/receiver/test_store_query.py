"""The store and its read API: run membership, trees, repeats, windows, operations, metric points, versions."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

import pytest
from opentelemetry.proto.metrics.v1.metrics_pb2 import Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from otel.receiver import query
from otel.receiver.rows import POINT_COLUMNS, SPAN_COLUMNS
from otel.receiver.store import SCHEMA_VERSION, SpanStore, StoreError
from tests.unit.otel.receiver import make

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

SERVER = Span.SPAN_KIND_SERVER
A, B, C = make.trace_id(0xA), make.trace_id(0xB), make.trace_id(0xC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[SpanStore, Path]]:
    path = tmp_path / "store.sqlite3"
    opened = SpanStore(path)
    try:
        yield opened, path
    finally:
        opened.close()


def write_runs(store: SpanStore) -> None:
    """Trace A belongs to run r1 through its root; B is r2's; C carries no run id at all."""
    gateway = make.traces(
        make.span("POST /mcp", A, make.span_id(1), start=100, duration=50, kind=SERVER, pp__run__id="r1"),
        make.span("tools/call x", A, make.span_id(2), make.span_id(1), start=110, duration=30),
        make.span("POST /mcp", B, make.span_id(3), start=200, duration=50, kind=SERVER, pp__run__id="r2"),
        make.span("GET /health", C, make.span_id(4), start=300, duration=5, kind=SERVER),
        service="pp-gateway",
    )
    retrieval = make.traces(
        make.span("POST /v1/search", A, make.span_id(5), make.span_id(2), start=120, duration=10, kind=SERVER),
        make.span("stray", A, make.span_id(6), make.span_id(2), start=125, duration=1, pp__run__id="r9"),
        service="pp-retrieval",
    )
    store.write([make.span_batch(gateway)])
    store.write([make.span_batch(retrieval)])


def test_table_columns_follow_the_row_order(store: tuple[SpanStore, Path]) -> None:
    conn = sqlite3.connect(store[1])
    assert tuple(row[1] for row in conn.execute("PRAGMA table_info(spans)")) == SPAN_COLUMNS
    assert tuple(row[1] for row in conn.execute("PRAGMA table_info(metric_points)")) == POINT_COLUMNS
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_run_is_its_traces(store: tuple[SpanStore, Path]) -> None:
    write_runs(store[0])
    spans = query.spans_of_run(store[1], "r1")
    # The root carries r1; its children in both services are adopted; the span carrying r9 is not r1's.
    assert [(span.name, span.service_name, span.run_id) for span in spans] == [
        ("POST /mcp", "pp-gateway", "r1"),
        ("tools/call x", "pp-gateway", None),
        ("POST /v1/search", "pp-retrieval", None),
    ]
    assert [span.name for span in query.spans_of_run(store[1], "r2")] == ["POST /mcp"]
    assert query.spans_of_run(store[1], "nope") == []
    (found,) = query.traces_of_run(store[1], "r1")
    assert [node.span.name for node in found.walk()] == ["POST /mcp", "tools/call x", "POST /v1/search"]
    runs = {run.run_id: run for run in query.runs(store[1])}
    assert set(runs) == {"r1", "r2", "r9"}
    assert (runs["r1"].spans, runs["r1"].traces, runs["r1"].first_start_ns, runs["r1"].last_end_ns) == (1, 1, 100, 150)


def test_whole_traces_by_id(store: tuple[SpanStore, Path]) -> None:
    write_runs(store[0])
    found = query.trace(store[1], A.hex().upper())  # ids are matched case-insensitively
    assert found is not None and found.complete and found.span_count == 4
    assert found.root.span.name == "POST /mcp"
    (tool,) = found.root.children
    assert [child.span.name for child in tool.children] == ["POST /v1/search", "stray"]  # by start time
    assert (found.start_ns, found.end_ns) == (100, 150)
    assert [t.trace_id for t in query.traces(store[1], [C.hex(), "zz", make.trace_id(99).hex(), A.hex()])] == [
        C.hex(),
        A.hex(),
    ]
    assert query.trace(store[1], make.trace_id(99).hex()) is None


def test_repeated_exports_are_read_once(store: tuple[SpanStore, Path]) -> None:
    request = make.traces(make.span("POST /mcp", A, make.span_id(1), pp__run__id="r1"))
    store[0].write([make.span_batch(request)])
    store[0].write([make.span_batch(request)])  # an exporter retry after a lost answer
    assert len(query.spans_of_run(store[1], "r1")) == 1
    assert query.trace(store[1], A.hex()) is not None
    assert [op.spans for op in query.operations(store[1], run_id="r1")] == [1]


def test_build_traces_with_missing_parents_and_cycles() -> None:
    def span(ident: int, parent: int | None, start: int) -> query.Span:
        return query.Span(
            trace_id="t",
            span_id=str(ident),
            parent_span_id=None if parent is None else str(parent),
            name=f"s{ident}",
            kind=1,
            service_name="x",
            service_instance_id=None,
            run_id=None,
            start_ns=start,
            end_ns=start + 10,
            duration_ns=10,
            status_code=0,
            status_message="",
            attributes={},
            events=[],
            links=[],
            resource={},
            scope_name="",
            scope_version="",
        )

    (orphans,) = query.build_traces([span(3, 2, 30), span(4, 9, 5), span(5, 3, 40), span(5, 3, 40)])
    assert not orphans.complete
    assert [root.span.span_id for root in orphans.roots] == ["4", "3"]  # parents 9 and 2 are not there
    assert orphans.span_count == 3 and [node.span.span_id for node in orphans.walk()] == ["4", "3", "5"]
    (cycle,) = query.build_traces([span(1, 2, 10), span(2, 1, 20), span(3, 2, 30), span(7, None, 50)])
    assert [node.span.span_id for node in cycle.walk()] == ["1", "2", "3", "7"]


def test_time_windows(store: tuple[SpanStore, Path]) -> None:
    write_runs(store[0])
    assert [span.start_ns for span in query.spans_in_window(store[1], 110, 200)] == [110, 120, 125]  # [start, end)
    assert [span.name for span in query.spans_in_window(store[1], 0, 10**6, service="pp-retrieval")] == [
        "POST /v1/search",
        "stray",
    ]


def test_services_and_operations(store: tuple[SpanStore, Path]) -> None:
    write_runs(store[0])
    write_runs(store[0])
    assert query.services(store[1]) == ["pp-gateway", "pp-retrieval"]
    gateway = query.operations(store[1], service="pp-gateway")
    assert [(op.name, op.kind, op.spans, op.first_start_ns, op.last_start_ns) for op in gateway] == [
        ("GET /health", 2, 2, 300, 300),
        ("POST /mcp", 2, 4, 100, 200),
        ("tools/call x", 1, 2, 110, 110),
    ]
    run = query.operations(store[1], run_id="r1", service="pp-retrieval")
    assert [(op.name, op.spans) for op in run] == [("POST /v1/search", 1)]


def test_metric_points(store: tuple[SpanStore, Path]) -> None:
    def gauge(value: int, time: int, **attrs: str) -> Metric:
        point = NumberDataPoint(time_unix_nano=time, as_int=value, attributes=make.attrs(attrs))
        return Metric(name="g", unit="1", gauge=Gauge(data_points=[point]))

    histogram = HistogramDataPoint(time_unix_nano=20, count=2, sum=0.3, explicit_bounds=[0.2], bucket_counts=[1, 1])
    first = make.metrics(gauge(1, 10, k="a"), Metric(name="h", histogram=Histogram(data_points=[histogram])))
    second = make.metrics(gauge(2, 20, k="a"), gauge(3, 30, k="b"), service="other", resource={"pp.run.id": "r1"})
    store[0].write([make.metric_batch(first), make.metric_batch(second), make.metric_batch(second)])
    path = store[1]
    assert [p.value for p in query.metric_points(path, "g")] == [1, 2, 3]  # the repeated request is read once
    assert [p.value for p in query.metric_points(path, "g", start_ns=20, end_ns=30)] == [2]
    assert [p.value for p in query.metric_points(path, "g", service="other")] == [2, 3]
    assert [p.value for p in query.metric_points(path, "g", run_id="r1")] == [2, 3]
    (point,) = query.metric_points(path, "h")
    assert (point.type, point.count, point.sum, point.bucket_bounds, point.bucket_counts) == (
        "histogram",
        2,
        0.3,
        [0.2],
        [1, 1],
    )
    assert point.resource == {"service.name": "svc"}
    stored = [(s.name, s.type, s.points) for s in query.metrics(path)]
    assert stored == [("g", "gauge", 5), ("h", "histogram", 1)]  # rows as stored, the repeat included


def test_a_reader_sees_later_commits(store: tuple[SpanStore, Path]) -> None:
    conn = query.connect(store[1])
    try:
        assert query.runs(conn) == []
        write_runs(store[0])
        assert {run.run_id for run in query.runs(conn)} == {"r1", "r2", "r9"}
        with pytest.raises(sqlite3.OperationalError):
            conn.execute("DELETE FROM spans")  # read-only
    finally:
        conn.close()


def test_missing_foreign_and_newer_stores_are_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no store"):
        query.connect(tmp_path / "missing.sqlite3")
    (tmp_path / "text.sqlite3").write_text("not a database, just text that is long enough " * 100)
    with pytest.raises(StoreError):
        query.connect(tmp_path / "text.sqlite3")
    newer = tmp_path / "newer.sqlite3"
    with sqlite3.connect(newer) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="schema 99"):
        SpanStore(newer)
    with pytest.raises(StoreError, match="schema 99"):
        query.connect(newer)


def test_reopening_appends(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    for _ in range(2):
        store = SpanStore(path)
        store.write([make.span_batch(make.traces(make.span("x", make.trace_id(), make.span_id())))])
        store.close()
    assert len(query.spans_in_window(path, 0, 2**62)) == 2
    assert not path.with_name(path.name + "-wal").exists() or path.with_name(path.name + "-wal").stat().st_size == 0


# --- the lean, streamed read ------------------------------------------------------------------------------------


def lean(span: query.Span) -> query.LeanSpan:
    return query.LeanSpan(
        trace_id=span.trace_id,
        span_id=span.span_id,
        parent_span_id=span.parent_span_id,
        name=span.name,
        kind=span.kind,
        service_name=span.service_name,
        start_ns=span.start_ns,
        end_ns=span.end_ns,
        status_code=span.status_code,
        attributes=span.attributes,
    )


def streamed(batches: Iterator[list[query.LeanSpan]], batch_size: int) -> list[query.LeanSpan]:
    out: list[query.LeanSpan] = []
    for batch in batches:
        assert 0 < len(batch) <= batch_size
        out.extend(batch)
    return out


def write_awkward_runs(store: SpanStore) -> None:
    """``write_runs`` and the cases a read must get right beyond it.

    Trace D belongs to r1 through its resource; trace E carries no run id, although one of its spans shares a span
    id with a span of A; A's request is sent twice (a retry); span 7 of D is stored twice with different start
    times (a malformed repeat: the one earlier in start order wins, although stored last); a span of D errs.
    """
    write_runs(store)
    failed = make.span("job step", D, make.span_id(8), make.span_id(7), start=420, kind=Span.SPAN_KIND_CONSUMER)
    failed.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message="boom"))
    run_d = make.traces(
        make.span("batch job", D, make.span_id(7), start=410, duration=50, kind=Span.SPAN_KIND_PRODUCER, n=1),
        failed,
        service="pp-batch",
        resource={"pp.run.id": "r1"},
    )
    late_copy = make.traces(make.span("batch job", D, make.span_id(7), start=405, n=2), resource={"pp.run.id": "r1"})
    other = make.traces(make.span("elsewhere", E, make.span_id(2), start=115, pp__scenario="x"), service="pp-other")
    retried = make.traces(
        make.span("POST /mcp", A, make.span_id(1), start=100, duration=50, kind=SERVER, pp__run__id="r1"),
        service="pp-gateway",
    )
    store.write([make.span_batch(run_d), make.span_batch(other)])
    store.write([make.span_batch(retried)])
    store.write([make.span_batch(late_copy)])


D, E = make.trace_id(0xD), make.trace_id(0xE)


@pytest.mark.parametrize("batch_size", [1, 2, 4096])
def test_the_streamed_read_of_a_run_is_spans_of_run(store: tuple[SpanStore, Path], batch_size: int) -> None:
    write_awkward_runs(store[0])
    for run_id in ("r1", "r2", "r9", "nope"):
        expected = [lean(span) for span in query.spans_of_run(store[1], run_id)]
        assert streamed(query.iter_span_rows_of_run(store[1], run_id, batch_size=batch_size), batch_size) == expected
    found = streamed(query.iter_span_rows_of_run(store[1], "r1", batch_size=batch_size), batch_size)
    # A's four spans less "stray" (r9's), once each despite the retry; D through its resource, its earlier copy of
    # span 7; E is not r1's, although its span id 2 is also one of A's.
    assert [(span.trace_id[-1], span.name, span.start_ns) for span in found] == [
        ("a", "POST /mcp", 100),
        ("a", "tools/call x", 110),
        ("a", "POST /v1/search", 120),
        ("d", "batch job", 405),
        ("d", "job step", 420),
    ]
    assert found[3].attributes == {"n": 2} and found[3].kind == Span.SPAN_KIND_INTERNAL
    step = found[4]
    assert (step.kind, step.status_code, step.parent_span_id, step.service_name) == (
        query.SpanKind.CONSUMER,
        query.StatusCode.ERROR,
        make.span_id(7).hex(),
        "pp-batch",
    )


@pytest.mark.parametrize("batch_size", [1, 3, 4096])
def test_the_streamed_read_of_a_window_is_spans_in_window(store: tuple[SpanStore, Path], batch_size: int) -> None:
    write_awkward_runs(store[0])
    for start, end, service in ((0, 10**6, None), (110, 200, None), (100, 500, "pp-gateway"), (0, 10**6, "pp-other")):
        expected = [lean(span) for span in query.spans_in_window(store[1], start, end, service=service)]
        found = query.iter_span_rows_in_window(store[1], start, end, service=service, batch_size=batch_size)
        assert streamed(found, batch_size) == expected
    everything = streamed(query.iter_span_rows_in_window(store[1], 0, 10**6, batch_size=batch_size), batch_size)
    # both spans with id 2 (traces A and E) are there, and every retried span once
    assert sorted((span.trace_id[-1], span.span_id[-1]) for span in everything if span.span_id.endswith("2")) == [
        ("a", "2"),
        ("e", "2"),
    ]
    assert len(everything) == len({(span.trace_id, span.span_id) for span in everything}) == 9


def test_the_streamed_read_shares_attribute_dicts_and_starts_over_when_full(
    store: tuple[SpanStore, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    same = [make.span("get", C, make.span_id(100 + n), start=500 + n, tier="l1", hit=True) for n in range(4)]
    store[0].write([make.span_batch(make.traces(*same))])
    found = streamed(query.iter_span_rows_in_window(store[1], 500, 600), 4096)
    assert [span.attributes for span in found] == [{"tier": "l1", "hit": True}] * 4
    assert len({id(span.attributes) for span in found}) == 1  # one dict for one attribute text
    monkeypatch.setattr(query, "_ATTRIBUTE_CACHE", 1)
    write_awkward_runs(store[0])
    expected = [lean(span) for span in query.spans_in_window(store[1], 0, 10**6)]
    assert streamed(query.iter_span_rows_in_window(store[1], 0, 10**6), 4096) == expected


def test_the_streamed_read_on_one_connection(store: tuple[SpanStore, Path]) -> None:
    write_awkward_runs(store[0])
    conn = query.connect(store[1])
    try:
        batches = query.iter_span_rows_of_run(conn, "r1", batch_size=2)
        first = next(batches)
        assert query.runs(conn) != []  # the connection serves other queries meanwhile
        batches.close()
        assert [span.name for span in first] == ["POST /mcp"]  # the second row read was its retried copy
        assert len(streamed(query.iter_span_rows_of_run(conn, "r1"), 4096)) == 5  # and the next read
    finally:
        conn.close()
    with pytest.raises(ValueError, match="batch_size"):
        query.iter_span_rows_of_run(store[1], "r1", batch_size=0)
