"""The /performance window: time-based expiry, percentiles from buckets, hit rates, and the grade rule."""

from __future__ import annotations

import pytest

from services.gateway.performance import PerformanceWindow, Summary, grade


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_window_is_time_based_not_count_based() -> None:
    clock = Clock()
    window = PerformanceWindow(window_s=60, clock=clock)
    for _ in range(100):
        window.record("search_runbooks", 0.010, ok=True, cache="l1")
    clock.now += 30
    window.record("search_runbooks", 0.020, ok=False, cache="miss")
    assert window.summary(100, 5).tools["search_runbooks"].count == 101
    clock.now += 31  # the first 100 calls are now 61 s old
    summary = window.summary(100, 5)
    assert summary.tools["search_runbooks"].count == 1
    assert summary.tools["search_runbooks"].error_rate == 1.0
    assert summary.cache_hit_rate == {"miss": 1.0}


def test_percentiles_within_a_bucket_width() -> None:
    clock = Clock()
    window = PerformanceWindow(clock=clock)
    for ms in range(1, 101):  # 1..100 ms
        window.record("get_procedure", ms / 1000, ok=True, cache="l2")
    tool = window.summary(100, 5).tools["get_procedure"]
    assert tool.p50_ms == pytest.approx(50, rel=0.05)
    assert tool.p95_ms == pytest.approx(95, rel=0.05)
    assert tool.p99_ms == pytest.approx(99, rel=0.05)


def test_hit_rates_and_cached_uncached_split() -> None:
    clock = Clock()
    window = PerformanceWindow(clock=clock)
    for tier, seconds in (("l1", 0.001), ("l1", 0.001), ("l2", 0.002), ("miss", 0.3)):
        window.record("search_runbooks", seconds, ok=True, cache=tier)
    window.record("get_escalation_path", 0.004, ok=True, cache=None)  # not cacheable: not in hit rates
    summary = window.summary(100, 5)
    assert summary.cache_hit_rate == {"l1": 0.5, "l2": 0.25, "miss": 0.25}
    assert summary.cached_p95_ms is not None and summary.cached_p95_ms < 3
    assert summary.uncached_p95_ms is not None and summary.uncached_p95_ms > 250
    assert summary.overall.count == 5


def test_reset_clears_everything() -> None:
    window = PerformanceWindow(clock=Clock())
    window.record("ping", 0.001, ok=True, cache=None)
    window.reset()
    summary = window.summary(100, 5)
    assert summary.overall.count == 0
    assert summary.grade is None


@pytest.mark.parametrize(
    ("p95_ms", "error_rate", "expected"),
    [(50, 0.0, "A"), (140, 0.0, "B"), (190, 0.0, "C"), (250, 0.0, "D"), (400, 0.0, "F"), (10, 0.05, "F")],
    ids=["a", "b", "c", "d", "f-latency", "f-errors"],
)
def test_grade_follows_the_worst_target_ratio(p95_ms: float, error_rate: float, expected: str) -> None:
    clock = Clock()
    window = PerformanceWindow(clock=clock)
    errors = round(error_rate * 100)
    for i in range(100):
        window.record("search_runbooks", p95_ms / 1000, ok=i >= errors, cache="l1")
    summary = window.summary(memory_mb=100, cpu_percent=5)
    assert summary.grade == expected
    assert grade(summary)[0] == expected
    assert isinstance(summary, Summary)
