"""The coordinator's aggregate: lossless merges across workers and runs, k6 queries, a bounded per-second timeline."""

from __future__ import annotations

import random

import msgspec
import pytest

from loadtests.metrics import (
    Aggregate,
    AggregateSnapshot,
    Histogram,
    IntervalReport,
    MetricType,
    Registry,
)


def report(registry: Registry, worker: int, now: float) -> IntervalReport:
    r = registry.drain(now)
    r.worker = worker
    return msgspec.msgpack.decode(msgspec.msgpack.encode(r), type=IntervalReport)  # as it crosses processes


def run_three_workers(seed: int, seconds: int = 3, start: float = 1000.0) -> tuple[Aggregate, dict[str, Histogram]]:
    """Random samples split across 3 workers; returns the aggregate and one histogram of all samples per tool."""
    rng = random.Random(seed)
    workers = [Registry(start_unix=start) for _ in range(3)]
    whole = {"search": Histogram(), "fetch": Histogram()}
    aggregate = Aggregate(workers=3, start_unix=start)
    for second in range(1, seconds + 1):
        for _ in range(900):
            tool = rng.choice(["search", "fetch"])
            value = rng.lognormvariate(3, 1)
            registry = workers[rng.randrange(3)]
            registry.trend("mcp_tool_duration", {"tool": tool}).add(value, f"{rng.getrandbits(128):032x}")
            registry.counter("mcp_tool_calls", {"tool": tool}).add()
            registry.rate("mcp_tool_errors", {"tool": tool}).add(value > 60)
            whole[tool].record(value)
        for index, registry in enumerate(workers):
            aggregate.merge_report(report(registry, index, start + second + 0.01 * index))
    return aggregate, whole


def test_three_workers_merge_to_exactly_one_histogram_of_all_samples() -> None:
    aggregate, whole = run_three_workers(seed=5)
    for tool, hist in whole.items():
        merged = aggregate.histogram("mcp_tool_duration", {"tool": tool})
        assert merged is not None
        assert merged == hist  # bucket by bucket, and count/sum/min/max/clamped
    everything = Histogram()
    for hist in whole.values():
        everything.merge(hist)
    assert aggregate.histogram("mcp_tool_duration") == everything
    values = aggregate.values("mcp_tool_duration")
    assert values["count"] == everything.count
    assert values["avg"] == pytest.approx(everything.mean)
    assert values["p(95)"] == everything.percentile(95)
    assert values["med"] == everything.percentile(50)
    assert aggregate.percentile("mcp_tool_duration", {}, 99.99) == everything.percentile(99.99)


def row_of(hist: Histogram) -> dict[str, float]:
    p50, p95, p99 = hist.percentiles([50, 95, 99])
    return {"count": hist.count, "avg": hist.mean, "min": hist.min, "max": hist.max, "p50": p50, "p95": p95, "p99": p99}


def test_each_second_s_trend_row_is_that_of_one_histogram_of_the_second_s_samples() -> None:
    rng = random.Random(21)
    workers = [Registry(start_unix=0.0) for _ in range(3)]
    aggregate = Aggregate(workers=3, start_unix=0.0)
    expected: dict[tuple[int, str | None], Histogram] = {}
    for second in range(1, 5):
        for _ in range(1200):
            tool = rng.choice(["search", "fetch", "list"])
            # Different shapes per tool, some samples beyond the range: the metric row mixes them all.
            value = rng.lognormvariate({"search": 3, "fetch": 1, "list": 5}[tool], 1) if rng.random() > 0.002 else 5e6
            workers[rng.randrange(3)].trend("mcp_tool_duration", {"tool": tool}).add(value)
            for key in ((second, tool), (second, None)):
                expected.setdefault(key, Histogram()).record(value)
        for index in rng.sample(range(3), 3):  # every worker reports the second, in any order
            aggregate.merge_report(report(workers[index], index, second + 0.01 * index))
    aggregate.flush()
    for tags in ({"tool": "search"}, {"tool": "fetch"}, {"tool": "list"}, None):
        ts = aggregate.timeseries("mcp_tool_duration", tags)
        assert ts is not None
        assert ts.time == [1, 2, 3, 4]
        for i, second in enumerate(ts.time):
            got = {column: values[i] for column, values in ts.columns.items()}
            assert got == row_of(expected[(second, None if tags is None else tags["tool"])]), (tags, second)


def test_queries_per_type_and_sub_metric_filters() -> None:
    workers = [Registry(start_unix=0.0), Registry(start_unix=0.0)]
    for i, registry in enumerate(workers):
        registry.counter("http_reqs", {"scenario": "a", "status": "200"}).add(10 + i)
        registry.counter("http_reqs", {"scenario": "b", "status": "200"}).add(5)
        registry.counter("http_reqs", {"scenario": "a", "status": "500"}).add(1)
        registry.rate("checks", {"check": "status is 200"}).add(True)
        registry.rate("checks", {"check": "status is 200"}).add(i == 0)
        registry.gauge("queue_depth").set(3.0 + i)
    aggregate = Aggregate(workers=2, start_unix=0.0)
    aggregate.merge_report(report(workers[0], 0, 10.0))
    aggregate.merge_report(report(workers[1], 1, 10.2))

    assert aggregate.values("http_reqs") == {"count": 33.0, "rate": pytest.approx(3.3 * 10 / 10.2)}
    assert aggregate.values("http_reqs", {"scenario": "a"}, elapsed_s=10.0) == {"count": 23.0, "rate": 2.3}
    assert aggregate.values("http_reqs", {"scenario": "a", "status": "200"}, 10)["count"] == 21.0
    assert aggregate.values("http_reqs", (("status", "404"),)) == {}, "no series matches: no data"
    assert aggregate.values("checks") == {"rate": 0.75, "passes": 3.0, "fails": 1.0}
    assert aggregate.values("queue_depth") == {"value": 4.0, "min": 3.0, "max": 4.0}, "the latest report wins"
    assert aggregate.values("nope") == {}
    assert aggregate.metric_type("checks") is MetricType.RATE
    assert aggregate.metric_type("nope") is None
    assert aggregate.names() == ["checks", "http_reqs", "queue_depth"]
    assert len(aggregate.series_tags("http_reqs")) == 3
    assert aggregate.elapsed_s == pytest.approx(10.2)


def test_vus_from_each_worker_add_up() -> None:
    workers = [Registry(), Registry()]
    workers[0].gauge("vus").set(5)
    workers[1].gauge("vus").set(7)
    aggregate = Aggregate(workers=2)
    aggregate.merge_report(report(workers[0], 0, 1.0))
    aggregate.merge_report(report(workers[1], 1, 1.1))
    assert aggregate.values("vus")["value"] == 12
    workers[0].gauge("vus").set(2)
    aggregate.merge_report(report(workers[0], 0, 2.0))
    assert aggregate.values("vus") == {"value": 9, "min": 5, "max": 12}


def test_exemplars_are_those_above_the_final_p95_plus_failures_largest_first() -> None:
    registry = Registry(exemplar_cap=1000)
    trend = registry.trend("http_req_duration", {"tool": "search"})
    for i in range(1, 201):
        trend.add(float(i), f"t{i}")
    trend.add_failure(0.5, "failed-fast")
    aggregate = Aggregate(workers=1)
    aggregate.merge_report(report(registry, 0, 1.0))
    exemplars = aggregate.exemplars("http_req_duration")
    assert [e.trace_id for e in exemplars][:3] == ["t200", "t199", "t198"]
    assert exemplars[-1].trace_id == "failed-fast" and exemplars[-1].failed
    assert all(e.tags == {"tool": "search"} for e in exemplars), "each names its series"
    # 201 samples (0.5, 1..200): p95 lands on the 191st, 190 ms; it and every larger one qualify, plus the failure.
    assert [e.value for e in exemplars[:-1]] == [float(v) for v in range(200, 189, -1)]


def test_a_second_closes_when_every_worker_reported_it() -> None:
    workers = [Registry(), Registry()]
    aggregate = Aggregate(workers=2, start_unix=0.0)
    workers[0].trend("d").add(10.0)
    workers[1].trend("d").add(30.0)
    workers[0].counter("c").add(4)
    aggregate.merge_report(report(workers[0], 0, 1.02))
    assert aggregate.timeseries("d") is None, "still waiting for worker 1"
    aggregate.merge_report(report(workers[1], 1, 0.97))
    metric = aggregate.timeseries("d")
    assert metric is not None
    assert metric.time == [1]
    assert metric.columns["count"] == [2.0]
    assert metric.columns["avg"] == [20.0]
    assert metric.columns["p99"] == [30.0]
    counter = aggregate.timeseries("c", {})
    assert counter is not None
    assert counter.columns == {"count": [4.0], "samples": [1.0]}


def test_a_second_closes_after_the_grace_period_and_late_data_lands_in_the_next_open_one() -> None:
    workers = [Registry(), Registry()]
    aggregate = Aggregate(workers=2)
    workers[0].counter("c").add(1)
    aggregate.merge_report(report(workers[0], 0, 1.0))
    for t in (2.0, 3.0):
        workers[0].counter("c").add(1)
        aggregate.merge_report(report(workers[0], 0, t))
    ts = aggregate.timeseries("c")
    assert ts is not None and ts.time == [1], "second 1 is 2 s old: closed without worker 1"
    workers[1].counter("c").add(10)
    aggregate.merge_report(report(workers[1], 1, 1.1))  # late for second 1
    aggregate.flush()
    ts = aggregate.timeseries("c")
    assert ts is not None
    assert ts.time == [1, 2, 3]
    assert ts.columns["count"] == [1.0, 11.0, 1.0]
    assert aggregate.values("c")["count"] == 13.0, "cumulative values are never late"


def test_timeline_stays_small_per_series_second() -> None:
    aggregate = Aggregate(workers=1)
    registry = Registry()
    for second in range(1, 301):
        for tool in range(10):
            registry.trend("mcp_tool_duration", {"tool": str(tool)}).add(float(second))
        aggregate.merge_report(report(registry, 0, float(second)))
    aggregate.flush()
    ts = aggregate.timeseries("mcp_tool_duration", {"tool": "3"})
    assert ts is not None and len(ts.time) == 300
    assert not aggregate._pending, "no interval histogram is kept once its second is summarised"
    per_series = [t for t in aggregate._timelines.values()]
    assert all(t.columns["count"].itemsize == 8 for t in per_series)


def test_snapshot_round_trips_through_json() -> None:
    aggregate, _ = run_three_workers(seed=9, seconds=2)
    snapshot = aggregate.to_struct()
    again = msgspec.json.decode(msgspec.json.encode(snapshot), type=AggregateSnapshot)
    restored = Aggregate.from_struct(again)
    assert restored.values("mcp_tool_duration") == aggregate.values("mcp_tool_duration")
    assert restored.values("mcp_tool_errors", {"tool": "fetch"}) == aggregate.values(
        "mcp_tool_errors", {"tool": "fetch"}
    )
    assert restored.timeseries("mcp_tool_duration") == aggregate.timeseries("mcp_tool_duration")
    assert restored.exemplars("mcp_tool_duration") == aggregate.exemplars("mcp_tool_duration")
    assert restored.workers == 3


def test_to_struct_includes_open_seconds_without_closing_them() -> None:
    aggregate = Aggregate(workers=2)
    registry = Registry()
    registry.counter("c").add(3)
    aggregate.merge_report(report(registry, 0, 5.0))
    snapshot = aggregate.to_struct()
    (metric,) = [t for t in snapshot.timeline if t.tags is None]
    assert metric.time == [5]
    assert aggregate.timeseries("c") is None, "still open"


def test_merging_two_runs_is_lossless() -> None:
    a, whole_a = run_three_workers(seed=1, seconds=2, start=1000.0)
    b, whole_b = run_three_workers(seed=2, seconds=2, start=1000.5)
    merged = Aggregate.merged(a, msgspec.json.decode(msgspec.json.encode(b.to_struct()), type=AggregateSnapshot))
    for tool in ("search", "fetch"):
        expected = whole_a[tool].copy()
        expected.merge(whole_b[tool])
        assert merged.histogram("mcp_tool_duration", {"tool": tool}) == expected
        calls = merged.values("mcp_tool_calls", {"tool": tool})["count"]
        assert (
            calls
            == a.values("mcp_tool_calls", {"tool": tool})["count"] + b.values("mcp_tool_calls", {"tool": tool})["count"]
        )
    errors_a, errors_b = a.values("mcp_tool_errors"), b.values("mcp_tool_errors")
    assert merged.values("mcp_tool_errors")["passes"] == errors_a["passes"] + errors_b["passes"]
    assert merged.workers == 6
    ts = merged.timeseries("mcp_tool_calls")
    assert ts is not None
    assert sum(ts.columns["count"]) == merged.values("mcp_tool_calls")["count"]
