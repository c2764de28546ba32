"""``PP_TRACER_PROVIDER=sdk``: the stock SDK TracerProvider, for full SDK semantics at the SDK's cost.

The reference point the fast provider is measured against, and the escape hatch when something needs SDK-only
behaviour (span processors, the SDK's own samplers or limits). Export is the stock BatchSpanProcessor with the stock
OTLP/HTTP protobuf exporter, configured from the same ``TelemetrySettings``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)

from otel.tracing.ratelimit import rate_limit_loggers

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource

    from otel.settings import TelemetrySettings

__all__ = ("sdk_sampler", "sdk_tracer_provider")


def sdk_sampler(name: str, ratio: float) -> Sampler:
    root: Sampler
    base = name.removeprefix("parentbased_")
    if base == "always_on":
        root = ALWAYS_ON
    elif base == "always_off":
        root = ALWAYS_OFF
    elif base == "traceidratio":
        root = TraceIdRatioBased(ratio)
    else:
        raise ValueError(f"unknown sampler {name!r}")
    return ParentBased(root) if name.startswith("parentbased_") else root


def sdk_tracer_provider(settings: TelemetrySettings, resource: Resource) -> TracerProvider:
    provider = TracerProvider(
        resource=resource,
        sampler=sdk_sampler(settings.traces_sampler, settings.traces_sampler_arg),
        span_limits=SpanLimits(
            max_span_attributes=settings.span_attribute_count_limit,
            max_events=settings.span_event_count_limit,
            max_links=settings.span_link_count_limit,
            max_event_attributes=settings.event_attribute_count_limit,
            max_link_attributes=settings.link_attribute_count_limit,
            max_span_attribute_length=settings.span_attribute_value_length_limit,
        ),
        shutdown_on_exit=False,  # Telemetry.shutdown() owns the order: traces, then metrics
    )
    if settings.traces_exporter == "otlp":
        exporter = OTLPSpanExporter(
            endpoint=settings.traces_url,
            headers=settings.traces_headers,
            timeout=settings.otlp_timeout_ms / 1000,
            compression=Compression.Gzip if settings.otlp_compression == "gzip" else Compression.NoCompression,
        )
        rate_limit_loggers(
            "opentelemetry.exporter.otlp.proto.http.trace_exporter", "opentelemetry.sdk._shared_internal"
        )
        provider.add_span_processor(
            BatchSpanProcessor(
                exporter,
                max_queue_size=settings.bsp_max_queue_size,
                schedule_delay_millis=settings.bsp_schedule_delay_ms,
                max_export_batch_size=min(settings.bsp_max_export_batch_size, settings.bsp_max_queue_size),
                export_timeout_millis=settings.bsp_export_timeout_ms,
            )
        )
    return provider
