"""Evaluation: calls and cache outcomes from spans, the load phase, each target at/below/above its bound, sources."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from loadtests.validate.evaluate import (
    ALL,
    MetricInputs,
    _exact_share,
    cold_calls,
    evaluate,
    extract_calls,
    nearest_rank,
    phase_selection,
)
from loadtests.validate.sources.base import BucketHistogram
from loadtests.validate.targets import Config
from otel import contract
from tests.unit.loadtests.validate.helpers import T0_NS, flatten, options, summary, trace

if TYPE_CHECKING:
    from loadtests.output.results import Summary
    from loadtests.validate.evaluate import Call
    from loadtests.validate.spans import SpanRecord
    from loadtests.validate.verdict import TargetResult


def find(results: list[TargetResult], id_: str, scope: str = "overall", source: str = "server_spans") -> TargetResult:
    matches = [t for t in results if t.id == id_ and t.scope == scope and t.source == source]
    assert len(matches) == 1, (id_, scope, source, [(t.id, t.scope, t.source) for t in results])
    return matches[0]


def calls_of(*traces: list[SpanRecord]) -> list[Call]:
    return extract_calls(flatten(list(traces)))


# -- classification ------------------------------------------------------------------------------------------------


def test_cache_outcomes_from_hand_built_spans() -> None:
    l1, l2, miss = trace(cache="l1"), trace(cache="l2"), trace(cache="miss")
    uncached = trace("get_escalation_path", cache="none")
    blind = trace("get_procedure", cache="none")  # a cached tool whose trace shows no cache.get
    by_trace = {c.trace_id: c for c in calls_of(l1, l2, miss, uncached, blind)}
    assert (by_trace[l1[0].trace_id].cache, by_trace[l1[0].trace_id].tier) == ("hit", "l1")
    assert (by_trace[l2[0].trace_id].cache, by_trace[l2[0].trace_id].tier) == ("hit", "l2")
    assert (by_trace[miss[0].trace_id].cache, by_trace[miss[0].trace_id].tier) == ("miss", None)
    assert by_trace[uncached[0].trace_id].cache == "uncached"
    assert by_trace[blind[0].trace_id].cache == "unknown"


def test_a_miss_without_its_own_l2_lookup_is_a_coalesced_waiter_when_redis_is_in_use() -> None:
    waiter, filler = trace(cache="miss_l1_only"), trace(cache="miss")
    calls = {c.trace_id: c for c in calls_of(waiter, filler)}
    assert calls[waiter[0].trace_id].cache == "miss" and calls[waiter[0].trace_id].coalesced
    assert not calls[filler[0].trace_id].coalesced
    alone = calls_of(trace(cache="miss_l1_only"))  # no L2 anywhere: memory-only, not a waiter
    assert alone[0].cache == "miss" and not alone[0].coalesced


def test_cache_hit_given_as_a_string_attribute_is_read() -> None:
    spans = trace(cache="l1")
    spans = [
        msgspec.structs.replace(s, attributes={**s.attributes, contract.CACHE_HIT: "true"})
        if s.name == contract.CACHE_SPAN
        else s
        for s in spans
    ]
    assert extract_calls(spans)[0].cache == "hit"


def test_duration_tool_outcome_and_scenario_come_from_the_gateway_spans() -> None:
    spans = trace("get_decision_tree", duration_ms=42.0, outcome="unavailable", scenario="load")
    (call,) = extract_calls(spans)
    assert call.tool == "get_decision_tree"
    assert call.duration_ms == pytest.approx(42.0)
    assert call.error and call.unavailable and call.outcome == "unavailable"
    assert call.scenario == "load" and call.has_server_span
    (five_hundred,) = extract_calls(trace(server_status=503))
    assert five_hundred.error and five_hundred.unavailable
    (invalid,) = extract_calls(trace(outcome="invalid_arguments", cache="none"))
    assert invalid.error and not invalid.unavailable


def test_without_the_server_span_the_tools_call_span_times_the_call() -> None:
    spans = [s for s in trace(duration_ms=10.0) if s.kind != "server" or s.service != contract.GATEWAY_SERVICE]
    (call,) = extract_calls(spans)
    assert not call.has_server_span
    assert call.duration_ms == pytest.approx(9.9)


def test_cold_calls_are_each_tools_first_call_not_served_from_cache() -> None:
    calls = calls_of(
        trace(at_s=1, cache="l1"),  # a hit first: not cold
        trace(at_s=2, cache="miss", duration_ms=700),
        trace(at_s=3, cache="miss", duration_ms=5),
        trace("list_sources", at_s=4, cache="none", duration_ms=30),
    )
    cold = cold_calls(calls)
    assert [c.tool for c in cold] == ["list_sources", "search_runbooks"]
    assert [c.duration_ms for c in cold] == pytest.approx([30.0, 700.0])


def test_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]
    assert nearest_rank(values, 95) == 19.0
    assert nearest_rank(values, 50) == 10.0
    assert nearest_rank(values, 100) == 20.0
    assert nearest_rank([5.0], 99) == 5.0
    with pytest.raises(ValueError):
        nearest_rank([], 50)


# -- the load phase ------------------------------------------------------------------------------------------------


def test_phase_by_scenario_attribute_drops_warmup_and_cooldown() -> None:
    traces = [trace(scenario="warmup", at_s=1), trace(scenario="load", at_s=15), trace(scenario="cooldown", at_s=31)]
    calls = calls_of(*traces)
    selection = phase_selection(summary(), calls)
    assert selection.method == "scenario"
    assert [c.scenario for c in calls if selection.includes(c)] == ["load"]
    assert selection.duration_s == 20 and selection.offered_rps == pytest.approx(10.0)
    assert selection.client_tags == {"phase": "load"}


def test_phase_by_time_window_when_spans_carry_no_scenario() -> None:
    calls = calls_of(trace(scenario=None, at_s=5), trace(scenario=None, at_s=12), trace(scenario=None, at_s=29.9))
    selection = phase_selection(summary(), calls)
    assert selection.method == "window"
    assert [round((c.start_ns - T0_NS) / 1e9, 1) for c in calls if selection.includes(c)] == [12.0, 29.9]


def test_no_summary_or_untagged_scenarios_count_the_whole_run() -> None:
    calls = calls_of(trace(scenario="warmup"))
    assert phase_selection(None, calls).includes(calls[0])
    untagged = {"scenarios": {"main": {"executor": "constant-vus", "vus": 2, "duration": "10s"}}}
    selection = phase_selection(summary(options_=untagged), calls_of(trace(scenario="main")))
    assert selection.scenarios == ["main"] and selection.client_tags == {}
    assert selection.offered_rps is None, "a closed model offers no rate"


def test_offered_rate_integrates_a_ramp() -> None:
    ramp = {
        "scenarios": {
            "up": {
                "executor": "ramping-arrival-rate",
                "startRate": 0,
                "timeUnit": "1s",
                "stages": [{"duration": "10s", "target": 20}, {"duration": "10s", "target": 20}],
                "preAllocatedVUs": 5,
                "tags": {"phase": "load"},
            }
        }
    }
    selection = phase_selection(summary(options_=ramp), [])
    assert selection.offered_rps == pytest.approx((100 + 200) / 20)


# -- latency targets -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "passed"), [(199.0, True), (200.0, False), (250.0, False)])
def test_cached_p95_at_below_and_above_its_bound(value: float, passed: bool) -> None:
    spans = flatten([trace(cache="l1", duration_ms=value) for _ in range(20)])
    result = find(evaluate(spans).targets, "cached_p95", "cache:hit")
    assert result.passed is passed
    assert result.margin == pytest.approx((200 - value) / 200)
    assert find(evaluate(spans).targets, "cached_p95", "tool:search_runbooks/cache:hit").passed is passed


@pytest.mark.parametrize(("value", "passed"), [(499.0, True), (500.0, False), (800.0, False)])
def test_uncached_p95_counts_misses_and_uncached_tools(value: float, passed: bool) -> None:
    spans = flatten(
        [trace(cache="miss", duration_ms=value) for _ in range(10)]
        + [trace("get_escalation_path", cache="none", duration_ms=value) for _ in range(10)]
    )
    results = evaluate(spans).targets
    assert find(results, "uncached_p95", "cache:miss+uncached").passed is passed
    assert find(results, "uncached_p95", "cache:miss+uncached").samples == 20
    assert find(results, "uncached_p95", "tool:get_escalation_path/cache:uncached").passed is None, "10 < 20"


@pytest.mark.parametrize(("value", "passed"), [(999.0, True), (1000.0, False), (1500.0, False)])
def test_overall_p95(value: float, passed: bool) -> None:
    spans = flatten([trace(cache="l1", duration_ms=5) for _ in range(19)] + [trace(cache="miss", duration_ms=value)])
    # the 19th of 20 is the p95: make it the slow one too
    spans += trace(cache="miss", duration_ms=value)
    result = find(evaluate(spans).targets, "p95")
    assert result.samples == 21
    assert result.passed is passed


def test_a_p95_below_the_sample_minimum_is_not_evaluable_never_a_silent_pass() -> None:
    few = evaluate(flatten([trace(cache="l1", duration_ms=5) for _ in range(19)]))
    result = find(few.targets, "cached_p95", "cache:hit")
    assert result.passed is None and result.observed is None
    assert "19 samples, 20 needed" in result.note
    enough = evaluate(flatten([trace(cache="l1", duration_ms=5) for _ in range(20)]))
    assert find(enough.targets, "cached_p95", "cache:hit").passed is True


def test_tool_stats_per_tool_and_cache_outcome_with_p99_only_from_100_samples() -> None:
    spans = flatten(
        [trace(cache="l1", duration_ms=float(i)) for i in range(1, 101)]
        + [trace(cache="miss", duration_ms=300) for _ in range(5)]
    )
    stats = {(s.tool, s.cache): s for s in evaluate(spans).tools}
    hit = stats[("search_runbooks", "hit")]
    assert (hit.count, hit.p50_ms, hit.p95_ms, hit.p99_ms, hit.max_ms) == (100, 50.0, 95.0, 99.0, 100.0)
    miss = stats[("search_runbooks", "miss")]
    assert (miss.count, miss.p50_ms, miss.p95_ms, miss.p99_ms) == (5, 300.0, None, None)
    assert stats[(ALL, "all")].count == 105
    assert ("search_runbooks", "uncached") not in stats


# -- errors, availability, throughput, cache, cold, resources ------------------------------------------------------


@pytest.mark.parametrize(("failures", "passed"), [(0, True), (1, False), (2, False)])
def test_error_rate_at_below_and_above_two_percent(failures: int, passed: bool) -> None:
    spans = flatten([trace(outcome="failed") for _ in range(failures)] + [trace() for _ in range(50 - failures)])
    result = find(evaluate(spans).targets, "error_rate")
    assert result.observed == pytest.approx(failures / 50)
    assert result.passed is passed


def test_error_rate_below_its_sample_minimum_is_not_evaluable() -> None:
    result = find(evaluate(flatten([trace() for _ in range(49)])).targets, "error_rate")
    assert result.passed is None


@pytest.mark.parametrize(("down", "passed"), [(0, True), (1, True), (2, False)])
def test_availability_at_and_around_99_percent(down: int, passed: bool) -> None:
    spans = flatten([trace(outcome="unavailable") for _ in range(down)] + [trace() for _ in range(100 - down)])
    result = find(evaluate(spans).targets, "availability")
    assert result.observed == pytest.approx(1 - down / 100)
    assert result.passed is passed


def _load_run(rps: float, requests: int, **kwargs: Any) -> tuple[list[SpanRecord], Summary]:
    spans = flatten([trace(at_s=10 + i * 20 / max(requests, 1)) for i in range(requests)])
    return spans, summary(options_=options(rps=rps), durations={"search_runbooks": [5.0] * requests}, **kwargs)


def test_throughput_targets_do_not_apply_to_a_scenario_offering_less() -> None:
    spans, s = _load_run(5.0, 100)
    results = evaluate(spans, summary=s).targets
    minimum = find(results, "throughput_min", "phase:load", "client")
    assert minimum.applicable is False and minimum.passed is None
    assert "offered 5 RPS" in minimum.note
    offered = find(results, "throughput_offered", "phase:load", "client")
    assert offered.passed is True and offered.observed == pytest.approx(5.0)


@pytest.mark.parametrize(("requests", "passed"), [(600, True), (560, False)])
def test_throughput_against_what_was_offered_and_the_seed_minimum(requests: int, passed: bool) -> None:
    spans, s = _load_run(30.0, requests)
    results = evaluate(spans, summary=s).targets
    assert find(results, "throughput_offered", "phase:load", "client").passed is passed, "95 % of 30/s is 28.5/s"
    minimum = find(results, "throughput_min", "phase:load", "client")
    assert minimum.applicable and minimum.passed is True and minimum.observed == pytest.approx(requests / 20)
    target = find(results, "throughput_target", "phase:load", "client")
    assert target.severity == "warning" and target.passed is True


def _hits(hits: int, misses: int) -> list[SpanRecord]:
    return flatten([trace(cache="l1") for _ in range(hits)] + [trace(cache="miss") for _ in range(misses)])


def test_hit_rate_is_checked_against_the_scenarios_intended_ratio() -> None:
    s = summary(targets={"cache_hit_ratio": 0.5})
    ok = evaluate(_hits(40, 60), summary=s).targets
    assert find(ok, "cache_hit_intended").passed is True, "0.40 ≥ 0.5 − 0.1"
    low = evaluate(_hits(39, 61), summary=s).targets
    assert find(low, "cache_hit_intended").passed is False
    minimum = find(ok, "cache_hit_min")
    assert minimum.applicable is False and "intends a 0.5" in minimum.note


def test_seed_hit_rate_targets_apply_when_the_scenario_intends_enough() -> None:
    s = summary(targets={"cache_hit_ratio": 0.8})
    results = evaluate(_hits(69, 31), summary=s).targets
    assert find(results, "cache_hit_min").passed is False
    assert find(results, "cache_hit_intended").passed is False
    assert find(results, "cache_hit_target").applicable is False, "0.8 intended: 85 % cannot be shown"
    exactly = evaluate(_hits(70, 30), summary=s).targets
    assert find(exactly, "cache_hit_min").passed is True
    without = evaluate(_hits(86, 14)).targets  # no scenario: both seed targets apply
    assert find(without, "cache_hit_min").passed is True
    assert find(without, "cache_hit_target").passed is True and find(without, "cache_hit_target").severity == "warning"


def test_a_scenario_intending_exactly_the_bound_leaves_it_to_the_intended_check() -> None:
    results = evaluate(_hits(69, 31), summary=summary(targets={"cache_hit_ratio": 0.7})).targets
    assert find(results, "cache_hit_min").applicable is False
    assert find(results, "cache_hit_intended").passed is True


@pytest.mark.parametrize(("value", "passed"), [(1999.0, True), (2000.0, False), (2500.0, False)])
def test_cold_start_bound_uses_the_slowest_cold_call(value: float, passed: bool) -> None:
    spans = flatten([trace(cache="miss", duration_ms=value, at_s=1, scenario="warmup"), trace(cache="miss", at_s=15)])
    result = find(evaluate(spans, summary=summary()).targets, "cold_max", "cold")
    assert result.passed is passed and result.samples == 1
    assert "search_runbooks" in result.note


@pytest.mark.parametrize(("mb", "passed"), [(2047.0, True), (2048.0, False), (3000.0, False)])
def test_memory_per_instance(mb: float, passed: bool) -> None:
    metrics = MetricInputs(memory_bytes={"pp-gateway/a": [100 * 2**20, mb * 2**20], "pp-retrieval/b": [2**20]})
    results = evaluate([], metrics=metrics).targets
    assert find(results, "memory", "instance:pp-gateway/a", "metrics").passed is passed
    assert find(results, "memory", "instance:pp-retrieval/b", "metrics").passed is True


@pytest.mark.parametrize(("mean", "passed"), [(0.79, True), (0.80, False), (0.95, False)])
def test_cpu_per_instance_is_the_mean_in_percent_of_a_core(mean: float, passed: bool) -> None:
    metrics = MetricInputs(cpu_utilization={"pp-gateway/a": [mean - 0.1, mean + 0.1]})
    result = find(evaluate([], metrics=metrics).targets, "cpu", "instance:pp-gateway/a", "metrics")
    assert result.observed == pytest.approx(mean * 100)
    assert result.passed is passed


def test_without_resource_metrics_memory_and_cpu_are_not_evaluable() -> None:
    results = evaluate([]).targets
    assert find(results, "memory", "instances", "metrics").passed is None
    assert find(results, "cpu", "instances", "metrics").passed is None


# -- client and metric sources, disagreements ----------------------------------------------------------------------


def test_client_figures_use_only_the_load_phase() -> None:
    s = summary(durations={"search_runbooks": [20.0] * 40}, corrected={"search_runbooks": [30.0] * 40})
    results = evaluate(flatten([trace(duration_ms=15) for _ in range(40)]), summary=s).targets
    assert find(results, "p95", source="client").observed == pytest.approx(20.0, rel=1e-3), "the 9999 ms warm-up"
    assert find(results, "p95", source="client_corrected").observed == pytest.approx(30.0, rel=1e-3)
    stats = {(t.tool, t.cache): t for t in evaluate([], summary=s).tools}
    assert stats == {}, "no traced call: no tool rows"
    traced = {(t.tool, t.cache): t for t in evaluate(flatten([trace() for _ in range(40)]), summary=s).tools}
    assert traced[("search_runbooks", "all")].client_p95_ms == pytest.approx(20.0, rel=1e-3)
    assert traced[("search_runbooks", "all")].client_corrected_p95_ms == pytest.approx(30.0, rel=1e-3)


def test_client_far_above_server_is_time_outside_the_services() -> None:
    s = summary(durations={"search_runbooks": [100.0] * 100})
    found = evaluate(flatten([trace(duration_ms=10) for _ in range(100)]), summary=s).disagreements
    overall = [d for d in found if d.what == "overall p99: client vs server spans"]
    assert len(overall) == 1 and "outside the services" in overall[0].explanation
    close = evaluate(flatten([trace(duration_ms=95) for _ in range(100)]), summary=s).disagreements
    assert not [d for d in close if "client vs server" in d.what]


def test_corrected_far_above_uncorrected_is_coordinated_omission() -> None:
    s = summary(durations={"search_runbooks": [10.0] * 100}, corrected={"search_runbooks": [400.0] * 100})
    found = evaluate(flatten([trace(duration_ms=9) for _ in range(100)]), summary=s).disagreements
    assert any("coordinated omission" in d.explanation and d.what.startswith("overall") for d in found)


def test_client_error_rate_disagreeing_with_the_spans_is_reported() -> None:
    s = summary(durations={"search_runbooks": [10.0] * 100}, errors=10)
    found = evaluate(flatten([trace() for _ in range(100)]), summary=s).disagreements
    assert any(d.what == "error rate: client vs server spans" for d in found)


def _hist(bounds: list[float], counts: list[int]) -> BucketHistogram:
    return BucketHistogram(bounds=bounds, counts=counts, count=sum(counts), sum=0.0)


def test_a_share_is_exact_only_at_a_bucket_bound() -> None:
    hist = _hist([0.1, 0.2, 0.5], [50, 40, 10, 0])
    assert _exact_share(hist, 0.2) == pytest.approx(0.9)
    assert _exact_share(hist, 0.3) is None
    assert _exact_share(_hist([0.1], [0, 0]), 0.1) is None


def test_metric_p95_is_a_warning_cross_check_decided_at_the_bucket_bound() -> None:
    bounds = list(contract.DURATION_BUCKETS_S)
    counts = [0] * (len(bounds) + 1)
    counts[bounds.index(1.0)] = 96  # (0.5, 1] s
    counts[bounds.index(2.0)] = 4
    result = find(evaluate([], metrics=MetricInputs(mcp_duration=_hist(bounds, counts))).targets,
                  "p95", source="metrics")  # fmt: skip
    assert result.severity == "warning" and result.passed is True
    assert "96.0% of calls at or below the 1000 ms bucket bound (exact)" in result.note


def test_spans_outside_the_metric_bucket_disagree() -> None:
    bounds = list(contract.DURATION_BUCKETS_S)
    counts = [0] * (len(bounds) + 1)
    counts[bounds.index(1.0)] = 100  # the metric says 0.5–1 s
    metrics = MetricInputs(mcp_duration=_hist(bounds, counts))
    found = evaluate(flatten([trace(duration_ms=20) for _ in range(30)]), metrics=metrics).disagreements
    assert any(d.what.startswith("overall p95: server spans vs") for d in found)


def test_scenario_targets_tighten_the_bounds_used() -> None:
    s = summary(targets={"error_rate": 0.01, "p95_ms": 2000.0})
    spans = flatten([trace() for _ in range(100)])
    results = evaluate(spans, summary=s).targets
    assert find(results, "error_rate").bound == 0.01
    assert find(results, "p95").bound == 1000.0, "a scenario never loosens the seed's floor"
    loose = evaluate(spans, summary=s, config=Config(scenario_targets=False)).targets
    assert find(loose, "error_rate").bound == 0.02
