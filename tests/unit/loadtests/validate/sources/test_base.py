"""BucketHistogram: Prometheus' quantile interpolation, exact shares at bounds, merging; and the increase rules."""

from __future__ import annotations

import bisect
import math
import random

import msgspec
import pytest

from loadtests.validate.sources import BucketHistogram, QuantileEstimate
from loadtests.validate.sources._series import Point, counter_increase, histogram_increase, label_text
from loadtests.validate.sources.base import SourceError


def histogram(bounds: list[float], counts: list[int]) -> BucketHistogram:
    return BucketHistogram(bounds=bounds, counts=counts, count=sum(counts), sum=0.0)


def test_quantiles_interpolate_inside_the_bucket_like_histogram_quantile() -> None:
    h = histogram([1.0, 2.0, 4.0], [2, 2, 0, 0])
    assert h.quantile(0.5) == QuantileEstimate(1.0, 0.0, 1.0, overflow=False)  # rank 2: the end of bucket 1
    assert h.quantile(0.75) == QuantileEstimate(1.5, 1.0, 2.0, overflow=False)  # rank 3: half into (1, 2]
    assert h.quantile(1.0).value == 2.0
    assert h.quantile(0.0) == QuantileEstimate(0.0, 0.0, 1.0, overflow=False)  # the first bucket holding anything
    assert histogram([1.0, 2.0], [0, 4, 0]).quantile(0.0).value == 1.0


def test_a_quantile_in_the_inf_bucket_is_flagged() -> None:
    h = histogram([0.1, 0.5], [1, 0, 3])
    found = h.quantile(0.95)
    assert found.overflow
    assert (found.value, found.lower, found.upper) == (0.5, 0.5, math.inf)
    assert not h.quantile(0.25).overflow


def test_empty_and_invalid() -> None:
    empty = BucketHistogram.empty([1.0])
    assert math.isnan(empty.quantile(0.5).value)
    assert math.isnan(empty.share_below(1.0))
    assert math.isnan(empty.mean)
    with pytest.raises(ValueError, match="not in"):
        empty.quantile(1.5)
    with pytest.raises(ValueError, match="bounds \\+ 1"):
        BucketHistogram(bounds=[1.0], counts=[1], count=1, sum=0.0)


def test_shares_are_exact_at_bounds_and_interpolated_between() -> None:
    h = histogram([0.2, 0.5, 1.0], [6, 2, 1, 1])
    assert h.share_below(0.2) == 0.6
    assert h.share_below(0.5) == 0.8
    assert h.share_below(0.35) == pytest.approx((6 + 2 * 0.5) / 10)
    assert h.share_below(0.1) == pytest.approx(0.3)
    assert h.share_below(5.0) == 0.9  # the +Inf bucket stays above any finite bound
    assert h.share_below(-1.0) == 0.0


def test_the_estimate_brackets_the_true_quantile() -> None:
    rng = random.Random(7)
    bounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0]
    for _ in range(50):
        values = sorted(rng.lognormvariate(-3, 1.2) for _ in range(rng.randint(1, 400)))
        counts = [0] * (len(bounds) + 1)
        for value in values:
            counts[bisect.bisect_left(bounds, value)] += 1
        h = histogram(bounds, counts)
        for q in (0.01, 0.5, 0.9, 0.95, 0.99, 1.0):
            true = values[math.ceil(q * len(values)) - 1]
            found = h.quantile(q)
            assert found.lower < true <= found.upper or (found.lower == 0.0 and true <= found.upper)
            assert found.lower <= found.value <= max(found.lower, min(found.upper, bounds[-1]))
            assert found.overflow == (true > bounds[-1])


def test_adding_and_encoding() -> None:
    a = BucketHistogram(bounds=[1.0], counts=[1, 2], count=3, sum=4.0)
    a.add(BucketHistogram(bounds=[1.0], counts=[5, 0], count=5, sum=1.0))
    assert (a.counts, a.count, a.sum, a.mean) == ([6, 2], 8, 5.0, 5.0 / 8)
    with pytest.raises(ValueError, match="different bounds"):
        a.add(BucketHistogram.empty([2.0]))
    assert msgspec.json.decode(msgspec.json.encode(a), type=BucketHistogram) == a


def point(t: int, value: float, *, start: int | None = None, series: str = "s", **labels: str) -> Point:
    return Point(series=series, labels=labels, kind="sum", time_ns=t, start_ns=start, value=value)


def test_a_counter_reset_without_start_times_is_a_drop() -> None:
    points = [point(0, 10), point(10, 15), point(20, 3), point(30, 7)]  # restarted between 10 and 20
    assert counter_increase(points, by=(), start_ns=5, end_ns=30) == {(): 5 + 3 + 4}
    # without a point before the window and no start time, the series is taken as born in it (Prometheus' view)
    assert counter_increase(points[1:], by=(), start_ns=5, end_ns=30) == {(): 15 + 3 + 4}


def test_an_up_down_counter_may_go_down() -> None:
    points = [Point(series="s", labels={}, kind="sum", time_ns=t, start_ns=0, monotonic=False, value=v)
              for t, v in ((0, 10), (10, 4), (20, 6))]  # fmt: skip
    assert counter_increase(points, by=(), start_ns=0, end_ns=20) == {(): -4.0}


def test_groups_with_different_bounds_are_refused() -> None:
    def h(series: str, bounds: tuple[float, ...]) -> Point:
        counts = tuple([1] * (len(bounds) + 1))
        return Point(series=series, labels={}, kind="histogram", time_ns=5, bounds=bounds, counts=counts, count=1)

    with pytest.raises(SourceError, match="different bucket bounds"):
        histogram_increase("m", [h("a", (1.0,)), h("b", (2.0,))], by=(), start_ns=0, end_ns=10)


def test_label_text_is_prometheus_like() -> None:
    assert [label_text(v) for v in (True, 200, 0.5, "x", None, ["a", 1])] == ["true", "200", "0.5", "x", "", '["a",1]']
