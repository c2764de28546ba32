"""Hand-made OTLP messages for the receiver's unit tests: exact ids, times and attributes, no SDK in between."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from otel.receiver.decode import Batch, Signal
from otel.receiver.rows import metric_rows, span_rows

if TYPE_CHECKING:
    from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric

T0 = 1_800_000_000_000_000_000
_counter = itertools.count(1)


def any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, str):
        return AnyValue(string_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, list):
        return AnyValue(array_value=ArrayValue(values=[any_value(item) for item in value]))
    if isinstance(value, dict):
        return AnyValue(kvlist_value=KeyValueList(values=attrs(value)))
    return AnyValue()


def attrs(mapping: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=key, value=any_value(value)) for key, value in mapping.items()]


def trace_id(n: int | None = None) -> bytes:
    return (n if n is not None else next(_counter)).to_bytes(16, "big")


def span_id(n: int | None = None) -> bytes:
    return (n if n is not None else next(_counter)).to_bytes(8, "big")


def span(
    name: str,
    trace: bytes,
    ident: bytes,
    parent: bytes = b"",
    *,
    start: int = T0,
    duration: int = 1_000,
    kind: Span.SpanKind.ValueType = Span.SPAN_KIND_INTERNAL,
    **attributes: Any,
) -> Span:
    return Span(
        trace_id=trace,
        span_id=ident,
        parent_span_id=parent,
        name=name,
        kind=kind,
        start_time_unix_nano=start,
        end_time_unix_nano=start + duration,
        attributes=attrs({key.replace("__", "."): value for key, value in attributes.items()}),
    )


def traces(*spans: Span, service: str = "svc", resource: dict[str, Any] | None = None) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(attrs({"service.name": service, **(resource or {})}))
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "test-scope"
    scope_spans.scope.version = "9"
    scope_spans.spans.extend(spans)
    return request


def metrics(
    *metrics: Metric, service: str = "svc", resource: dict[str, Any] | None = None
) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    resource_metrics = request.resource_metrics.add()
    resource_metrics.resource.attributes.extend(attrs({"service.name": service, **(resource or {})}))
    scope_metrics = resource_metrics.scope_metrics.add()
    scope_metrics.scope.name = "test-scope"
    scope_metrics.metrics.extend(metrics)
    return request


def span_batch(request: ExportTraceServiceRequest) -> Batch:
    converted = span_rows(request)
    return Batch(Signal.TRACES, converted.rows, converted.resources, converted.rejected, converted.error_message, None)


def metric_batch(request: ExportMetricsServiceRequest) -> Batch:
    converted = metric_rows(request)
    return Batch(Signal.METRICS, converted.rows, converted.resources, converted.rejected, converted.error_message, None)
