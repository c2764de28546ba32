"""Worker-side series: one object per (name, tags), deltas that reset on drain, exemplars kept by the rules."""

from __future__ import annotations

import random

import msgspec
import pytest

from loadtests.metrics import Histogram, IntervalReport, MetricType, Registry, SeriesDelta, ValueKind
from loadtests.metrics.hdr import bucket_floor, bucket_index
from loadtests.metrics.series import BAND_SHIFT


def test_same_name_and_tags_give_the_same_series_whatever_the_tag_form() -> None:
    registry = Registry()
    a = registry.counter("http_reqs", {"b": "2", "a": "1"})
    b = registry.counter("http_reqs", (("a", "1"), ("b", "2")))
    assert a is b
    assert registry.counter("http_reqs", {"a": "1"}) is not a
    assert registry.trend("t", {"x": "y"}) is registry.trend("t", {"x": "y"})
    assert len(registry) == 3


def test_one_name_cannot_have_two_types_or_two_kinds() -> None:
    registry = Registry()
    registry.counter("things")
    with pytest.raises(ValueError, match="'things' is a counter"):
        registry.rate("things", {"other": "tags"})
    registry.trend("latency", kind=ValueKind.TIME)
    with pytest.raises(ValueError, match="latency"):
        registry.trend("latency", kind=ValueKind.DEFAULT)
    assert registry.metric_type("things") is MetricType.COUNTER


def test_builtin_kinds_apply_to_counters() -> None:
    registry = Registry()
    registry.counter("data_received").add(100)
    registry.counter("my_counter").add()
    kinds = {d.name: d.kind for d in registry.drain(1.0).series}
    assert kinds == {"data_received": ValueKind.DATA, "my_counter": ValueKind.DEFAULT}


def test_drain_returns_only_what_changed_and_resets_it() -> None:
    registry = Registry(start_unix=100.0)
    reqs = registry.counter("http_reqs", {"s": "a"})
    vus = registry.gauge("vus")
    failed = registry.rate("http_req_failed")
    duration = registry.trend("http_req_duration")
    registry.counter("never_used")
    reqs.add()
    reqs.add(2.5)
    vus.set(5)
    vus.set(2)
    vus.set(3)
    failed.add(True)
    failed.add(False)
    failed.add(False)
    for v in (10.0, 20.0, 30.0):
        duration.add(v)

    report = registry.drain(101.0)
    assert (report.started, report.time) == (100.0, 101.0)
    by_name = {d.name: d for d in report.series}
    assert set(by_name) == {"http_reqs", "vus", "http_req_failed", "http_req_duration"}
    assert (by_name["http_reqs"].value, by_name["http_reqs"].samples, by_name["http_reqs"].tags) == (3.5, 2, {"s": "a"})
    assert (by_name["vus"].value, by_name["vus"].min, by_name["vus"].max) == (3, 2, 5)
    assert (by_name["http_req_failed"].passes, by_name["http_req_failed"].total) == (1, 3)
    hist_struct = by_name["http_req_duration"].hist
    assert hist_struct is not None
    hist = Histogram.from_sparse(hist_struct)
    assert (hist.count, hist.min, hist.max, hist.mean) == (3, 10.0, 30.0, 20.0)

    reqs.add()
    second = registry.drain(102.0)
    assert [(d.name, d.value) for d in second.series] == [("http_reqs", 1.0)]
    assert second.started == 101.0
    assert registry.drain(103.0).series == []


def test_a_gauge_keeps_its_last_value_across_intervals() -> None:
    registry = Registry()
    g = registry.gauge("queue")
    g.set(10)
    registry.drain(1.0)
    g.set(4)
    (delta,) = registry.drain(2.0).series
    assert (delta.value, delta.min, delta.max) == (4, 4, 10), "the interval started at 10"


def test_report_round_trips_through_msgpack() -> None:
    registry = Registry()
    registry.trend("http_req_duration", {"tool": "search"}).add(12.0, "a" * 32)
    registry.rate("checks", {"check": "ok"}).add(True)
    report = registry.drain(5.0)
    report.worker = 3
    again = msgspec.msgpack.decode(msgspec.msgpack.encode(report), type=IntervalReport)
    assert again == report
    assert again.series[0].type is MetricType.TREND


def test_exemplars_before_the_first_drain_are_all_candidates_capped_to_the_largest() -> None:
    registry = Registry(exemplar_cap=4)
    trend = registry.trend("http_req_duration")
    for i in range(1, 11):
        trend.add(float(i), f"trace{i}")
    trend.add(100.0)  # no exemplar: recorded, never a candidate
    (delta,) = registry.drain(1.0).series
    assert [e.value for e in delta.exemplars] == [10.0, 9.0, 8.0, 7.0]
    assert [e.trace_id for e in delta.exemplars] == ["trace10", "trace9", "trace8", "trace7"]
    assert not any(e.failed for e in delta.exemplars)
    assert delta.samples == 11


def test_after_a_drain_only_samples_at_or_above_the_cumulative_p95_are_candidates() -> None:
    registry = Registry()
    trend = registry.trend("http_req_duration")
    for i in range(1, 101):
        trend.add(float(i), f"t{i}")
    registry.drain(1.0)
    floor = trend.exemplar_floor
    assert 95.0 * (1 - 1 / 128) <= floor <= 95.0, "the lower edge of the 1/128-octave band of the 95th of 100"
    assert floor == bucket_floor(bucket_index(95.0) >> BAND_SHIFT << BAND_SHIFT)
    trend.add(94.0, "not-slow-enough")
    trend.add(floor, "at-the-floor")
    trend.add(500.0, "slow")
    (delta,) = registry.drain(2.0).series
    assert [e.trace_id for e in delta.exemplars] == ["slow", "at-the-floor"]
    # 103 samples: the 98th is 96, so the floor moves up to 96's band.
    assert trend.exemplar_floor == bucket_floor(bucket_index(96.0) >> BAND_SHIFT << BAND_SHIFT) > floor


def test_failures_are_kept_whatever_their_value_up_to_the_cap() -> None:
    registry = Registry(failure_cap=3)
    trend = registry.trend("mcp_tool_duration")
    for i in range(100):
        trend.add(1000.0 + i, f"ok{i}")
    registry.drain(1.0)
    for i in range(5):
        trend.add_failure(0.5, f"fail{i}")  # fast failures: far below the floor
    trend.add_failure(0.7)  # no trace id: recorded only
    (delta,) = registry.drain(2.0).series
    assert [e.trace_id for e in delta.exemplars] == ["fail0", "fail1", "fail2"]
    assert all(e.failed for e in delta.exemplars)
    assert delta.samples == 6, "failures are samples of the trend too"


def test_exemplar_time_is_unix_seconds() -> None:
    registry = Registry()
    registry.trend("x").add(1.0, "t")
    (delta,) = registry.drain(1.0).series
    assert delta.exemplars[0].time > 1.6e9


def test_each_interval_holds_exactly_the_buckets_and_exact_fields_of_its_samples() -> None:
    rng = random.Random(3)
    registry = Registry()
    trend = registry.trend("mcp_tool_duration", {"tool": "search"})
    whole = Histogram()
    drained = Histogram()
    for second in range(1, 6):
        samples = [rng.lognormvariate(3, 1.5) for _ in range(rng.randrange(1, 800))]
        samples += [0.0, 0.0004, 4e6] if second == 3 else []  # zero, rounding to zero, beyond the range
        interval = Histogram()
        for i, v in enumerate(samples):
            if i % 5 == 0:
                trend.add_failure(v, f"f{i}")
            else:
                trend.add(v, f"t{i}" if i % 2 else None)
            interval.record(v)
            whole.record(v)
        (delta,) = msgspec.msgpack.decode(
            msgspec.msgpack.encode(registry.drain(float(second))), type=IntervalReport
        ).series
        assert delta.hist is not None
        assert delta.samples == delta.hist.count == len(samples)
        assert Histogram.from_sparse(delta.hist) == interval, "bucket by bucket, and count/sum/min/max/clamped"
        assert delta.hist.clamped == (1 if second == 3 else 0)
        drained.add_sparse(delta.hist)
    assert drained == whole
    assert drained.encode() == whole.encode()


def test_a_delta_survives_the_raw_json_lines() -> None:
    registry = Registry()
    trend = registry.trend("http_req_duration", {"scenario": "a"})
    for v in (1.0, 2.5, 2.5, 900.0):
        trend.add(v, "a" * 32)
    trend.add_failure(3.0, "b" * 32)
    (delta,) = registry.drain(1.0).series
    line = msgspec.json.encode({"type": "Interval", "worker": 0, **msgspec.to_builtins(delta)})
    again = msgspec.json.decode(line, type=SeriesDelta)
    assert again == delta
    assert delta.hist is not None
    assert msgspec.json.decode(line)["hist"]["buckets"] == {str(k): v for k, v in delta.hist.buckets.items()}


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_a_bad_trend_value_raises_and_records_nothing(bad: float) -> None:
    registry = Registry()
    trend = registry.trend("t")
    trend.add(5.0)
    with pytest.raises(ValueError, match=r"non-negative|finite"):
        trend.add(bad, "trace")
    (delta,) = registry.drain(1.0).series
    assert delta.hist is not None
    assert (delta.samples, delta.hist.min, delta.hist.max, delta.exemplars) == (1, 5.0, 5.0, [])


def band_floor(hist: Histogram, p: float = 95.0) -> float:
    """The lower edge of the exemplar band holding the cumulative percentile ``p``."""
    return bucket_floor(bucket_index(hist.percentile_floor(p)) >> BAND_SHIFT << BAND_SHIFT)


@pytest.mark.parametrize(
    ("shape", "seed"), [(shape, seed) for shape in ("steady", "rising", "sparse") for seed in (1, 2)]
)
def test_the_floor_is_the_band_of_the_cumulative_p95(shape: str, seed: int) -> None:
    rng = random.Random(seed)
    registry = Registry()
    trend = registry.trend("d")
    whole = Histogram()
    for second in range(40):
        mu = 1.0 + 0.2 * second if shape == "rising" else 2.0
        n = rng.choice([0, 1, 3]) if shape == "sparse" else rng.choice([40, 400])
        for _ in range(n):
            v = rng.lognormvariate(mu, 1)
            trend.add(v, "t" if rng.random() < 0.5 else None)
            whole.record(v)
        registry.drain(float(second))
        if whole.count:
            assert trend.exemplar_floor == band_floor(whole), second


def test_when_the_p95_sinks_far_the_floor_falls_lower_never_higher() -> None:
    rng = random.Random(1)
    registry = Registry()
    trend = registry.trend("d")
    whole = Histogram()
    for second in range(60):
        recent = Histogram()
        for _ in range(400):
            v = rng.lognormvariate(5.0 if second < 30 else 1.0, 1)  # then everything 50 times faster
            trend.add(v)
            whole.record(v)
            recent.record(v)
        registry.drain(float(second))
        assert trend.exemplar_floor <= band_floor(whole), "never above: qualifying samples stay candidates"
        if second < 30:
            assert trend.exemplar_floor == band_floor(whole)
    # The cumulative p95 slid from the slow samples' p95 towards their p90, past the floors it had: the samples in
    # between were not counted, so the floor is lower than it, yet far above the fast samples.
    assert recent.percentile(95) * 10 < trend.exemplar_floor < band_floor(whole) * 0.9
