"""The writer thread: group commit, one bad batch failing alone, JSON lines after the commit, drain on close."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel.receiver import query
from otel.receiver.decode import Batch, Signal
from otel.receiver.jsonl import TRACES_FILE, JsonlSink
from otel.receiver.otlp_json import parse
from otel.receiver.rows import span_rows
from otel.receiver.store import SpanStore
from otel.receiver.writer import Writer
from tests.unit.otel.receiver import make

if TYPE_CHECKING:
    from pathlib import Path


def running(writer: Writer) -> bool:
    return writer.alive


def batch(name: str, *, keep: bool = False) -> Batch:
    request = make.traces(make.span(name, make.trace_id(), make.span_id(), pp__run__id="w"))
    converted = span_rows(request)
    return Batch(Signal.TRACES, converted.rows, converted.resources, 0, "", request if keep else None)


def test_queued_batches_commit_together_and_a_bad_one_fails_alone(tmp_path: Path) -> None:
    store = SpanStore(tmp_path / "store.sqlite3")
    writer = Writer(store)
    poisoned = Batch(Signal.TRACES, [("too", "short")], [], 0, "", None)
    # Queued before the thread starts, so the first transaction takes all three.
    futures = [writer.submit(batch("one")), writer.submit(poisoned), writer.submit(batch("two"))]
    assert writer.pending_rows == 3
    writer.start()
    assert futures[0].result(10) is None and futures[2].result(10) is None
    with pytest.raises(Exception, match="bindings"):
        futures[1].result(10)
    assert writer.pending_rows == 0 and writer.committed_rows == 2
    assert writer.last_error is not None
    assert running(writer)  # a failed write does not stop the thread
    writer.close()
    assert not running(writer)
    assert sorted(span.name for span in query.spans_of_run(tmp_path / "store.sqlite3", "w")) == ["one", "two"]


def test_close_commits_what_is_queued(tmp_path: Path) -> None:
    writer = Writer(SpanStore(tmp_path / "store.sqlite3"))
    writer.start()
    futures = [writer.submit(batch(f"span{n}")) for n in range(50)]
    writer.close()
    assert all(future.done() and future.exception() is None for future in futures)
    assert len(query.spans_of_run(tmp_path / "store.sqlite3", "w")) == 50


def test_json_lines_follow_the_commit(tmp_path: Path) -> None:
    writer = Writer(SpanStore(tmp_path / "store.sqlite3"), JsonlSink(tmp_path / "jsonl"))
    writer.start()
    kept = batch("kept", keep=True)
    writer.submit(kept).result(10)
    writer.submit(batch("not kept")).result(10)  # no request: nothing to write
    writer.close()
    (line,) = (tmp_path / "jsonl" / TRACES_FILE).read_bytes().splitlines()
    assert isinstance(kept.request, ExportTraceServiceRequest)
    assert parse(line, ExportTraceServiceRequest()) == kept.request
