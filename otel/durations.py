"""Lean duration histograms: the contract's per-request histograms, aggregated without the SDK on the request path.

Every traced tool call records four durations (the gateway's server, tool and client durations, retrieval's server
duration). Through the SDK each ``record()`` builds a ``Measurement``, hashes its attributes and walks reader
storages and view matches: about 9 µs here, paid on the request core whatever the sampling. The histograms named in
``contract.DURATION_HISTOGRAMS`` are instead aggregated here (a bisect and a few additions under a lock, about 1 µs),
and the process's one metric reader appends them to what the SDK collected, so ``/metrics`` and the OTLP push show
them exactly as the SDK would: cumulative, explicit buckets at the contract's bounds, sum, min and max.

Call sites keep using only the OpenTelemetry API: ``LeanMeterProvider`` wraps the SDK provider and hands out these
instruments for the contract's names; every other instrument is the SDK's.
"""

from __future__ import annotations

import logging
import threading
import time
from bisect import bisect_left
from typing import TYPE_CHECKING, Any

from opentelemetry.metrics import Histogram, Meter, MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    HistogramDataPoint,
    Metric,
    MetricsData,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.metrics.export import Histogram as HistogramData
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from otel import contract

if TYPE_CHECKING:
    from collections.abc import Hashable, Sequence

    from opentelemetry.context import Context
    from opentelemetry.metrics import (
        CallbackT,
        Counter,
        ObservableCounter,
        ObservableGauge,
        ObservableUpDownCounter,
        UpDownCounter,
        _Gauge,
    )
    from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.util.types import Attributes

__all__ = ("DurationHistogram", "DurationStore", "LeanMeter", "LeanMeterProvider")

logger = logging.getLogger(__name__)

_NO_ATTRIBUTES: frozenset[Any] = frozenset()


class _Point:
    """One attribute set's cumulative aggregate."""

    __slots__ = ("attributes", "buckets", "count", "max", "min", "start_ns", "sum")

    def __init__(self, attributes: dict[str, Any], buckets: int) -> None:
        self.attributes = attributes
        self.buckets = [0] * buckets
        self.count = 0
        self.sum = 0.0
        self.min = float("inf")
        self.max = float("-inf")
        self.start_ns = time.time_ns()


class DurationHistogram(Histogram):
    """A cumulative explicit-bucket histogram; ``record()`` is the only part on the request path."""

    def __init__(self, name: str, unit: str = "", description: str = "", *, bounds: Sequence[float]) -> None:
        self.name = name
        self.unit = unit
        self.description = description
        self._bounds = tuple(bounds)
        self._points: dict[Hashable, _Point] = {}
        self._lock = threading.Lock()
        self._warned = False

    def record(self, amount: float, attributes: Attributes = None, context: Context | None = None) -> None:
        if not amount >= 0:  # negative or NaN: dropped, as the SDK drops them
            self._reject(amount)
            return
        key = _key(attributes) if attributes else _NO_ATTRIBUTES
        point = self._points.get(key)
        if point is None:
            point = self._new_point(key, attributes)
        index = bisect_left(self._bounds, amount)  # a value on a bound counts in that bound's bucket (Prometheus le)
        with self._lock:
            point.buckets[index] += 1
            point.count += 1
            point.sum += amount
            if amount < point.min:
                point.min = amount
            if amount > point.max:
                point.max = amount

    def _new_point(self, key: Hashable, attributes: Attributes) -> _Point:
        with self._lock:
            point = self._points.get(key)
            if point is None:
                point = self._points[key] = _Point(dict(attributes or {}), len(self._bounds) + 1)
            return point

    def _reject(self, amount: float) -> None:
        if not self._warned:
            self._warned = True
            logger.warning("%s: dropped a measurement that is not a non-negative number (%r)", self.name, amount)

    def collect(self, now_ns: int) -> Metric | None:
        """A consistent snapshot of every attribute set (None before the first record)."""
        with self._lock:
            points = [
                HistogramDataPoint(
                    attributes=point.attributes,
                    start_time_unix_nano=point.start_ns,
                    time_unix_nano=now_ns,
                    count=point.count,
                    sum=point.sum,
                    bucket_counts=tuple(point.buckets),
                    explicit_bounds=self._bounds,
                    min=point.min,
                    max=point.max,
                )
                for point in self._points.values()
            ]
        if not points:
            return None
        data = HistogramData(data_points=points, aggregation_temporality=AggregationTemporality.CUMULATIVE)
        return Metric(name=self.name, description=self.description, unit=self.unit, data=data)


def _key(attributes: Attributes) -> Hashable:
    assert attributes is not None
    try:
        return frozenset(attributes.items())
    except TypeError:  # a sequence value: key on its repr, keep the value itself for export
        return frozenset((name, repr(value)) for name, value in attributes.items())


class DurationStore:
    """The process's lean histograms, by instrumentation scope, and their merge into a collection."""

    def __init__(self, bounds: Sequence[float] = contract.DURATION_BUCKETS_S) -> None:
        self._bounds = tuple(bounds)
        self._histograms: dict[tuple[InstrumentationScope, str], DurationHistogram] = {}
        self._lock = threading.Lock()

    def histogram(self, scope: InstrumentationScope, name: str, unit: str, description: str) -> DurationHistogram:
        """The scope's histogram called ``name``, created on first request (the SDK also returns one per name)."""
        with self._lock:
            found = self._histograms.get((scope, name))
            if found is None:
                found = DurationHistogram(name, unit, description, bounds=self._bounds)
                self._histograms[(scope, name)] = found
            return found

    def merge_into(self, data: MetricsData | None, resource: Resource) -> MetricsData | None:
        """``data`` (what the SDK collected) with every lean histogram added to its scope."""
        now_ns = time.time_ns()
        with self._lock:
            histograms = list(self._histograms.items())
        extra: dict[InstrumentationScope, list[Metric]] = {}
        for (scope, _name), histogram in histograms:
            metric = histogram.collect(now_ns)
            if metric is not None:
                extra.setdefault(scope, []).append(metric)
        if not extra:
            return data
        resources = list(data.resource_metrics) if data is not None else []
        if not resources:
            resources = [ResourceMetrics(resource=resource, scope_metrics=[], schema_url="")]
        first = resources[0]
        scopes = []
        for scope_metrics in first.scope_metrics:
            added = extra.pop(scope_metrics.scope, None)
            if added:
                scope_metrics = ScopeMetrics(
                    scope=scope_metrics.scope,
                    metrics=[*scope_metrics.metrics, *added],
                    schema_url=scope_metrics.schema_url,
                )
            scopes.append(scope_metrics)
        scopes.extend(
            ScopeMetrics(scope=scope, metrics=metrics, schema_url=scope.schema_url or "")
            for scope, metrics in extra.items()
        )
        resources[0] = ResourceMetrics(resource=first.resource, scope_metrics=scopes, schema_url=first.schema_url)
        return MetricsData(resource_metrics=resources)


class LeanMeter(Meter):
    """The SDK's meter, except that the contract's duration histograms come from the ``DurationStore``."""

    def __init__(self, inner: Meter, store: DurationStore, scope: InstrumentationScope) -> None:
        super().__init__(scope.name, scope.version, scope.schema_url)
        self._inner = inner
        self._store = store
        self._scope = scope

    def create_histogram(
        self,
        name: str,
        unit: str = "",
        description: str = "",
        *,
        explicit_bucket_boundaries_advisory: Sequence[float] | None = None,
    ) -> Histogram:
        if name in contract.DURATION_HISTOGRAMS:  # the contract's bounds win over any advice, as the SDK's View does
            return self._store.histogram(self._scope, name, unit, description)
        return self._inner.create_histogram(
            name, unit, description, explicit_bucket_boundaries_advisory=explicit_bucket_boundaries_advisory
        )

    def create_counter(self, name: str, unit: str = "", description: str = "") -> Counter:
        return self._inner.create_counter(name, unit, description)

    def create_up_down_counter(self, name: str, unit: str = "", description: str = "") -> UpDownCounter:
        return self._inner.create_up_down_counter(name, unit, description)

    def create_gauge(self, name: str, unit: str = "", description: str = "") -> _Gauge:
        return self._inner.create_gauge(name, unit, description)

    def create_observable_counter(
        self, name: str, callbacks: Sequence[CallbackT] | None = None, unit: str = "", description: str = ""
    ) -> ObservableCounter:
        return self._inner.create_observable_counter(name, callbacks, unit, description)

    def create_observable_up_down_counter(
        self, name: str, callbacks: Sequence[CallbackT] | None = None, unit: str = "", description: str = ""
    ) -> ObservableUpDownCounter:
        return self._inner.create_observable_up_down_counter(name, callbacks, unit, description)

    def create_observable_gauge(
        self, name: str, callbacks: Sequence[CallbackT] | None = None, unit: str = "", description: str = ""
    ) -> ObservableGauge:
        return self._inner.create_observable_gauge(name, callbacks, unit, description)


class LeanMeterProvider(MeterProvider):
    """The SDK meter provider with lean duration histograms; ``shutdown`` and ``force_flush`` go to the SDK's."""

    def __init__(self, inner: SdkMeterProvider, store: DurationStore) -> None:
        self.inner = inner
        self.store = store

    def get_meter(
        self, name: str, version: str | None = None, schema_url: str | None = None, attributes: Attributes = None
    ) -> Meter:
        scope = InstrumentationScope(name, version, schema_url, attributes)
        return LeanMeter(self.inner.get_meter(name, version, schema_url, attributes), self.store, scope)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self.inner.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000) -> None:
        self.inner.shutdown(timeout_millis=timeout_millis)
