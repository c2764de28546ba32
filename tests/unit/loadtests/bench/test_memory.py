"""The leak slope, its verdicts, and reading the services' Prometheus text."""

from __future__ import annotations

import random
import time

import pytest

from loadtests.bench.memory import (
    MetricsSampler,
    cache_counters,
    fit_slope,
    judge_memory,
    needed_window_s,
    parse_prometheus,
    worst_verdict,
)
from loadtests.bench.result import ResourceSample, ServiceMemory
from tests.support.stand_in import Answer, StandInServer

# As the services expose it (otel.metrics.ProcessMetrics and retrieval's cache counters), abridged.
SCOPE = 'otel_scope_name="personal-pipeline",otel_scope_schema_url="",otel_scope_version=""'
CACHE = 'pp_cache_requests_total{cache_tier="%s",pp_cache_content_type="runbooks",pp_cache_result="%s"} %s'
EXPOSITION = "\n".join(
    [
        "# HELP process_memory_usage_bytes Resident set size.",
        "# TYPE process_memory_usage_bytes gauge",
        f"process_memory_usage_bytes{{{SCOPE}}} 1.06299392e+08",
        "# TYPE process_cpu_utilization gauge",
        f"process_cpu_utilization{{{SCOPE}}} 0.25",
        CACHE % ("l1", "hit", "7.0"),
        CACHE % ("l1", "miss", "3.0"),
        CACHE % ("l2", "miss", "3.0"),
        'http_server_request_duration_seconds_bucket{le="+Inf"} 4.0',
        "not a metric line",
    ]
)


def test_parse_prometheus_reads_names_labels_and_values():
    samples = parse_prometheus(EXPOSITION)
    names = [name for name, _, _ in samples]
    assert names.count("pp_cache_requests_total") == 3
    rss = next(v for n, _, v in samples if n == "process_memory_usage_bytes")
    assert rss == pytest.approx(106_299_392.0)
    labels = next(lab for n, lab, _ in samples if n == "http_server_request_duration_seconds_bucket")
    assert labels == {"le": "+Inf"}


def test_cache_counters_group_by_content_type_tier_and_result():
    counters = cache_counters(parse_prometheus(EXPOSITION))
    assert counters == {"runbooks": {"l1_hit": 7.0, "l1_miss": 3.0, "l2_miss": 3.0}}


def test_fit_slope_recovers_a_line_exactly():
    xs = [0.0, 1.0, 2.0, 3.0, 4.0]
    fit = fit_slope(xs, [10.0 + 2.5 * x for x in xs])
    assert fit is not None
    assert fit.slope == pytest.approx(2.5)
    assert fit.intercept == pytest.approx(10.0)
    assert fit.stderr == pytest.approx(0.0, abs=1e-12)


def test_fit_slope_standard_error_matches_the_textbook_formula():
    rng = random.Random(7)
    xs = [i / 10 for i in range(200)]
    ys = [50.0 + 1.0 * x + rng.gauss(0.0, 0.5) for x in xs]
    fit = fit_slope(xs, ys)
    assert fit is not None
    assert fit.slope == pytest.approx(1.0, abs=0.05)
    # SE = sigma / sqrt(Sxx): about 0.5 / sqrt(200 * var(x)) for evenly spaced x
    mean = sum(xs) / len(xs)
    sxx = sum((x - mean) ** 2 for x in xs)
    assert fit.stderr == pytest.approx(0.5 / sxx**0.5, rel=0.2)


def test_fit_slope_needs_two_points_with_spread():
    assert fit_slope([1.0], [2.0]) is None
    assert fit_slope([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]) is None


def test_needed_window_grows_with_noise_and_shrinks_with_the_threshold():
    quiet = needed_window_s(0.1, 2.0, 2.0)
    noisy = needed_window_s(1.0, 2.0, 2.0)
    loose = needed_window_s(1.0, 2.0, 8.0)
    assert quiet is not None and noisy is not None and loose is not None
    assert quiet < noisy
    assert loose < noisy
    # the formula: (48 σ² Δ / thr²)^(1/3) minutes
    assert noisy == pytest.approx(60.0 * (48.0 * 1.0 * (2.0 / 60.0) / 4.0) ** (1 / 3))


def _samples(
    seconds: float, interval: float, slope_per_min: float, noise: float, seed: int = 1
) -> list[ResourceSample]:
    rng = random.Random(seed)
    count = int(seconds / interval) + 1
    return [
        ResourceSample(i * interval, 100.0 + slope_per_min * (i * interval) / 60.0 + rng.gauss(0.0, noise), 0.5)
        for i in range(count)
    ]


def _judge(samples: list[ResourceSample], seconds: float, requests: int = 0) -> ServiceMemory:
    return judge_memory(
        "retrieval",
        "http://127.0.0.1:1",
        samples,
        phase_start_s=0.0,
        phase_end_s=seconds,
        threshold_mib_per_min=2.0,
        min_window_s=120.0,
        settle_fraction=0.2,
        interval_s=2.0,
        requests=requests,
    )


def test_steady_growth_well_above_the_threshold_is_a_leak():
    judged = _judge(_samples(300, 2.0, slope_per_min=10.0, noise=0.5), 300)
    assert judged.verdict == "leak"
    assert judged.slope_mib_per_min == pytest.approx(10.0, abs=0.5)
    assert judged.window_s == pytest.approx(240.0, abs=2.0)  # the first 20 % settled


def test_flat_memory_is_ok():
    judged = _judge(_samples(300, 2.0, slope_per_min=0.0, noise=0.5), 300, requests=30_000)
    assert judged.verdict == "ok"
    assert judged.growth_kib_per_1k_requests is not None
    assert abs(judged.growth_kib_per_1k_requests) < 5.0


def test_a_slope_above_the_threshold_but_inside_the_noise_is_suspect():
    # 3 MiB/min under a ±8 MiB allocator zig-zag: above the 2 MiB/min threshold, but not by two standard errors
    samples = [ResourceSample(t, 100.0 + 3.0 * t / 60.0 + (8.0 if i % 2 else -8.0), None) for i, t in
               enumerate(float(x) for x in range(0, 162, 2))]  # fmt: skip
    judged = _judge(samples, 160)
    slope, stderr = judged.slope_mib_per_min, judged.slope_stderr
    assert slope is not None and stderr is not None
    assert slope == pytest.approx(3.0, abs=0.5)
    assert slope - 2 * stderr < 2.0
    assert judged.verdict == "suspect"


def test_a_short_window_is_insufficient_whatever_its_slope():
    judged = _judge(_samples(30, 0.5, slope_per_min=100.0, noise=0.0), 30)
    assert judged.verdict == "insufficient"
    assert "120 s" in judged.detail


def test_no_samples_is_unavailable():
    judged = _judge([], 300)
    assert judged.verdict == "unavailable"
    assert judged.rss_peak_mib is None


def test_peak_and_cpu_come_from_every_sample_of_the_phase():
    samples = [ResourceSample(0.0, 100.0, 0.2), ResourceSample(1.0, 140.0, 0.9), ResourceSample(2.0, 120.0, None)]
    judged = _judge(samples, 2.0)
    assert judged.rss_peak_mib == 140.0
    assert judged.rss_start_mib == 100.0 and judged.rss_end_mib == 120.0
    assert judged.cpu_mean == pytest.approx(0.55)
    assert judged.cpu_peak == 0.9


def test_worst_verdict_orders_by_severity():
    assert worst_verdict(["ok", "insufficient", "suspect"]) == "suspect"
    assert worst_verdict(["ok", "leak", "suspect"]) == "leak"
    assert worst_verdict(["ok", "ok"]) == "ok"
    assert worst_verdict([]) == "unavailable"


class _Metrics(StandInServer):
    rss = 100 * 1024 * 1024

    def answer(self, method: str, path: str, body: bytes) -> Answer:
        if path != "/metrics":
            return Answer(404)
        text = f"process_memory_usage_bytes {self.rss}\nprocess_cpu_utilization 0.5\n"
        return Answer(200, text.encode(), "text/plain")


def test_the_sampler_scrapes_each_service_until_stopped():
    with _Metrics() as server:
        sampler = MetricsSampler({"gateway": server.url, "retrieval": "http://127.0.0.1:9"}, interval=0.05)
        started = time.time()
        sampler.start()
        deadline = time.monotonic() + 5.0
        while len(sampler.points["gateway"]) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        sampler.stop()
        count = len(sampler.points["gateway"])
        assert count >= 3
        time.sleep(0.15)
        assert len(sampler.points["gateway"]) == count  # stopped means stopped
        window = sampler.window("gateway", started, time.time(), started)
        assert window and all(s.rss_mib == pytest.approx(100.0) and s.cpu == 0.5 for s in window)
        assert sampler.peak("gateway") == pytest.approx(100.0)
        assert sampler.points["retrieval"] == [] and sampler.failures["retrieval"] >= 1
