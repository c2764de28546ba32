"""The store source's streamed span read: the same records as the OTLP files and as the store's full ``Span`` read.

The shared dataset (``data``) plus requests with what it lacks: an error status, producer and consumer kinds,
attribute values of every OTLP type, a parent stored after its child.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from loadtests.validate.formats import from_store_spans
from loadtests.validate.sources import OtlpFileSource, StoreSource
from otel.receiver import query
from otel.receiver.otlp_json import traces_to_json
from otel.receiver.store import SpanStore
from tests.unit.loadtests.validate.sources import data
from tests.unit.otel.receiver import make

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

T0, S = data.T0, data.S
TE = make.trace_id(0xE5)
RUNS = ("r1", "r2", "r9", "nobody")
WINDOWS = ((0, T0 + 100 * S), (T0 + 10 * S, T0 + 10 * S + 350), (T0 + 12 * S, T0 + 40 * S), (T0 + 41 * S, T0 + 99 * S))


def extra_requests() -> list[ExportTraceServiceRequest]:
    """Run r3's trace E: its consumer span errs and is exported before its producer parent, in another request."""
    consumer = make.span(
        "process",
        TE,
        make.span_id(0xE2),
        make.span_id(0xE1),
        start=T0 + 40 * S + 100,
        kind=Span.SPAN_KIND_CONSUMER,
        ratio=0.25,
        tags=["a", "b"],
        nested={"depth": 2, "ok": False},
        blob=b"\x00\x01",
    )
    consumer.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message="bad input"))
    producer = make.span(
        "enqueue", TE, make.span_id(0xE1), start=T0 + 40 * S, kind=Span.SPAN_KIND_PRODUCER, pp__run__id="r3"
    )
    return [make.traces(consumer, service="pp-worker"), make.traces(producer, service="pp-gateway")]


def write_both(tmp_path: Path) -> tuple[Path, Path]:
    requests = [*data.trace_requests(), *extra_requests()]
    store_path = tmp_path / "store.sqlite3"
    store = SpanStore(store_path)
    try:
        for request in requests:
            store.write([make.span_batch(request)])
    finally:
        store.close()
    file = tmp_path / "traces.jsonl"
    file.write_bytes(b"".join(traces_to_json(request) + b"\n" for request in requests))
    return store_path, file


@pytest.fixture
def both(tmp_path: Path) -> Iterator[tuple[StoreSource, OtlpFileSource, Path]]:
    store_path, file = write_both(tmp_path)
    with StoreSource(store_path) as store, OtlpFileSource(file) as files:
        yield store, files, store_path


def test_the_store_reads_what_the_files_read(both: tuple[StoreSource, OtlpFileSource, Path]) -> None:
    store, files, _ = both
    for run in (*RUNS, "r3"):
        assert store.spans_of_run(run) == files.spans_of_run(run), run
    for start, end in WINDOWS:
        assert store.spans_in_window(start, end) == files.spans_in_window(start, end), (start, end)
    enqueue, process = store.spans_of_run("r3")
    assert (enqueue.kind, enqueue.error, enqueue.parent_id) == ("producer", False, None)
    assert (process.kind, process.error, process.parent_id, process.service) == (
        "consumer",
        True,
        enqueue.span_id,
        "pp-worker",
    )
    assert process.attributes == {
        "ratio": 0.25,
        "tags": ["a", "b"],
        "nested": {"depth": 2, "ok": False},
        "blob": "AAE=",
    }


def test_the_records_are_those_of_the_full_read(both: tuple[StoreSource, OtlpFileSource, Path]) -> None:
    store, _, path = both
    for run in (*RUNS, "r3"):
        assert store.spans_of_run(run) == from_store_spans(query.spans_of_run(path, run)), run
    for start, end in WINDOWS:
        assert store.spans_in_window(start, end) == from_store_spans(query.spans_in_window(path, start, end))


def test_records_share_their_repeated_strings(both: tuple[StoreSource, OtlpFileSource, Path]) -> None:
    store, _, _ = both
    spans = store.spans_in_window(0, T0 + 100 * S)
    by_id = {span.span_id: span for span in spans}
    trace_a = [span for span in spans if span.trace_id == data.hexid(data.TA)]
    assert len(trace_a) == 6 and all(span.trace_id is trace_a[0].trace_id for span in trace_a)
    parents = [(span.parent_id, by_id[span.parent_id].span_id) for span in spans if span.parent_id is not None]
    assert len(parents) == 6 and all(parent is parent_span_id for parent, parent_span_id in parents)
    gateway = [span.service for span in spans if span.service == "pp-gateway"]
    assert len(gateway) == 6 and all(service is gateway[0] for service in gateway)
    roots = [span.name for span in spans if span.name == "POST /mcp"]
    assert len(roots) == 3 and all(name is roots[0] for name in roots)


def test_the_gc_is_paused_only_while_records_are_built(both: tuple[StoreSource, OtlpFileSource, Path]) -> None:
    store, _, _ = both
    enabled = gc.isenabled()
    try:
        gc.enable()
        assert len(store.spans_of_run("r1")) == 6
        assert gc.isenabled()
        gc.disable()
        assert len(store.spans_of_run("r1")) == 6
        assert not gc.isenabled()  # a caller that paused it (run.validate does) keeps it paused
    finally:
        (gc.enable if enabled else gc.disable)()


def test_the_queries_name_the_streamed_reads(both: tuple[StoreSource, OtlpFileSource, Path]) -> None:
    store, _, path = both
    store.spans_of_run("r1")
    store.spans_in_window(T0, T0 + S)
    assert store.queries() == [
        f"otel.receiver.query.iter_span_rows_of_run({str(path)!r}, 'r1')",
        f"otel.receiver.query.iter_span_rows_in_window({str(path)!r}, {T0}, {T0 + S})",
    ]
