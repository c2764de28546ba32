"""``setup_telemetry``: build this process's tracer and meter providers, install them globally, flush them at the end.

Call it once per process at start-up (the Litestar lifespan, so every uvicorn worker builds its own) and call
``shutdown()`` on the way out. Everything the services record goes through the OpenTelemetry *API*; this module is
the one place that decides what sits behind it: the fast provider (default) or the SDK (``PP_TRACER_PROVIDER=sdk``)
for traces, the SDK for metrics.
"""

from __future__ import annotations

import atexit
import logging
import threading
import uuid
from typing import TYPE_CHECKING

from opentelemetry import metrics, propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.version import __version__ as sdk_version
from opentelemetry.trace import NoOpTracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import CollectorRegistry

from otel import contract
from otel.durations import LeanMeterProvider
from otel.metrics import (
    FinalExportGuard,
    ProcessMetrics,
    build_meter_provider,
    prometheus_text,
    register_spans_dropped,
)
from otel.settings import TelemetrySettings, load_settings, parse_key_values
from otel.tracing.attributes import SpanLimits
from otel.tracing.sampler import sampler_config
from otel.tracing.sdk import sdk_tracer_provider
from otel.tracing.shipper import Shipper
from otel.tracing.tracer import FastTracerProvider
from otel.tracing.wire import ExporterConfig

if TYPE_CHECKING:
    from opentelemetry.util.types import AttributeValue

__all__ = ("Telemetry", "resource_attributes", "setup_telemetry")

logger = logging.getLogger(__name__)


class Telemetry:
    """The providers of one process, ``/metrics`` text, the dropped-span count, and the flush at shutdown."""

    def __init__(
        self,
        settings: TelemetrySettings,
        resource: dict[str, AttributeValue],
        tracer_provider: trace.TracerProvider,
        meter_provider: metrics.MeterProvider,
        registry: CollectorRegistry,
        shipper: Shipper | None = None,
        metrics_guard: FinalExportGuard | None = None,
    ) -> None:
        self.settings = settings
        self.resource = resource
        self.tracer_provider = tracer_provider
        self.meter_provider = meter_provider
        self.registry = registry
        self.shipper = shipper
        """The exporter-process pipeline of the fast provider (None in SDK mode or without trace export)."""
        self._metrics_guard = metrics_guard
        self._lock = threading.Lock()
        self._shut_down = False

    def prometheus_text(self) -> tuple[bytes, str]:
        """Body and content type for ``GET /metrics``: all metrics of this process, Prometheus text format."""
        return prometheus_text(self.registry)

    @property
    def spans_dropped(self) -> int:
        """Spans ended in this process that will never reach the collector (fast provider; 0 in SDK mode)."""
        return self.shipper.dropped if self.shipper is not None else 0

    def force_flush(self, timeout_s: float = 10.0) -> bool:
        """Push ended spans towards the exporter (fast: into its pipe; SDK: through the batch processor)."""
        provider = self.tracer_provider
        if isinstance(provider, FastTracerProvider | SdkTracerProvider):
            return provider.force_flush(int(timeout_s * 1000))
        return True

    def shutdown(self) -> None:
        """Flush and stop: traces first (so the dropped count is final), then metrics. Idempotent.

        On a clean shutdown no span is lost: every span ended before this call is handed to the exporter, which
        exports it before exiting (within ``PP_TELEMETRY_SHUTDOWN_TIMEOUT_S``; spans it cannot deliver by then are
        counted in ``spans_dropped``).
        """
        with self._lock:
            if self._shut_down:
                return
            self._shut_down = True
        atexit.unregister(self.shutdown)
        timeout_ms = int(self.settings.shutdown_timeout_s * 1000)
        try:
            if isinstance(self.tracer_provider, FastTracerProvider):
                self.tracer_provider.shutdown(timeout_ms)
            elif isinstance(self.tracer_provider, SdkTracerProvider):
                self.tracer_provider.shutdown()
        except Exception:  # telemetry never fails the process
            logger.exception("tracer provider shutdown failed")
        if self._metrics_guard is not None:
            self._metrics_guard.closing()
        try:
            if isinstance(self.meter_provider, LeanMeterProvider | MeterProvider):
                self.meter_provider.shutdown(timeout_millis=timeout_ms)
        except Exception:
            logger.exception("meter provider shutdown failed")


def setup_telemetry(
    service_name: str,
    *,
    service_version: str = "0.0.0",
    settings: TelemetrySettings | None = None,
    set_global: bool = True,
) -> Telemetry:
    """Build and (unless ``set_global=False``) install this process's providers and the W3C propagators.

    ``settings`` default to ``load_settings()`` (the environment). The OpenTelemetry API lets a process set its
    global providers once; tests that build several ``Telemetry`` objects pass ``set_global=False`` and use
    ``telemetry.tracer_provider`` directly.
    """
    settings = (settings or load_settings()).validate()
    attributes = resource_attributes(settings, service_name, service_version)
    registry = CollectorRegistry(auto_describe=True)
    if settings.sdk_disabled:
        telemetry = Telemetry(settings, attributes, NoOpTracerProvider(), NoOpMeterProvider(), registry)
        if set_global:
            _install_propagator()
        return telemetry

    resource = Resource(attributes)
    shipper: Shipper | None = None
    tracer_provider: trace.TracerProvider
    if settings.tracer_provider == "sdk":
        tracer_provider = sdk_tracer_provider(settings, resource)
    else:
        if settings.traces_exporter == "otlp":
            shipper = Shipper(
                _exporter_config(settings, attributes),
                capacity=settings.span_buffer,
                batch=settings.span_batch,
                interval_s=settings.span_flush_interval_ms / 1000,
            )
        tracer_provider = FastTracerProvider(
            sampler_config(settings.traces_sampler, settings.traces_sampler_arg), _span_limits(settings), shipper
        )
    meter_provider, metrics_guard = build_meter_provider(settings, resource, registry)
    telemetry = Telemetry(settings, attributes, tracer_provider, meter_provider, registry, shipper, metrics_guard)
    meter = meter_provider.get_meter(contract.INSTRUMENTATION_SCOPE)
    ProcessMetrics(meter)
    register_spans_dropped(meter, lambda: telemetry.spans_dropped)
    if shipper is not None:
        shipper.start()
    if set_global:
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(meter_provider)
        _install_propagator()
    atexit.register(telemetry.shutdown)
    return telemetry


def resource_attributes(
    settings: TelemetrySettings, service_name: str, service_version: str
) -> dict[str, AttributeValue]:
    """The resource of this process.

    Precedence, lowest first: SDK defaults, ``OTEL_RESOURCE_ATTRIBUTES``, the arguments, ``OTEL_SERVICE_NAME``.
    ``service.instance.id`` is always a fresh uuid4, so the workers of one service never merge their cumulative
    series (and Prometheus gets a distinct ``instance``).
    """
    attributes: dict[str, AttributeValue] = {
        "telemetry.sdk.language": "python",
        "telemetry.sdk.name": "opentelemetry",
        "telemetry.sdk.version": sdk_version,
    }
    attributes |= parse_key_values(settings.resource_attributes)
    attributes["service.name"] = settings.service_name or service_name
    attributes["service.version"] = service_version
    attributes["service.instance.id"] = str(uuid.uuid4())
    return attributes


def _span_limits(settings: TelemetrySettings) -> SpanLimits:
    return SpanLimits(
        max_attributes=settings.span_attribute_count_limit,
        max_events=settings.span_event_count_limit,
        max_links=settings.span_link_count_limit,
        max_event_attributes=settings.event_attribute_count_limit,
        max_link_attributes=settings.link_attribute_count_limit,
        max_value_length=settings.span_attribute_value_length_limit,
    )


def _exporter_config(settings: TelemetrySettings, resource: dict[str, AttributeValue]) -> ExporterConfig:
    return ExporterConfig(
        endpoint=settings.traces_url,
        headers=settings.traces_headers,
        timeout_s=settings.otlp_timeout_ms / 1000,
        compression=settings.otlp_compression,
        resource=dict(resource),
        max_queue=settings.span_buffer,
        retry_budget_s=max(30.0, settings.otlp_timeout_ms / 1000),
    )


def _install_propagator() -> None:
    propagate.set_global_textmap(CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()]))
