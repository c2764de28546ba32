"""Lean duration histograms aggregate exactly as the SDK's explicit-bucket histogram does, and join its collections."""

from __future__ import annotations

import math
import random
import threading

import pytest
from opentelemetry.sdk.metrics import Counter as SdkCounter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import Histogram, HistogramDataPoint, InMemoryMetricReader, Metric, MetricsData
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource

from otel import contract
from otel.durations import DurationHistogram, DurationStore, LeanMeterProvider

BOUNDS = contract.DURATION_BUCKETS_S
RESOURCE = Resource({"service.name": "pp-test"})


def points_of(metric: Metric | None) -> list[HistogramDataPoint]:
    assert metric is not None
    assert isinstance(metric.data, Histogram)
    return list(metric.data.data_points)


def sdk_points(values: list[tuple[float, dict[str, str]]]) -> dict[frozenset[tuple[str, object]], HistogramDataPoint]:
    reader = InMemoryMetricReader()
    view = View(instrument_name="d", aggregation=ExplicitBucketHistogramAggregation(boundaries=BOUNDS))
    provider = MeterProvider(metric_readers=[reader], views=[view], shutdown_on_exit=False)
    histogram = provider.get_meter("t").create_histogram("d", unit="s")
    for value, attributes in values:
        histogram.record(value, attributes)
    data = reader.get_metrics_data()
    assert data is not None
    (metric,) = data.resource_metrics[0].scope_metrics[0].metrics
    provider.shutdown()
    return {frozenset((point.attributes or {}).items()): point for point in points_of(metric)}


def lean_points(values: list[tuple[float, dict[str, str]]]) -> dict[frozenset[tuple[str, object]], HistogramDataPoint]:
    histogram = DurationHistogram("d", "s", "", bounds=BOUNDS)
    for value, attributes in values:
        histogram.record(value, attributes)
    return {frozenset((point.attributes or {}).items()): point for point in points_of(histogram.collect(1))}


def test_same_aggregate_as_the_sdk_including_values_on_the_bounds() -> None:
    rng = random.Random(7)
    routes = [{"http.route": "/mcp"}, {"http.route": "/v1/search", "error.type": "500"}, {}]
    values = [(rng.choice((*BOUNDS, 0.0, 1e6)), rng.choice(routes)) for _ in range(500)]
    values += [(rng.expovariate(20), rng.choice(routes)) for _ in range(5_000)]
    expected, got = sdk_points(values), lean_points(values)
    assert expected.keys() == got.keys()
    for key, want in expected.items():
        have = got[key]
        assert list(have.bucket_counts) == list(want.bucket_counts)
        assert list(have.explicit_bounds) == list(want.explicit_bounds)
        assert (have.count, have.min, have.max) == (want.count, want.min, want.max)
        assert math.isclose(have.sum, want.sum, rel_tol=1e-12)


def test_attribute_order_does_not_split_a_series_and_bad_values_are_dropped() -> None:
    histogram = DurationHistogram("d", "s", "", bounds=BOUNDS)
    histogram.record(0.1, {"a": "1", "b": 2})
    histogram.record(0.2, {"b": 2, "a": "1"})
    histogram.record(-1.0, {"a": "1", "b": 2})
    histogram.record(float("nan"), {"a": "1", "b": 2})
    histogram.record(0.3, {"tags": ("x", "y")})  # a sequence value is still recorded
    points = {frozenset(p.attributes or {}): p.count for p in points_of(histogram.collect(1))}
    assert points == {frozenset({"a", "b"}): 2, frozenset({"tags"}): 1}
    assert DurationHistogram("empty", bounds=BOUNDS).collect(1) is None


def test_snapshots_are_consistent_while_threads_record() -> None:
    histogram = DurationHistogram("d", "s", "", bounds=BOUNDS)
    per_thread, threads = 20_000, 4
    start = threading.Barrier(threads + 1)
    torn: list[str] = []

    def record(seed: int) -> None:
        rng = random.Random(seed)
        start.wait()
        for _ in range(per_thread):
            histogram.record(rng.random(), {"worker": str(seed % 2)})

    workers = [threading.Thread(target=record, args=(seed,)) for seed in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    while any(worker.is_alive() for worker in workers):
        metric = histogram.collect(1)
        for point in points_of(metric) if metric else ():
            if sum(point.bucket_counts) != point.count:
                torn.append(f"{point.bucket_counts} vs {point.count}")
    for worker in workers:
        worker.join()
    assert not torn
    assert sum(point.count for point in points_of(histogram.collect(1))) == per_thread * threads


def test_merge_adds_to_the_sdk_scope_or_a_new_one() -> None:
    reader = InMemoryMetricReader()
    sdk = MeterProvider(metric_readers=[reader], resource=RESOURCE, shutdown_on_exit=False)
    store = DurationStore()
    provider = LeanMeterProvider(sdk, store)
    ours, theirs = provider.get_meter(contract.INSTRUMENTATION_SCOPE), provider.get_meter("elsewhere", "2.0")
    ours.create_counter("pp.requests").add(3)
    ours.create_histogram(contract.HTTP_SERVER_DURATION, unit="s").record(0.004, {"http.route": "/mcp"})
    theirs.create_histogram(contract.HTTP_CLIENT_DURATION, unit="s").record(0.002)

    merged = store.merge_into(reader.get_metrics_data(), RESOURCE)
    assert merged is not None
    scopes = {s.scope.name: s for s in merged.resource_metrics[0].scope_metrics}
    assert [m.name for m in scopes[contract.INSTRUMENTATION_SCOPE].metrics] == [
        "pp.requests",
        contract.HTTP_SERVER_DURATION,
    ]
    assert scopes["elsewhere"].scope.version == "2.0"
    assert [m.name for m in scopes["elsewhere"].metrics] == [contract.HTTP_CLIENT_DURATION]

    alone = store.merge_into(MetricsData(resource_metrics=[]), RESOURCE)
    assert alone is not None
    assert alone.resource_metrics[0].resource is RESOURCE
    assert len(alone.resource_metrics[0].scope_metrics) == 2
    sdk.shutdown()


def test_only_the_contract_histograms_leave_the_sdk() -> None:
    sdk = MeterProvider(metric_readers=[InMemoryMetricReader()], shutdown_on_exit=False)
    provider = LeanMeterProvider(sdk, DurationStore())
    meter = provider.get_meter("t")
    for name in contract.DURATION_HISTOGRAMS:
        histogram = meter.create_histogram(name, unit="s")
        assert isinstance(histogram, DurationHistogram)
        assert provider.get_meter("t").create_histogram(name, unit="s") is histogram, "one instrument per name"
    assert not isinstance(meter.create_histogram("payload.size", unit="By"), DurationHistogram)
    assert isinstance(meter.create_counter("pp.requests"), SdkCounter)
    assert meter.create_histogram(contract.MCP_SERVER_DURATION) is not provider.get_meter("u").create_histogram(
        contract.MCP_SERVER_DURATION
    ), "scopes are kept apart"
    sdk.shutdown()


@pytest.mark.parametrize("value", [0.0, BOUNDS[0], BOUNDS[-1], BOUNDS[-1] * 2])
def test_edges_land_where_prometheus_le_puts_them(value: float) -> None:
    histogram = DurationHistogram("d", bounds=BOUNDS)
    histogram.record(value)
    (point,) = points_of(histogram.collect(1))
    index = next((i for i, bound in enumerate(BOUNDS) if value <= bound), len(BOUNDS))
    assert list(point.bucket_counts) == [int(i == index) for i in range(len(BOUNDS) + 1)]
