"""OTLP/JSON: the protobuf JSON mapping with OTLP's exceptions, in both directions.

OTLP/JSON differs from protobuf's canonical JSON in one way that matters: trace and span ids are hex strings, not
base64 (and enums must be integers, 64-bit integers may be strings or numbers). So ``json_format`` alone would
decode a hex trace id as base64 into 24 bytes of garbage.

- **Reading** parses with ``msgspec``, rewrites the ids at their known places from hex to base64, and hands the
  result to ``json_format.ParseDict``: one code path (the official message classes) for both encodings, at the
  price of speed (~150 µs per span; the services export protobuf, JSON is for tools and hand-made requests).
- **Writing** (the ``--jsonl`` copy) is hand-written per message type, because ``json_format.MessageToDict`` costs
  ~90 µs per span and would halve ingest; this encoder walks only the fields OTLP defines and omits defaults, as
  proto3 JSON does, so a line reads back into an equal message.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
from google.protobuf import json_format
from google.protobuf.message import Message

if TYPE_CHECKING:
    from collections.abc import Iterable

    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
    from opentelemetry.proto.metrics.v1.metrics_pb2 import (
        Exemplar,
        ExponentialHistogramDataPoint,
        HistogramDataPoint,
        Metric,
        NumberDataPoint,
        SummaryDataPoint,
    )
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

__all__ = ("JsonDecodeError", "metrics_to_json", "parse", "traces_to_json")

M = TypeVar("M", bound=Message)

_ID_KEYS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


class JsonDecodeError(ValueError):
    """The body is not OTLP/JSON (bad JSON, a type mismatch, or an id that is not hex)."""


# --- reading ----------------------------------------------------------------------------------------------------


def _items(node: Any, *keys: str) -> list[Any]:
    """``node[key]`` for the first key present (camelCase or the proto name), as a list of objects."""
    if not isinstance(node, dict):
        return []
    for key in keys:
        value = node.get(key)
        if value is not None:
            return value if isinstance(value, list) else []
    return []


def _fix_ids(node: Any) -> None:
    """Rewrite the hex ids of one span/link/exemplar/log record in place as base64, for ``ParseDict``."""
    if not isinstance(node, dict):
        return
    for key in _ID_KEYS:
        value = node.get(key)
        if isinstance(value, str):
            try:
                raw = bytes.fromhex(value)
            except ValueError:
                raise JsonDecodeError(f"{key} {value[:40]!r} is not hex") from None
            node[key] = base64.b64encode(raw).decode("ascii")


def _fix_trace_ids(document: Any) -> None:
    for resource in _items(document, "resourceSpans", "resource_spans"):
        for scope in _items(resource, "scopeSpans", "scope_spans"):
            for span in _items(scope, "spans"):
                _fix_ids(span)
                for link in _items(span, "links"):
                    _fix_ids(link)


_CAMEL = {"exponential_histogram": "exponentialHistogram"}
_POINT_HOLDERS = ("gauge", "sum", "histogram", "exponentialHistogram", "exponential_histogram", "summary")


def _fix_metric_ids(document: Any) -> None:
    for resource in _items(document, "resourceMetrics", "resource_metrics"):
        for scope in _items(resource, "scopeMetrics", "scope_metrics"):
            for metric in _items(scope, "metrics"):
                if not isinstance(metric, dict):
                    continue
                for holder in _POINT_HOLDERS:
                    for point in _items(metric.get(holder), "dataPoints", "data_points"):
                        for exemplar in _items(point, "exemplars"):
                            _fix_ids(exemplar)


def _fix_log_ids(document: Any) -> None:
    for resource in _items(document, "resourceLogs", "resource_logs"):
        for scope in _items(resource, "scopeLogs", "scope_logs"):
            for record in _items(scope, "logRecords", "log_records"):
                _fix_ids(record)


def parse(body: bytes, message: M) -> M:
    """Fill ``message`` (an empty ``Export*ServiceRequest``) from an OTLP/JSON body; unknown fields are ignored.

    Raises:
        JsonDecodeError: the body is not valid OTLP/JSON.
    """
    try:
        document = _decode(body)
    except msgspec.DecodeError as exc:
        raise JsonDecodeError(f"invalid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise JsonDecodeError("the body must be a JSON object")
    name = message.DESCRIPTOR.name
    if name == "ExportTraceServiceRequest":
        _fix_trace_ids(document)
    elif name == "ExportMetricsServiceRequest":
        _fix_metric_ids(document)
    elif name == "ExportLogsServiceRequest":
        _fix_log_ids(document)
    try:
        json_format.ParseDict(document, message, ignore_unknown_fields=True)
    except (json_format.ParseError, binascii.Error, ValueError, TypeError) as exc:
        raise JsonDecodeError(str(exc)) from None
    return message


# --- writing ----------------------------------------------------------------------------------------------------


def _double(value: float) -> float | str:
    """Proto3 JSON spells non-finite doubles as strings (msgspec would write ``null``)."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _any(value: AnyValue) -> dict[str, Any]:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return {"stringValue": value.string_value}
    if kind == "int_value":
        return {"intValue": str(value.int_value)}
    if kind == "bool_value":
        return {"boolValue": value.bool_value}
    if kind == "double_value":
        return {"doubleValue": _double(value.double_value)}
    if kind == "array_value":
        return {"arrayValue": {"values": [_any(item) for item in value.array_value.values]}}
    if kind == "kvlist_value":
        return {"kvlistValue": {"values": _attributes(value.kvlist_value.values)}}
    if kind == "bytes_value":
        return {"bytesValue": base64.b64encode(value.bytes_value).decode("ascii")}
    return {}


def _attributes(items: Iterable[KeyValue]) -> list[dict[str, Any]]:
    return [{"key": item.key, "value": _any(item.value)} for item in items]


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` unless ``value`` is a proto3 default (0, "", empty), as canonical JSON omits those."""
    if value:
        out[key] = value


def _resource(resource: Resource) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "attributes", _attributes(resource.attributes))
    _put(out, "droppedAttributesCount", resource.dropped_attributes_count)
    return out


def _scope(scope: InstrumentationScope) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "name", scope.name)
    _put(out, "version", scope.version)
    _put(out, "attributes", _attributes(scope.attributes))
    _put(out, "droppedAttributesCount", scope.dropped_attributes_count)
    return out


def _span(span: Span) -> dict[str, Any]:
    out: dict[str, Any] = {"traceId": span.trace_id.hex(), "spanId": span.span_id.hex()}
    _put(out, "traceState", span.trace_state)
    _put(out, "parentSpanId", span.parent_span_id.hex())
    _put(out, "flags", span.flags)
    _put(out, "name", span.name)
    _put(out, "kind", span.kind)
    _put(out, "startTimeUnixNano", str(span.start_time_unix_nano) if span.start_time_unix_nano else "")
    _put(out, "endTimeUnixNano", str(span.end_time_unix_nano) if span.end_time_unix_nano else "")
    _put(out, "attributes", _attributes(span.attributes))
    _put(out, "droppedAttributesCount", span.dropped_attributes_count)
    events = []
    for event in span.events:
        item: dict[str, Any] = {}
        _put(item, "timeUnixNano", str(event.time_unix_nano) if event.time_unix_nano else "")
        _put(item, "name", event.name)
        _put(item, "attributes", _attributes(event.attributes))
        _put(item, "droppedAttributesCount", event.dropped_attributes_count)
        events.append(item)
    _put(out, "events", events)
    _put(out, "droppedEventsCount", span.dropped_events_count)
    links = []
    for link in span.links:
        item = {"traceId": link.trace_id.hex(), "spanId": link.span_id.hex()}
        _put(item, "traceState", link.trace_state)
        _put(item, "attributes", _attributes(link.attributes))
        _put(item, "droppedAttributesCount", link.dropped_attributes_count)
        _put(item, "flags", link.flags)
        links.append(item)
    _put(out, "links", links)
    _put(out, "droppedLinksCount", span.dropped_links_count)
    if span.HasField("status"):  # a set message field is written even when empty, as canonical JSON does
        status: dict[str, Any] = {}
        _put(status, "message", span.status.message)
        _put(status, "code", span.status.code)
        out["status"] = status
    return out


def traces_to_json(request: ExportTraceServiceRequest) -> bytes:
    """One compact OTLP/JSON object (no newline), the line format of the Collector's file exporter."""
    resources = []
    for resource_spans in request.resource_spans:
        scopes = []
        for scope_spans in resource_spans.scope_spans:
            scope: dict[str, Any] = {}
            if scope_spans.HasField("scope"):
                scope["scope"] = _scope(scope_spans.scope)
            _put(scope, "spans", [_span(span) for span in scope_spans.spans])
            _put(scope, "schemaUrl", scope_spans.schema_url)
            scopes.append(scope)
        item: dict[str, Any] = {}
        if resource_spans.HasField("resource"):
            item["resource"] = _resource(resource_spans.resource)
        _put(item, "scopeSpans", scopes)
        _put(item, "schemaUrl", resource_spans.schema_url)
        resources.append(item)
    return _encode({"resourceSpans": resources})


def _point_common(
    point: NumberDataPoint | HistogramDataPoint | ExponentialHistogramDataPoint | SummaryDataPoint,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "attributes", _attributes(point.attributes))
    _put(out, "startTimeUnixNano", str(point.start_time_unix_nano) if point.start_time_unix_nano else "")
    _put(out, "timeUnixNano", str(point.time_unix_nano) if point.time_unix_nano else "")
    _put(out, "flags", point.flags)
    return out


def _exemplars(exemplars: Iterable[Exemplar]) -> list[dict[str, Any]]:
    out = []
    for exemplar in exemplars:
        item: dict[str, Any] = {}
        _put(item, "filteredAttributes", _attributes(exemplar.filtered_attributes))
        _put(item, "timeUnixNano", str(exemplar.time_unix_nano) if exemplar.time_unix_nano else "")
        kind = exemplar.WhichOneof("value")
        if kind == "as_double":
            item["asDouble"] = _double(exemplar.as_double)
        elif kind == "as_int":
            item["asInt"] = str(exemplar.as_int)
        _put(item, "spanId", exemplar.span_id.hex())
        _put(item, "traceId", exemplar.trace_id.hex())
        out.append(item)
    return out


def _number_point(point: NumberDataPoint) -> dict[str, Any]:
    out = _point_common(point)
    kind = point.WhichOneof("value")
    if kind == "as_double":
        out["asDouble"] = _double(point.as_double)
    elif kind == "as_int":
        out["asInt"] = str(point.as_int)
    _put(out, "exemplars", _exemplars(point.exemplars))
    return out


def _optional_stats(out: dict[str, Any], point: HistogramDataPoint | ExponentialHistogramDataPoint) -> None:
    """``sum``, ``min`` and ``max`` are proto3 ``optional``: present means present, even when zero."""
    if point.HasField("sum"):
        out["sum"] = _double(point.sum)
    if point.HasField("min"):
        out["min"] = _double(point.min)
    if point.HasField("max"):
        out["max"] = _double(point.max)


def _histogram_point(point: HistogramDataPoint) -> dict[str, Any]:
    out = _point_common(point)
    _put(out, "count", str(point.count) if point.count else "")
    _optional_stats(out, point)
    _put(out, "bucketCounts", [str(count) for count in point.bucket_counts])
    _put(out, "explicitBounds", [_double(bound) for bound in point.explicit_bounds])
    _put(out, "exemplars", _exemplars(point.exemplars))
    return out


def _buckets(buckets: ExponentialHistogramDataPoint.Buckets) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "offset", buckets.offset)
    _put(out, "bucketCounts", [str(count) for count in buckets.bucket_counts])
    return out


def _exponential_point(point: ExponentialHistogramDataPoint) -> dict[str, Any]:
    out = _point_common(point)
    _put(out, "count", str(point.count) if point.count else "")
    _optional_stats(out, point)
    _put(out, "scale", point.scale)
    _put(out, "zeroCount", str(point.zero_count) if point.zero_count else "")
    if point.HasField("positive"):
        out["positive"] = _buckets(point.positive)
    if point.HasField("negative"):
        out["negative"] = _buckets(point.negative)
    _put(out, "exemplars", _exemplars(point.exemplars))
    if point.zero_threshold:
        out["zeroThreshold"] = _double(point.zero_threshold)
    return out


def _summary_point(point: SummaryDataPoint) -> dict[str, Any]:
    out = _point_common(point)
    _put(out, "count", str(point.count) if point.count else "")
    if point.sum:
        out["sum"] = _double(point.sum)
    quantiles = []
    for item in point.quantile_values:
        quantile: dict[str, Any] = {}
        if item.quantile:
            quantile["quantile"] = _double(item.quantile)
        if item.value:
            quantile["value"] = _double(item.value)
        quantiles.append(quantile)
    _put(out, "quantileValues", quantiles)
    return out


def _metric(metric: Metric) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "name", metric.name)
    _put(out, "description", metric.description)
    _put(out, "unit", metric.unit)
    _put(out, "metadata", _attributes(metric.metadata))
    kind = metric.WhichOneof("data")
    if kind is None:
        return out
    data: dict[str, Any] = {}
    if kind == "gauge":
        _put(data, "dataPoints", [_number_point(point) for point in metric.gauge.data_points])
    elif kind == "sum":
        _put(data, "dataPoints", [_number_point(point) for point in metric.sum.data_points])
        _put(data, "aggregationTemporality", metric.sum.aggregation_temporality)
        _put(data, "isMonotonic", metric.sum.is_monotonic)
    elif kind == "histogram":
        _put(data, "dataPoints", [_histogram_point(point) for point in metric.histogram.data_points])
        _put(data, "aggregationTemporality", metric.histogram.aggregation_temporality)
    elif kind == "exponential_histogram":
        exponential = metric.exponential_histogram
        _put(data, "dataPoints", [_exponential_point(point) for point in exponential.data_points])
        _put(data, "aggregationTemporality", exponential.aggregation_temporality)
    elif kind == "summary":
        _put(data, "dataPoints", [_summary_point(point) for point in metric.summary.data_points])
    out[_CAMEL.get(kind, kind)] = data
    return out


def metrics_to_json(request: ExportMetricsServiceRequest) -> bytes:
    """One compact OTLP/JSON object (no newline), the line format of the Collector's file exporter."""
    resources = []
    for resource_metrics in request.resource_metrics:
        scopes = []
        for scope_metrics in resource_metrics.scope_metrics:
            scope: dict[str, Any] = {}
            if scope_metrics.HasField("scope"):
                scope["scope"] = _scope(scope_metrics.scope)
            _put(scope, "metrics", [_metric(metric) for metric in scope_metrics.metrics])
            _put(scope, "schemaUrl", scope_metrics.schema_url)
            scopes.append(scope)
        item: dict[str, Any] = {}
        if resource_metrics.HasField("resource"):
            item["resource"] = _resource(resource_metrics.resource)
        _put(item, "scopeMetrics", scopes)
        _put(item, "schemaUrl", resource_metrics.schema_url)
        resources.append(item)
    return _encode({"resourceMetrics": resources})
