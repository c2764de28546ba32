"""The store and OTLP-file sources on the same hand-made requests: the answers worked out in ``data``, from both."""

from __future__ import annotations

import gzip
from typing import TYPE_CHECKING

import pytest

from loadtests.validate.sources import OtlpFileSource, Source, SourceError, StoreSource
from tests.unit.loadtests.validate.sources import data
from tests.unit.loadtests.validate.sources.data import T0, TA, TB, TD, S, hexid

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from loadtests.validate.spans import SpanRecord

DURATION = "mcp.server.operation.duration"


@pytest.fixture(params=["store", "otlp"])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Source]:
    opened: Source
    if request.param == "store":
        opened = StoreSource(data.write_store(tmp_path / "store.sqlite3"))
    else:
        opened = OtlpFileSource(data.write_jsonl(tmp_path / "otlp"))
    try:
        yield opened
    finally:
        opened.close()


def ids(spans: list[SpanRecord]) -> list[tuple[str, str]]:
    return sorted((span.trace_id, span.span_id) for span in spans)


def test_a_run_is_every_span_of_its_traces(source: Source) -> None:
    spans = source.spans_of_run("r1")
    # trace A: its root carries r1, the rest is adopted across both services and three requests, except "stray",
    # which carries r9; trace D: its resource carries r1. Each span once, although trace B was exported twice.
    assert sorted((span.name, span.service) for span in spans) == sorted(
        [
            ("POST /mcp", "pp-gateway"),
            ("tools/call search", "pp-gateway"),
            ("POST", "pp-gateway"),
            ("POST /v1/search", "pp-retrieval"),
            ("cache.get", "pp-retrieval"),
            ("batch job", "pp-batch"),
        ]
    )
    assert {span.trace_id for span in spans} == {hexid(TA), hexid(TD)}
    assert [span.start_ns for span in spans] == sorted(span.start_ns for span in spans)
    root = next(span for span in spans if span.name == "POST /mcp")
    assert (root.kind, root.parent_id, root.attributes["pp.run.id"]) == ("server", None, "r1")
    assert next(span for span in spans if span.name == "cache.get").attributes == {"cache.hit": True}
    assert [span.trace_id for span in source.spans_of_run("r2")] == [hexid(TB)]
    assert source.spans_of_run("r9") != []  # the stray span's own run
    assert source.spans_of_run("nobody") == []


def test_a_window_cuts_by_start_time(source: Source) -> None:
    assert ids(source.spans_in_window(T0 + 12 * S, T0 + 20 * S)) == [(data.hexid(data.TC), "0000000000000004")]
    assert len(source.spans_in_window(T0 + 12 * S, T0 + 20 * S + 1)) == 2  # the start is in, the end is out
    assert len(source.spans_in_window(T0, T0 + 60 * S)) == 9  # every distinct span


def test_the_histogram_increase_over_a_window(source: Source) -> None:
    found = source.histogram(
        DURATION, by=("service.name", "gen_ai.tool.name"), start_ns=T0 + 15 * S, end_ns=T0 + 50 * S
    )
    assert set(found) == {("pp-gateway", "a"), ("pp-gateway", "b"), ("pp-retrieval", "a")}
    tool_a = found["pp-gateway", "a"]
    assert (tool_a.bounds, tool_a.counts, tool_a.count) == (data.BOUNDS, [5, 2, 1, 1], 9)
    assert tool_a.sum == pytest.approx(7.6)
    assert found["pp-gateway", "b"].counts == [0, 2, 0, 0]
    assert found["pp-gateway", "b"].sum == pytest.approx(0.6)
    assert found["pp-retrieval", "a"].count == 0

    by_tool = source.histogram(DURATION, by=("gen_ai.tool.name",), start_ns=T0 + 15 * S, end_ns=T0 + 50 * S)
    assert by_tool["a",].counts == [5, 2, 1, 1]  # the retrieval's series adds nothing in the window
    everything = source.histogram(DURATION, by=(), start_ns=T0 + 15 * S, end_ns=T0 + 50 * S)
    assert everything[()].counts == [5, 4, 1, 1]
    assert everything[()].quantile(0.5).value == pytest.approx(0.1 + 0.4 * (5.5 - 5) / 4)

    only_b = source.histogram(
        DURATION, by=("service.instance.id",), start_ns=T0 + 15 * S, end_ns=T0 + 50 * S, where={"gen_ai.tool.name": "b"}
    )
    assert list(only_b) == [("gw-1",)]
    assert only_b["gw-1",].count == 2


def test_window_edges_follow_prometheus(source: Source) -> None:
    # a point stamped exactly at the window's start is its baseline, one at its end is in it
    found = source.histogram(DURATION, by=("gen_ai.tool.name",), start_ns=T0 + 20 * S, end_ns=T0 + 30 * S)
    assert found["a",].counts == [1, 1, 1, 0]
    assert found["b",].counts == [0, 1, 0, 0]  # born at 25 s
    assert source.histogram(DURATION, by=(), start_ns=T0 + 61 * S, end_ns=T0 + 90 * S) == {}


def test_counters_gauges_and_deltas(source: Source) -> None:
    start, end = T0 + 15 * S, T0 + 30 * S
    cache = "pp.cache.requests"
    assert source.counter(cache, by=("pp.cache.result",), start_ns=start, end_ns=end) == {("hit",): 7.0, ("miss",): 1.0}
    assert source.counter(cache, by=(), where={"pp.cache.result": "hit"}, start_ns=start, end_ns=end) == {(): 7.0}
    assert source.counter("pp.delta", by=("service.name",), start_ns=start, end_ns=end) == {("pp-retrieval",): 6.0}
    assert source.gauge("process.memory.usage", by=("service.name",), start_ns=start, end_ns=end) == {
        ("pp-gateway",): [(T0 + 20 * S, 110.0), (T0 + 30 * S, 120.0)]
    }
    assert source.counter("no.such.metric", by=(), start_ns=start, end_ns=end) == {}


def test_queries_are_recorded(source: Source) -> None:
    source.spans_of_run("r1")
    source.histogram(DURATION, by=(), start_ns=T0, end_ns=T0 + S)
    recorded = source.queries()
    assert len(recorded) == 2
    assert "r1" in recorded[0]
    assert DURATION in recorded[1]


def test_both_sources_agree(tmp_path: Path) -> None:
    with (
        StoreSource(data.write_store(tmp_path / "s.sqlite3")) as store,
        OtlpFileSource(data.write_jsonl(tmp_path / "otlp", split=False) / "traces.jsonl") as traces,
        OtlpFileSource(tmp_path / "otlp" / "metrics.jsonl") as metrics,
    ):
        for run in ("r1", "r2", "r9"):
            assert store.spans_of_run(run) == traces.spans_of_run(run)
        assert store.spans_in_window(T0, T0 + 60 * S) == traces.spans_in_window(T0, T0 + 60 * S)
        for start, end in ((0, T0 + 100 * S), (T0 + 15 * S, T0 + 50 * S), (T0 + 31 * S, T0 + 45 * S)):
            by = ("service.name", "gen_ai.tool.name")
            assert store.histogram(DURATION, by=by, start_ns=start, end_ns=end) == metrics.histogram(
                DURATION, by=by, start_ns=start, end_ns=end
            )


def test_files_may_be_gzipped_and_use_proto_field_names(tmp_path: Path) -> None:
    lines = (data.write_jsonl(tmp_path / "plain", split=False) / "traces.jsonl").read_bytes()
    snake = lines.replace(b'"resourceSpans"', b'"resource_spans"').replace(b'"scopeSpans"', b'"scope_spans"')
    snake = snake.replace(b'"traceId"', b'"trace_id"')
    (tmp_path / "gz").mkdir()
    with gzip.open(tmp_path / "gz" / "traces.jsonl.gz", "wb") as out:
        out.write(snake)
    (tmp_path / "gz" / "notes.txt").write_text("not telemetry")
    with OtlpFileSource(tmp_path / "gz") as source:
        assert len(source.spans_of_run("r1")) == 6


def test_bad_files_say_where(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        OtlpFileSource(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match=r"no \*\.json"):
        OtlpFileSource(tmp_path / "empty")
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(b'{"resourceSpans": []}\n{"resourceSpans": ["r1"\n')
    with pytest.raises(SourceError, match=r"broken\.jsonl line 2 is not JSON"):
        OtlpFileSource(broken).spans_of_run("r1")
    bad_id = tmp_path / "bad-id.jsonl"
    bad_id.write_bytes(
        b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz","spanId":"01","name":"x",'
        b'"startTimeUnixNano":"1","endTimeUnixNano":"2","attributes":[{"key":"pp.run.id",'
        b'"value":{"stringValue":"r1"}}]}]}]}]}\n'
    )
    with pytest.raises(SourceError, match=r"bad-id\.jsonl line 1"):
        OtlpFileSource(bad_id).spans_of_run("r1")


def test_a_missing_store_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"store:.*missing\.sqlite3: no store at"):
        StoreSource(tmp_path / "missing.sqlite3")


def test_exponential_histograms_are_refused(tmp_path: Path) -> None:
    line = (
        b'{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"e","exponentialHistogram":{"dataPoints":'
        b'[{"timeUnixNano":"5","count":"1","scale":1}],"aggregationTemporality":2}}]}]}]}\n'
    )
    (tmp_path / "m.jsonl").write_bytes(line)
    with pytest.raises(SourceError, match="exponential"):
        OtlpFileSource(tmp_path / "m.jsonl").histogram("e", by=(), start_ns=0, end_ns=10)
