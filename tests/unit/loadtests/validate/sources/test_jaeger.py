"""The Jaeger source against a local stand-in serving api_v3 and v1 answers built from real spans."""

from __future__ import annotations

import itertools
import socket
import time

import pytest

from loadtests.validate.sources import JaegerSource, SourceError, SourceUnsupported
from loadtests.validate.spans import SpanRecord
from tests.unit.loadtests.validate.sources.fake_jaeger import FakeJaeger, parse_rfc3339

T0 = 1_800_000_000_000_000_000
MS = 1_000_000
_ids = itertools.count(1)


def run_traces(run_id: str | None, count: int, start_ns: int, *, spacing_ns: int = 10 * MS) -> list[SpanRecord]:
    """``count`` tool calls: the gateway's server span (carrying the run id) and tool span, retrieval's server span."""
    spans: list[SpanRecord] = []
    for n in range(count):
        trace_id = f"{next(_ids):032x}"
        root, tool, downstream = (f"{next(_ids):016x}" for _ in range(3))
        at = start_ns + n * spacing_ns
        run = {"pp.run.id": run_id} if run_id is not None else {}
        spans += [
            SpanRecord(trace_id=trace_id, span_id=root, parent_id=None, name="POST /mcp", kind="server",
                       service="pp-gateway", start_ns=at, end_ns=at + 5 * MS, attributes={**run, "http.route": "/mcp"}),
            SpanRecord(trace_id=trace_id, span_id=tool, parent_id=root, name="tools/call search", kind="internal",
                       service="pp-gateway", start_ns=at + 1000, end_ns=at + 4 * MS,
                       attributes={"gen_ai.tool.name": "search", "jsonrpc.request.id": n}),
            SpanRecord(trace_id=trace_id, span_id=downstream, parent_id=tool, name="POST /v1/search", kind="server",
                       service="pp-retrieval", start_ns=at + 2000, end_ns=at + 3 * MS, error=n == 0,
                       attributes={"cache.hit": n % 2 == 0}),
        ]  # fmt: skip
    return spans


def ordered(spans: list[SpanRecord]) -> list[SpanRecord]:
    return sorted(spans, key=lambda s: (s.start_ns, s.trace_id, s.span_id))


WINDOW = (T0 - 60_000 * MS, T0 + 60_000 * MS)


@pytest.mark.parametrize("v3", [True, False], ids=["api_v3", "v1"])
def test_a_run_is_found_whole(v3: bool) -> None:
    mine = run_traces("r1", 5, T0)
    others = run_traces("r2", 3, T0 + 1000 * MS) + run_traces(None, 2, T0 + 2000 * MS)
    with FakeJaeger(others[:3] + mine + others[3:], v3=v3) as jaeger, JaegerSource(jaeger.url, window=WINDOW) as source:
        assert source.spans_of_run("r1") == ordered(mine)
        assert source.api == ("v3" if v3 else "v1")
        search = source.queries()[-1]
        if v3:
            assert search.startswith(f"{jaeger.url}/api/v3/traces?query.service_name=pp-gateway&")
            assert "query.attributes=%7B%22pp.run.id%22%3A%22r1%22%7D" in search
            assert "query.search_depth=1000" in search
        else:
            assert source.queries()[0].startswith(f"{jaeger.url}/api/v3/traces?")  # tried first, then fell back
            assert search.startswith(f"{jaeger.url}/api/traces?service=pp-gateway&")
            assert "tags=%7B%22pp.run.id%22%3A%22r1%22%7D" in search
        assert source.spans_of_run("nobody") == []  # api_v3: a 404 "No traces found"; v1: an empty data list


def test_time_bounds_are_rfc3339_with_nanoseconds() -> None:
    with FakeJaeger(run_traces("r1", 1, T0)) as jaeger, JaegerSource(jaeger.url, window=(T0 + 123, T0 + 456)) as s:
        s.spans_of_run("r1")
        ((_, target),) = jaeger.requests
        assert "query.start_time_min=2027-01-15T08%3A00%3A00.000000123Z" in target
        assert parse_rfc3339("2027-01-15T08:00:00.000000456Z") == T0 + 456


def test_a_full_answer_is_paged_by_narrowing_the_range() -> None:
    mine = run_traces("r1", 25, T0, spacing_ns=37 * MS)
    with FakeJaeger(mine) as jaeger, JaegerSource(jaeger.url, window=WINDOW, search_depth=10) as source:
        assert source.spans_of_run("r1") == ordered(mine)
        assert len(jaeger.requests) > 3  # the first search was full, so was at least one half


def test_a_range_that_cannot_be_narrowed_enough_is_an_error() -> None:
    crowded = run_traces("r1", 5, T0, spacing_ns=0)  # five traces starting at the same nanosecond
    with (
        FakeJaeger(crowded) as jaeger,
        JaegerSource(jaeger.url, window=WINDOW, search_depth=3) as source,
        pytest.raises(SourceError, match="raise search_depth"),
    ):
        source.spans_of_run("r1")


def test_answers_are_filtered_when_jaeger_ignores_the_attributes() -> None:
    mine, theirs = run_traces("r1", 3, T0), run_traces("r2", 4, T0 + 5 * MS)
    stray = SpanRecord(trace_id=mine[0].trace_id, span_id="00000000000000ff", parent_id=mine[0].span_id,
                       name="other run", kind="internal", service="pp-retrieval", start_ns=T0 + 3000, end_ns=T0 + 4000,
                       attributes={"pp.run.id": "r9"})  # fmt: skip
    with (
        FakeJaeger(mine + theirs + [stray], honours_attributes=False) as jaeger,
        JaegerSource(jaeger.url, window=WINDOW) as source,
    ):
        assert source.spans_of_run("r1") == ordered(mine)  # r2's traces and the span carrying r9 are left out


def test_the_default_range_is_the_recent_past() -> None:
    now = time.time_ns() // 1000 * 1000
    mine = run_traces("r1", 2, now - 3_600_000 * MS)
    with FakeJaeger(mine) as jaeger, JaegerSource(jaeger.url) as source:
        assert source.spans_of_run("r1") == ordered(mine)
    with FakeJaeger(mine) as jaeger, JaegerSource(jaeger.url, lookback_s=60) as source:
        assert source.spans_of_run("r1") == []


@pytest.mark.parametrize("v3", [True, False], ids=["api_v3", "v1"])
def test_single_traces_and_windows(v3: bool) -> None:
    spans = run_traces("r1", 4, T0, spacing_ns=100 * MS)
    with FakeJaeger(spans, v3=v3) as jaeger, JaegerSource(jaeger.url) as source:
        first = spans[0].trace_id
        assert source.trace(first) == [span for span in spans if span.trace_id == first]
        assert source.trace("f" * 32) == []
        # every service is searched, each span kept once, cut by start time
        found = source.spans_in_window(T0 + 100 * MS, T0 + 300 * MS)
        assert found == ordered([span for span in spans if T0 + 100 * MS <= span.start_ns < T0 + 300 * MS])
        assert {span.service for span in found} == {"pp-gateway", "pp-retrieval"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_failures_say_what_and_where() -> None:
    port = free_port()
    refused = rf"cannot reach Jaeger at http://127\.0\.0\.1:{port}: connection refused"
    with (
        JaegerSource(f"http://127.0.0.1:{port}", window=WINDOW, timeout_s=2) as source,
        pytest.raises(SourceError, match=refused),
    ):
        source.spans_of_run("r1")
    with FakeJaeger([]) as jaeger, JaegerSource(jaeger.url, window=WINDOW) as source:
        jaeger.fail_with = 500
        with pytest.raises(SourceError, match="HTTP 500: storage exploded"):
            source.spans_of_run("r1")
        with pytest.raises(SourceUnsupported, match="Jaeger holds spans only"):
            source.histogram("http.server.request.duration", by=(), start_ns=0, end_ns=1)
        with pytest.raises(SourceUnsupported):
            source.counter("pp.cache.requests", by=(), start_ns=0, end_ns=1)
        with pytest.raises(SourceUnsupported):
            source.gauge("process.memory.usage", by=(), start_ns=0, end_ns=1)
    with pytest.raises(SourceError, match="not an http"):
        JaegerSource("ftp://example.com")


def test_one_connection_is_reused() -> None:
    with FakeJaeger(run_traces("r1", 2, T0)) as jaeger, JaegerSource(jaeger.url, window=WINDOW) as source:
        for _ in range(3):
            source.spans_of_run("r1")
        connection = source._http._conn
        assert connection is not None
        source.spans_of_run("r1")
        assert source._http._conn is connection
