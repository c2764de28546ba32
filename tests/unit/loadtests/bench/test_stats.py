"""Phase results from an engine aggregate: per tool, per cache class, errors by code, timeline, cache improvement."""

from __future__ import annotations

import pytest

from loadtests.bench.stats import cache_improvement, error_counts, latency, timeline, tool_stats
from loadtests.metrics import Aggregate, Registry


def _record(registry: Registry, scenario: str, tool: str, cache: str, outcome: str, ms: float) -> None:
    """What one call leaves behind: the engine's error rate and the script's wall-clock trend, same tags."""
    tags = {"scenario": scenario, "tool": tool, "cache": cache, "outcome": outcome}
    registry.rate("mcp_tool_errors", tags).add(outcome != "ok")
    registry.trend("bench_call_duration", tags).add(ms)


@pytest.fixture
def aggregate() -> Aggregate:
    registry = Registry(start_unix=1000.0)
    for i in range(100):  # misses 10..10.99 ms, hits 1..1.99 ms
        _record(registry, "load_search_runbooks", "search_runbooks", "miss", "ok", 10.0 + i / 100)
        _record(registry, "load_search_runbooks", "search_runbooks", "hit", "ok", 1.0 + i / 100)
    for _ in range(4):
        _record(registry, "load_search_runbooks", "search_runbooks", "miss", "http_503", 0.2)
    _record(registry, "load_search_runbooks", "search_runbooks", "hit", "timeout", 60_000.0)
    for _ in range(50):
        _record(registry, "load_list_sources", "list_sources", "none", "ok", 3.0)
    aggregate = Aggregate(workers=1, start_unix=1000.0)
    aggregate.merge_report(registry.drain(1001.0))
    aggregate.flush()
    return aggregate


def test_latency_is_over_successful_calls_and_counts_every_call(aggregate):
    stats = latency(aggregate, {"tool": "search_runbooks", "cache": "miss"})
    assert stats.count == 104
    assert stats.errors == 4
    # the 0.2 ms failures do not drag the latency down
    assert stats.p50_ms == pytest.approx(10.5, abs=0.05)
    assert stats.max_ms == pytest.approx(10.99, abs=0.01)


def test_error_counts_by_code(aggregate):
    calls, failed, by_code = error_counts(aggregate, {"scenario": "load_search_runbooks"})
    assert calls == 205
    assert failed == 5
    assert by_code == {"http_503": 4, "timeout": 1}


def test_tool_stats_splits_by_cache_class_in_a_fixed_order(aggregate):
    stats = tool_stats(aggregate, {"scenario": "load_search_runbooks"}, tool="search_runbooks", vus=16, duration_s=10)
    assert list(stats.by_cache) == ["miss", "hit"]
    assert stats.by_cache["hit"].p99_ms == pytest.approx(1.98, abs=0.02)  # the 60 s timeout is a failure, not a hit
    assert stats.by_cache["miss"].errors == 4 and stats.by_cache["hit"].errors == 1
    assert stats.throughput_rps == pytest.approx(20.5)
    assert stats.error_rate == pytest.approx(5 / 205)
    assert stats.errors_by_code == {"http_503": 4, "timeout": 1}
    assert stats.vus == 16


def test_a_selection_without_calls_gives_empty_stats(aggregate):
    stats = tool_stats(aggregate, {"scenario": "nothing"}, tool="search_runbooks", vus=1, duration_s=1.0)
    assert stats.latency.count == 0 and stats.latency.p50_ms is None
    assert stats.by_cache == {}
    assert stats.error_rate == 0.0


def test_uncached_tools_have_the_none_class(aggregate):
    stats = tool_stats(aggregate, {"scenario": "load_list_sources"}, tool="list_sources", vus=16, duration_s=5.0)
    assert list(stats.by_cache) == ["none"]
    assert stats.latency.p50_ms == pytest.approx(3.0, abs=0.01)


def test_cache_improvement_ratio_and_saving(aggregate):
    miss = latency(aggregate, {"tool": "search_runbooks", "cache": "miss"})
    hit = latency(aggregate, {"tool": "search_runbooks", "cache": "hit"})
    server = {"l1_hit": 30.0, "l1_miss": 10.0, "l2_hit": 0.0, "l2_miss": 10.0}
    improvement = cache_improvement("search_runbooks", miss, hit, repeats=3, server=server)
    assert improvement.p50_saving_ms == pytest.approx(9.0, abs=0.05)
    assert improvement.p50_ratio == pytest.approx(10.5 / 1.5, rel=0.01)
    assert improvement.intended_hit_ratio == 0.75
    assert improvement.server_hit_ratio == pytest.approx(0.75)


def test_cache_improvement_without_server_counters_or_hits():
    from loadtests.bench.stats import no_latency

    improvement = cache_improvement("get_procedure", no_latency(), no_latency(), repeats=1)
    assert improvement.p50_ratio is None and improvement.p50_saving_ms is None
    assert improvement.server_hit_ratio is None and improvement.server == {}


def test_timeline_is_per_second_from_the_benchmark_origin(aggregate):
    points = timeline(aggregate, "load", origin_unix=990.0)
    assert len(points) == 1
    point = points[0]
    assert point.phase == "load"
    assert point.t_s == pytest.approx(11.0, abs=1.0)
    assert point.rps == 255  # every trend sample of the second, failures included
    assert point.errors == 5
    assert point.p99_ms is not None
