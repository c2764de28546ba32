"""Critical-path shares over a run: where the tail's time goes compared with a median request."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import pytest

from loadtests.validate.critical_path import (
    PathReport,
    aggregate_paths,
    critical_path,
    operation_label,
    self_times,
)
from loadtests.validate.spans import SpanKind, SpanRecord

GW, RT = "pp-gateway", "pp-retrieval"
US = 1000


class Builder:
    """Spans of one trace, ids numbered in creation order."""

    def __init__(self, number: int) -> None:
        self.trace_id = f"{number + 1:032x}"
        self.base = number * 10**12
        self.spans: list[SpanRecord] = []

    def add(
        self,
        name: str,
        kind: SpanKind,
        service: str,
        start_us: int,
        end_us: int,
        parent: SpanRecord | None,
        **attributes: Any,
    ) -> SpanRecord:
        span = SpanRecord(
            trace_id=self.trace_id,
            span_id=f"{len(self.spans) + 1:016x}",
            parent_id=parent.span_id if parent else None,
            name=name,
            kind=kind,
            service=service,
            start_ns=self.base + start_us * US,
            end_ns=self.base + end_us * US,
            attributes={k.replace("_", "."): v for k, v in attributes.items()},
        )
        self.spans.append(span)
        return span


def tool_call(number: int, redis_us: int, search_us: int = 5_000) -> list[SpanRecord]:
    """One tools/call in our services' shape: an L2 miss going to Redis, then an index search."""
    b = Builder(number)
    cache_end = 400 + 100 + redis_us + 100
    search_end = cache_end + 100 + search_us
    server_end = search_end + 100
    total = server_end + 300
    root = b.add("POST /mcp", "server", GW, 0, total, None)
    tool = b.add("tools/call search_runbooks", "internal", GW, 100, total - 100, root)
    client = b.add("POST /v1/runbooks/search", "client", GW, 200, total - 200, tool)
    server = b.add("POST /v1/runbooks/search", "server", RT, 300, server_end, client)
    cache = b.add("cache.get", "internal", RT, 400, cache_end, server, cache_tier="l2", cache_hit=False)
    b.add("GET", "client", RT, 500, 500 + redis_us, cache, db_system="redis")
    b.add("search runbooks", "internal", RT, cache_end + 100, search_end, server)
    return b.spans


def run() -> tuple[list[list[SpanRecord]], list[int], list[int]]:
    """95 ordinary calls (Redis ~1 ms) and 5 slow ones (Redis ~50 ms), durations all distinct."""
    traces = []
    redis = []
    for i in range(100):
        redis_us = 1_000 + 3 * i if i < 95 else 50_000 + 1_000 * (i - 95)
        traces.append(tool_call(i, redis_us))
        redis.append(redis_us)
    durations = [t[0].duration_ns for t in traces]
    return traces, redis, durations


def share_of(report: PathReport, service: str, operation: str) -> Any:
    return next(s for s in report.shares if (s.service, s.operation) == (service, operation))


def test_labels_are_readable() -> None:
    traces, _, _ = run()
    labels = {(s.service, operation_label(s)) for s in traces[0]}
    assert (RT, "redis GET") in labels
    assert (RT, "cache.get l2") in labels
    assert (GW, "POST /mcp") in labels
    already = SpanRecord(
        trace_id="1" * 32,
        span_id="1" * 16,
        parent_id=None,
        name="redis.get",
        kind="client",
        service=RT,
        start_ns=1,
        end_ns=2,
        attributes={"db.system.name": "redis"},
    )
    assert operation_label(already) == "redis.get"


def test_the_tail_is_blamed_on_redis() -> None:
    traces, redis, durations = run()
    report = aggregate_paths(traces)
    assert report.traces == 100
    assert report.slow_traces == 5
    ranked = sorted(durations)
    assert report.p95_root_ms == round(ranked[94] / 1e6, 3)
    low, high = ranked[39], ranked[59]
    median = [i for i, d in enumerate(durations) if low <= d <= high]
    assert report.median_traces == len(median) == 21

    top = report.shares[0]
    assert (top.service, top.operation) == (RT, "redis GET")
    slow = range(95, 100)
    assert top.share_slow == pytest.approx(sum(redis[i] * US for i in slow) / sum(durations[i] for i in slow), abs=1e-6)
    assert top.share_median == pytest.approx(
        sum(redis[i] * US for i in median) / sum(durations[i] for i in median), abs=1e-6
    )
    assert top.share_slow > 0.8 > 0.2 > top.share_median
    assert top.exemplar_trace_id == traces[99][0].trace_id
    assert top.traces_on_path == 100
    ordered = sorted(redis)
    assert top.self_ms_p50 == round(ordered[49] / 1000, 3)
    assert top.self_ms_p95 == round(ordered[94] / 1000, 3)
    assert top.self_ms_mean == round(sum(redis) / 100 / 1000, 3)

    assert "pp-retrieval → redis GET" in report.sentence
    assert f"{top.share_slow * 100:.0f} %" in report.sentence
    assert f"vs {top.share_median * 100:.0f} % in median traces" in report.sentence
    assert [s.share_slow for s in report.shares] == sorted((s.share_slow for s in report.shares), reverse=True)


def test_shares_sum_to_one_and_agree_with_per_trace_self_times() -> None:
    traces, _, durations = run()
    report = aggregate_paths(traces)
    for field in ("share_all", "share_slow", "share_median"):
        assert math.fsum(getattr(s, field) for s in report.shares) == pytest.approx(1.0, abs=1e-5)
    per_op: dict[tuple[str, str], int] = {}
    for spans in traces:
        for (service, name), ns in self_times(critical_path(spans)).items():
            span = next(s for s in spans if (s.service, s.name) == (service, name))
            key = (service, operation_label(span))
            per_op[key] = per_op.get(key, 0) + ns
    assert {(s.service, s.operation) for s in report.shares} == set(per_op)
    for share in report.shares:
        assert share.share_all == pytest.approx(per_op[share.service, share.operation] / sum(durations), abs=1e-6)
    search = share_of(report, RT, "search runbooks")
    assert search.share_median > search.share_slow  # the search is the median request's main cost


def test_root_filter_and_unusable_traces() -> None:
    traces, _, _ = run()
    health = Builder(500)
    health.add("GET /health", "server", RT, 0, 100, None)
    orphan = Builder(501)
    orphan.add(
        "cache.get", "internal", RT, 0, 100, SpanRecord(**{**msgspec.structs.asdict(traces[0][0]), "span_id": "f" * 16})
    )
    instant = Builder(502)
    instant.add("POST /mcp", "server", GW, 5, 5, None)
    everything = [*traces, health.spans, orphan.spans, instant.spans]

    unfiltered = aggregate_paths(everything)
    assert (unfiltered.traces, unfiltered.skipped_traces) == (101, 2)
    assert any(s.operation == "GET /health" for s in unfiltered.shares)

    def gateway_root(span: SpanRecord) -> bool:
        return span.service == GW and span.kind == "server"

    filtered = aggregate_paths(iter(everything), root_filter=gateway_root)
    assert (filtered.traces, filtered.skipped_traces) == (100, 3)
    assert filtered.shares == aggregate_paths(traces).shares


def test_small_runs_and_empty_runs() -> None:
    empty = aggregate_paths([])
    assert (empty.traces, empty.shares) == (0, [])
    assert "No trace" in empty.sentence
    one = aggregate_paths([tool_call(0, 2_000)])
    assert (one.traces, one.slow_traces, one.median_traces) == (1, 1, 1)
    assert one.shares[0].share_slow == one.shares[0].share_all == one.shares[0].share_median


def test_report_is_json() -> None:
    traces, _, _ = run()
    report = aggregate_paths(traces[:30])
    encoded = msgspec.json.encode(report)
    assert msgspec.json.decode(encoded, type=PathReport) == report
    assert b'"sentence"' in encoded and b'"share_slow"' in encoded
