"""Options from the command line, the Verdict for the HTML report, the terminal summary and bench.json."""

from __future__ import annotations

import argparse

import msgspec
import pytest

from loadtests.bench import BenchOptions, BenchResult, add_bench_arguments, bench_verdict, options_from_args
from loadtests.bench.capacity import Observation, SearchConfig, search_capacity
from loadtests.bench.cli import write_reports
from loadtests.bench.result import (
    SCHEMA,
    CacheImprovement,
    LatencyStats,
    MemoryResult,
    PhaseResult,
    ServiceMemory,
    TimelinePoint,
    ToolPhaseStats,
)
from loadtests.bench.summary import render_summary
from loadtests.errors import ConfigError
from loadtests.validate.verdict import Verdict


def _parse(*argv: str) -> BenchOptions:
    parser = argparse.ArgumentParser()
    add_bench_arguments(parser)
    return options_from_args(parser.parse_args(list(argv)))


def test_defaults_quick_and_flags_on_top_of_quick():
    assert _parse() == BenchOptions()
    quick = _parse("--quick")
    assert quick.quick and quick.load_s < 5 and quick.capacity_max_steps <= 4
    tuned = _parse("--quick", "--vus", "8", "--load-duration", "3s", "--phases", "baseline,capacity", "--cached-p99",
                   "150", "--memory-duration", "5m", "--max-loop-lag", "20ms")  # fmt: skip
    assert tuned.quick and tuned.vus == 8 and tuned.load_s == 3.0 and tuned.memory_s == 300.0
    assert tuned.phases == ("baseline", "capacity") and tuned.cached_p99_ms == 150.0
    assert tuned.max_loop_lag_ms == pytest.approx(20.0)
    assert tuned.warmup_s == quick.warmup_s  # untouched quick values stay


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (("--phases", "load,soak"), "--phases"),
        (("--tools", "search_runbooks,nope"), "--tools"),
        (("--hit-ratio", "1.5"), "--hit-ratio"),
        (("--capacity-factor", "1"), "--capacity-factor"),
        (("--target", "https://x/mcp"), "--target"),
    ],
)
def test_bad_options_are_one_config_error_naming_the_flag(argv, flag):
    with pytest.raises(ConfigError) as caught:
        _parse(*argv)
    assert caught.value.where == flag


def _stats(p50: float, p95: float, count: int = 100, errors: int = 0) -> LatencyStats:
    return LatencyStats(count=count, errors=errors, mean_ms=p50, p50_ms=p50, p90_ms=p95, p95_ms=p95, p99_ms=p95 * 1.2,
                        max_ms=p95 * 2)  # fmt: skip


def _tool(tool: str, by_cache: dict[str, LatencyStats], *, vus: int = 1, error_rate: float = 0.0) -> ToolPhaseStats:
    overall = next(iter(by_cache.values()))
    return ToolPhaseStats(tool=tool, vus=vus, duration_s=10.0, throughput_rps=100.0, error_rate=error_rate,
                          latency=overall, by_cache=by_cache)  # fmt: skip


def _phase(name: str, tools: list[ToolPhaseStats], start: float, *, generator_ok: bool = True) -> PhaseResult:
    return PhaseResult(name=name, model="closed", started_unix=start, ended_unix=start + 10, tools=tools,
                       generator_ok=generator_ok, generator_notes=[] if generator_ok else ["lagged"])  # fmt: skip


def result(
    *, hit_p95: float = 1.5, load_errors: float = 0.0, knee_capacity: float = 500.0, slope: float = 0.1
) -> BenchResult:
    baseline = _phase(
        "baseline",
        [
            _tool(
                "search_runbooks", {"cold": _stats(20, 20, count=1), "miss": _stats(4, 6), "hit": _stats(1, hit_p95)}
            ),
            _tool("get_escalation_path", {"cold": _stats(2, 2, count=1), "none": _stats(1, 2)}),
        ],
        1010.0,
    )
    load = _phase(
        "load",
        [_tool("search_runbooks", {"hit": _stats(5, 20), "miss": _stats(9, 40)}, vus=16, error_rate=load_errors)],
        1030.0,
        generator_ok=False,
    )

    def probe(rate: float) -> Observation:
        ok = rate <= knee_capacity
        return Observation(offered_rps=rate, achieved_rps=rate, p50_ms=1.0, p95_ms=5.0, p99_ms=10.0 if ok else 500.0)

    capacity = search_capacity(probe, SearchConfig(start_rps=25.0, factor=2.0, bisect=2))
    service = ServiceMemory(
        service="retrieval", metrics_url="http://x", samples=90, rss_start_mib=110.0, rss_end_mib=111.0,
        rss_peak_mib=112.0, cpu_mean=0.6, cpu_peak=0.9, slope_mib_per_min=slope, slope_stderr=0.05, window_s=144.0,
        needed_window_s=30.0, growth_kib_per_1k_requests=0.1, verdict="ok" if slope < 2 else "leak", detail="fine",
        bench_peak_rss_mib=115.0,
    )  # fmt: skip
    memory = MemoryResult(threshold_mib_per_min=2.0, min_window_s=120.0, settle_fraction=0.2, interval_s=2.0,
                          services=[service], verdict=service.verdict)  # fmt: skip
    improvement = CacheImprovement(tool="search_runbooks", miss=_stats(4, 6), hit=_stats(1, 1.5), p50_saving_ms=3.0,
                                   p50_ratio=4.0, p95_saving_ms=4.5, p95_ratio=4.0, intended_hit_ratio=0.75,
                                   server={"l1_hit": 3.0, "l1_miss": 1.0}, server_hit_ratio=0.75)  # fmt: skip
    return BenchResult(
        bench_id="t1", started_unix=1000.0, ended_unix=1200.0, target="http://127.0.0.1:1/mcp", embedded=True,
        workers=1, cores=2, options={}, phases=[baseline, load], cache=[improvement], memory=memory,
        capacity=capacity, timeline=[TimelinePoint(11.0, "baseline", 50.0, 0.0, 1.0, 2.0, 3.0),
                                     TimelinePoint(150.0, "capacity-1", 25.0, 0.0, 1.0, 2.0, 3.0)],
    )  # fmt: skip


def test_a_good_run_passes_with_grade_a():
    verdict = bench_verdict(result())
    assert verdict.exit_code == 0 and verdict.passed and verdict.grade == "A"
    ids = {t.id for t in verdict.targets}
    assert {"cached_p95", "uncached_p95", "cold_ms", "p95", "error_rate", "throughput_min", "memory_mb"} <= ids
    assert [p.name for p in verdict.phases] == ["baseline", "load", "capacity"]
    assert verdict.capacity and [c.offered_rps for c in verdict.capacity] == sorted(
        c.offered_rps for c in verdict.capacity
    )
    assert any(not q.ok and q.name == "generator_health:load" for q in verdict.quality)
    assert verdict.timeseries[0].t == 11.0


def test_failed_targets_lower_the_grade_and_fail_the_exit_code():
    one = bench_verdict(result(hit_p95=250.0))
    assert one.exit_code == 1 and one.grade == "C"
    failed = [t for t in one.targets if t.passed is False]
    assert [(t.id, t.scope) for t in failed] == [("cached_p95", "tool:search_runbooks/cache:hit")]
    assert failed[0].margin is not None and failed[0].margin < 0
    assert bench_verdict(result(hit_p95=250.0, load_errors=0.1, slope=10.0)).grade == "F"


def test_only_a_missed_seed_throughput_target_is_a_warning():
    verdict = bench_verdict(result(knee_capacity=20.0))  # knee at ~20/s: above 10, below 25
    assert verdict.grade == "B" and verdict.exit_code == 0


def test_the_verdict_is_the_validators_schema():
    data = msgspec.json.encode(bench_verdict(result()))
    assert msgspec.json.decode(data, type=Verdict).run_id == "t1"


def test_summary_shows_every_section_and_the_knee():
    verdict = bench_verdict(result())
    text = render_summary(result(), verdict)
    for heading in ("█ BASELINE", "█ LOAD", "█ CACHE", "█ MEMORY", "█ CAPACITY", "grade A"):
        assert heading in text
    assert "NOT TRUSTWORTHY" in text  # the load phase's generator lagged
    assert "×4.0" in text  # the cache improvement
    assert "knee: " in text and "limited by server" in text
    assert "BROKEN" in text


def test_reports_round_trip(tmp_path):
    data = msgspec.structs.replace(result(), report_dir=str(tmp_path / "bench-t1"))
    written = write_reports(data, bench_verdict(data), html=False)
    assert [p.name for p in written] == ["bench.json", "verdict.json"]
    back = msgspec.json.decode(written[0].read_bytes(), type=BenchResult)
    assert back.schema == SCHEMA
    assert back == data
