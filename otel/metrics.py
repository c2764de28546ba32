"""The meter provider every process uses: one reader for OTLP push and Prometheus text, process metrics.

Metrics stay on the SDK, except the contract's duration histograms: they are recorded four times per traced tool
call, so ``otel.durations`` aggregates them off the SDK's path and this module's reader joins them to every
collection (``PP_METER_PROVIDER=sdk`` leaves them to the SDK, with Views). Either way they get the contract's bucket
bounds, so the share of requests under each target (0.2, 0.5, 1 and 2 s) is exact.
Each provider gets its own Prometheus ``CollectorRegistry`` (not the process-global one), so tests can run several
side by side.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import psutil
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import CallbackOptions, Meter, Observation
from opentelemetry.sdk.metrics import (
    AlwaysOffExemplarFilter,
    Counter,
    Histogram,
    MeterProvider,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricExporter,
    MetricExportResult,
    MetricReader,
    MetricsData,
)
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from otel import contract
from otel.durations import DurationStore, LeanMeterProvider
from otel.tracing.ratelimit import rate_limit_loggers

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from opentelemetry.sdk.resources import Resource

    from otel.settings import TelemetrySettings

__all__ = (
    "FinalExportGuard",
    "ProcessMetrics",
    "ScrapeAndPushReader",
    "build_meter_provider",
    "duration_views",
    "prometheus_text",
    "register_spans_dropped",
)

_CUMULATIVE: dict[type, AggregationTemporality] = {
    kind: AggregationTemporality.CUMULATIVE
    for kind in (Counter, UpDownCounter, Histogram, ObservableCounter, ObservableUpDownCounter, ObservableGauge)
}
_NOISY_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.sdk.metrics._internal.export",
)
_MIN_CPU_WINDOW_S = 1.0

logger = logging.getLogger(__name__)


def duration_views() -> list[View]:
    """For an SDK-only provider: the contract's bucket bounds on its duration histograms."""
    aggregation = ExplicitBucketHistogramAggregation(boundaries=contract.DURATION_BUCKETS_S)
    return [View(instrument_name=name, aggregation=aggregation) for name in contract.DURATION_HISTOGRAMS]


def build_meter_provider(
    settings: TelemetrySettings, resource: Resource, registry: CollectorRegistry
) -> tuple[LeanMeterProvider | MeterProvider, FinalExportGuard | None]:
    """The provider, and the OTLP exporter's guard (None without OTLP push) to call ``closing()`` on at shutdown.

    By default (``PP_METER_PROVIDER=lean``) the SDK provider sits behind a ``LeanMeterProvider``: the contract's
    duration histograms, recorded on every request, are aggregated by ``otel.durations`` and joined to each
    collection by the reader. With ``sdk`` every instrument is the SDK's and Views set the contract's bounds.
    """
    exporter: MetricExporter | None = None
    guard: FinalExportGuard | None = None
    if settings.metrics_exporter == "otlp":
        otlp = OTLPMetricExporter(
            endpoint=settings.metrics_url,
            headers=settings.metrics_headers,
            timeout=settings.otlp_timeout_ms / 1000,
            compression=Compression.Gzip if settings.otlp_compression == "gzip" else Compression.NoCompression,
            preferred_temporality=_CUMULATIVE,
        )
        exporter = guard = FinalExportGuard(otlp, settings.metrics_url)
        rate_limit_loggers(*_NOISY_LOGGERS)
    lean = settings.meter_provider == "lean"
    durations = DurationStore()
    readers: list[MetricReader] = [
        ScrapeAndPushReader(
            registry,
            exporter,
            interval_ms=settings.metric_export_interval_ms,
            timeout_ms=settings.metric_export_timeout_ms,
            extra=(lambda data: durations.merge_into(data, resource)) if lean else None,
        )
    ]
    # Exemplars off: with every request sampled, offering each measurement to an exemplar reservoir was a visible
    # share of a request's CPU, and neither the Prometheus text nor the validator reads them.
    provider = MeterProvider(
        metric_readers=readers,
        resource=resource,
        views=[] if lean else duration_views(),
        shutdown_on_exit=False,
        exemplar_filter=AlwaysOffExemplarFilter(),
    )
    return (LeanMeterProvider(provider, durations) if lean else provider), guard


class ScrapeAndPushReader(PrometheusMetricReader):
    """One reader, so one copy of every aggregate, read two ways: scraped as Prometheus text, pushed over OTLP.

    With a Prometheus reader and a periodic OTLP reader side by side, the SDK keeps an aggregate per reader and every
    ``record()`` updates both: four histogram records per traced tool call cost about 50 µs of the request core on
    this machine, half of it for the second copy. Both outputs are cumulative, so one storage serves them: a scrape
    collects into the Prometheus collector as before, and a background thread collects every ``interval_ms`` and
    hands the same kind of snapshot to the OTLP exporter instead (the thread-local flag says which caller asked).
    ``extra`` joins measurements aggregated outside the SDK (``otel.durations``) to every snapshot, either way.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        exporter: MetricExporter | None,
        *,
        interval_ms: float,
        timeout_ms: float,
        extra: Callable[[MetricsData | None], MetricsData | None] | None = None,
    ) -> None:
        super().__init__(registry=registry)
        self._exporter = exporter
        self._extra = extra
        self._interval_s = interval_ms / 1000
        self._timeout_ms = timeout_ms
        self._pushing = threading.local()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if exporter is not None:  # the provider registers this reader as it is built, well before the first push
            self._thread = threading.Thread(target=self._run, name="otlp-metrics-push", daemon=True)
            self._thread.start()

    def _receive_metrics(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> None:
        if self._extra is not None:
            metrics_data = self._extra(metrics_data)  # type: ignore[assignment]
        if getattr(self._pushing, "active", False):
            if metrics_data is not None and self._exporter is not None:
                self._exporter.export(metrics_data, timeout_millis=timeout_millis)
            return
        super()._receive_metrics(metrics_data, timeout_millis, **kwargs)

    def push(self) -> None:
        """Collect now and export over OTLP (no-op without an exporter)."""
        if self._exporter is None:
            return
        self._pushing.active = True
        try:
            self.collect(timeout_millis=self._timeout_ms)
        finally:
            self._pushing.active = False

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.push()
            except Exception:  # a failed push must not end the pushing; the exporter logs its own failures
                logger.exception("metrics push failed")

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        self.push()
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_millis / 1000)
        try:
            self.push()  # the last interval's measurements
        finally:
            if self._exporter is not None:
                self._exporter.shutdown(timeout_millis=timeout_millis)
            super().shutdown(timeout_millis, **kwargs)


class FinalExportGuard(MetricExporter):
    """The OTLP metric exporter, minus a pointless wait at shutdown.

    On the way out the reader exports once more, and the SDK exporter retries for its whole timeout (10 s) when no
    collector answers: a service started without one would take that long to stop, on every stop. After
    ``closing()``, the final export first checks that something accepts connections at the endpoint (one TCP
    connect, at most 0.5 s) and is skipped, with a warning, when nothing does.
    """

    def __init__(self, inner: MetricExporter, url: str) -> None:
        super().__init__(preferred_temporality=_CUMULATIVE)
        parts = urlsplit(url)
        self._address = (parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "https" else 80))
        self._inner = inner
        self._closing = False

    def closing(self) -> None:
        self._closing = True

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        if self._closing and not self._reachable():
            logger.warning("no metrics collector at %s:%d; the final metrics are not exported", *self._address)
            return MetricExportResult.FAILURE
        return self._inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self._inner.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._inner.shutdown(timeout_millis=timeout_millis, **kwargs)

    def _reachable(self) -> bool:
        try:
            with socket.create_connection(self._address, timeout=0.5):
                return True
        except OSError:
            return False


def prometheus_text(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The body and content type of ``GET /metrics``: every metric of this process, in Prometheus text format."""
    return generate_latest(registry), CONTENT_TYPE_LATEST


def register_spans_dropped(meter: Meter, spans_dropped: Callable[[], int]) -> None:
    def observe(options: CallbackOptions) -> Iterable[Observation]:
        return (Observation(spans_dropped()),)

    meter.create_observable_counter(
        contract.SPANS_DROPPED,
        callbacks=[observe],
        unit="{span}",
        description="Spans ended but never exported: buffer full, exporter down, collector refusing.",
    )


class ProcessMetrics:
    """RSS, CPU utilisation and open file descriptors of this process, read with psutil at collection time.

    CPU utilisation is the fraction of one core used since the previous reading. Two readers collect (the OTLP push
    and each Prometheus scrape), so a reading taken within ``_MIN_CPU_WINDOW_S`` of the last one repeats it rather
    than reporting a noisy ratio over a few milliseconds.
    """

    def __init__(self, meter: Meter) -> None:
        self._process = psutil.Process()
        self._cpu = self._cpu_seconds()
        self._at = time.monotonic()
        self._utilization = 0.0
        meter.create_observable_up_down_counter(
            contract.PROCESS_MEMORY, callbacks=[self._memory], unit="By", description="Resident set size."
        )
        meter.create_observable_gauge(
            contract.PROCESS_CPU_UTILIZATION,
            callbacks=[self._cpu_utilization],
            unit="1",
            description="CPU time per wall-clock time since the last collection, as a fraction of one core.",
        )
        meter.create_observable_up_down_counter(
            contract.PROCESS_OPEN_FILES,
            callbacks=[self._open_files],
            unit="{file_descriptor}",
            description="Open file descriptors.",
        )

    def _cpu_seconds(self) -> float:
        times = self._process.cpu_times()
        return float(times.user + times.system)

    def _memory(self, options: CallbackOptions) -> Iterable[Observation]:
        return (Observation(self._process.memory_info().rss),)

    def _cpu_utilization(self, options: CallbackOptions) -> Iterable[Observation]:
        now = time.monotonic()
        if now - self._at >= _MIN_CPU_WINDOW_S:
            cpu = self._cpu_seconds()
            self._utilization = (cpu - self._cpu) / (now - self._at)
            self._cpu, self._at = cpu, now
        return (Observation(self._utilization),)

    def _open_files(self, options: CallbackOptions) -> Iterable[Observation]:
        return (Observation(self._process.num_fds()),)
