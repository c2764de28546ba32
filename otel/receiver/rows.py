"""OTLP messages → flat store rows, validating as it goes.

Rows are plain tuples in the column order of ``SPAN_COLUMNS``/``POINT_COLUMNS`` (below) because the store inserts
them with one ``executemany`` per batch: building tuples here, on the decode thread, leaves the writer thread
nothing to do but bind and commit. Attributes become JSON objects (the OTLP ``AnyValue`` tree mapped onto JSON:
``kvlist`` → object, ``array`` → array, ``bytes`` → base64 string) so the validator can read them back with one
``msgspec.json.decode`` and SQL can reach into them with ``json_extract``.

Validation follows OTLP's partial-success rules: an item that cannot be stored faithfully (a span whose ids have
the wrong length, a histogram whose bucket counts do not match its bounds) is dropped and counted, the rest of the
request is kept, and the sender learns how many were rejected and why.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

import msgspec

from otel import contract

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.metrics.v1.metrics_pb2 import (
        ExponentialHistogramDataPoint,
        HistogramDataPoint,
        Metric,
        NumberDataPoint,
        SummaryDataPoint,
    )
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

__all__ = (
    "MAX_INT64",
    "POINT_COLUMNS",
    "RESOURCE_COLUMNS",
    "SPAN_COLUMNS",
    "Converted",
    "PointRow",
    "ResourceRow",
    "SpanRow",
    "any_value",
    "attributes",
    "metric_rows",
    "point_count",
    "span_rows",
    "trace_key",
)

SpanRow: TypeAlias = tuple[Any, ...]
PointRow: TypeAlias = tuple[Any, ...]
ResourceRow: TypeAlias = tuple[int, str, "str | None", str]

SPAN_COLUMNS = (
    "trace_key",
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "service_name",
    "service_instance_id",
    "run_id",
    "start_ns",
    "end_ns",
    "duration_ns",
    "status_code",
    "status_message",
    "attributes",
    "events",
    "links",
    "resource_id",
    "scope_name",
    "scope_version",
)
"""Column order of a span row (``store`` inserts by these names)."""

POINT_COLUMNS = (
    "name",
    "unit",
    "type",
    "temporality",
    "monotonic",
    "service_name",
    "service_instance_id",
    "run_id",
    "scope_name",
    "attributes",
    "resource_id",
    "start_ns",
    "time_ns",
    "value",
    "count",
    "sum",
    "min",
    "max",
    "bucket_bounds",
    "bucket_counts",
    "exponential",
    "quantiles",
    "flags",
)
"""Column order of a metric-point row."""

RESOURCE_COLUMNS = ("resource_id", "service_name", "service_instance_id", "attributes")

SERVICE_NAME = "service.name"
SERVICE_INSTANCE_ID = "service.instance.id"
_ZERO_TRACE_ID = bytes(16)
_ZERO_SPAN_ID = bytes(8)
_SCALARS = frozenset({"string_value", "int_value", "double_value", "bool_value"})
MAX_INT64 = 2**63 - 1
"""SQLite integers are signed 64-bit: an OTLP ``fixed64`` above this cannot be stored (and is no real time)."""
_EMPTY_LIST = "[]"
_EMPTY_OBJECT = "{}"
_MAX_REASONS = 5
"""How many distinct rejection reasons go into ``error_message``: enough to debug a sender, bounded in size."""

_encode = msgspec.json.Encoder().encode


@dataclass(slots=True)
class Converted:
    """The rows of one request, plus what was rejected and why (for the OTLP ``partial_success`` answer)."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    resources: list[ResourceRow] = field(default_factory=list)
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)

    def reject(self, count: int, reason: str) -> None:
        self.rejected += count
        if len(self.reasons) < _MAX_REASONS and reason not in self.reasons:
            self.reasons.append(reason)

    @property
    def error_message(self) -> str:
        return "; ".join(self.reasons)


def any_value(value: AnyValue) -> Any:
    """One OTLP ``AnyValue`` as a JSON-ready Python value (``None`` for an empty value)."""
    kind = value.WhichOneof("value")
    if kind in _SCALARS:
        return getattr(value, kind)
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {item.key: any_value(item.value) for item in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return None


def attributes(items: Iterable[KeyValue]) -> dict[str, Any]:
    """OTLP key/value pairs as a dict (a repeated key keeps its last value, as the SDKs do)."""
    out: dict[str, Any] = {}
    for item in items:  # scalars inlined, strings first: this loop is the largest share of conversion time
        value = item.value
        kind = value.WhichOneof("value")
        if kind == "string_value":
            out[item.key] = value.string_value
        elif kind in _SCALARS:
            out[item.key] = getattr(value, kind)
        else:
            out[item.key] = any_value(value)
    return out


def _json(mapping: dict[str, Any]) -> str:
    return _encode(mapping).decode() if mapping else _EMPTY_OBJECT


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def trace_key(trace_id: bytes) -> int:
    """The store's index key for a trace: its last 8 bytes as a signed 64-bit integer.

    An integer key keeps the index small and its inserts cheap (measured 40k vs 31k spans/s against indexing the
    hex text); the last 8 bytes are the random ones (W3C trace context level 2), so keys spread evenly. Lookups
    compare the full id as well, so a key collision costs a row read, never a wrong answer.
    """
    return int.from_bytes(trace_id[8:], "big", signed=True)


@dataclass(frozen=True, slots=True)
class _ResourceInfo:
    """What the rows of one OTLP resource share; its id is a content hash, so no lookup is needed to reuse it."""

    id: int
    service_name: str
    instance: str | None
    run_id: str | None

    @classmethod
    def of(cls, items: Iterable[KeyValue], out: Converted) -> _ResourceInfo:
        resource = attributes(items)
        resource_json = _json(resource)
        digest = hashlib.blake2b(resource_json.encode(), digest_size=8).digest()
        resource_id = int.from_bytes(digest, "big", signed=True)
        service = resource.get(SERVICE_NAME)
        info = cls(
            id=resource_id,
            service_name=service if isinstance(service, str) else "",
            instance=_str_or_none(resource.get(SERVICE_INSTANCE_ID)),
            run_id=_str_or_none(resource.get(contract.RUN_ID)),
        )
        out.resources.append((resource_id, info.service_name, info.instance, resource_json))
        return info


def _span_reason(span: Span) -> str | None:
    """Why a span cannot be stored, or ``None`` when its ids are usable."""
    if len(span.trace_id) != 16 or span.trace_id == _ZERO_TRACE_ID:
        return f"span {span.name!r}: trace_id must be 16 non-zero bytes, got {len(span.trace_id)}"
    if len(span.span_id) != 8 or span.span_id == _ZERO_SPAN_ID:
        return f"span {span.name!r}: span_id must be 8 non-zero bytes, got {len(span.span_id)}"
    if len(span.parent_span_id) not in (0, 8):
        return f"span {span.name!r}: parent_span_id must be empty or 8 bytes, got {len(span.parent_span_id)}"
    if span.start_time_unix_nano > MAX_INT64 or span.end_time_unix_nano > MAX_INT64:
        return f"span {span.name!r}: timestamps beyond 2^63 ns"
    return None


def _events(span: Span) -> str:
    if not span.events:
        return _EMPTY_LIST
    return _encode(
        [
            {"name": event.name, "time_ns": event.time_unix_nano, "attributes": attributes(event.attributes)}
            for event in span.events
        ]
    ).decode()


def _links(span: Span) -> str:
    if not span.links:
        return _EMPTY_LIST
    return _encode(
        [
            {"trace_id": link.trace_id.hex(), "span_id": link.span_id.hex(), "attributes": attributes(link.attributes)}
            for link in span.links
        ]
    ).decode()


def span_rows(request: ExportTraceServiceRequest, *, prune: bool = False) -> Converted:
    """Rows for every valid span of ``request``; ``prune`` also deletes the rejected spans from the message.

    Pruning is for the JSON-lines copy: a file with an unusable span id would make Jaeger UI refuse the whole line.
    """
    out = Converted()
    rows = out.rows
    for resource_spans in request.resource_spans:
        resource = _ResourceInfo.of(resource_spans.resource.attributes, out)
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope
            bad: list[int] = []
            for index, span in enumerate(scope_spans.spans):
                reason = _span_reason(span)
                if reason is not None:
                    out.reject(1, reason)
                    bad.append(index)
                    continue
                attrs = attributes(span.attributes)
                run_id = _str_or_none(attrs.get(contract.RUN_ID)) or resource.run_id
                trace_id, parent = span.trace_id, span.parent_span_id
                start, end = span.start_time_unix_nano, span.end_time_unix_nano
                rows.append(
                    (
                        trace_key(trace_id),
                        trace_id.hex(),
                        span.span_id.hex(),
                        parent.hex() if parent and parent != _ZERO_SPAN_ID else None,
                        span.name,
                        span.kind,
                        resource.service_name,
                        resource.instance,
                        run_id,
                        start,
                        end,
                        end - start,
                        span.status.code,
                        span.status.message,
                        _json(attrs),
                        _events(span),
                        _links(span),
                        resource.id,
                        scope.name,
                        scope.version,
                    )
                )
            if prune:
                for index in reversed(bad):
                    del scope_spans.spans[index]
    return out


# --- metrics ----------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _MetricContext:
    """What every point of one metric shares; prefixes its rows."""

    name: str
    unit: str
    type: str
    temporality: int | None
    monotonic: bool | None
    resource: _ResourceInfo
    scope_name: str


def _number_row(ctx: _MetricContext, point: NumberDataPoint) -> PointRow:
    kind = point.WhichOneof("value")
    value: float | int | None = point.as_int if kind == "as_int" else point.as_double if kind == "as_double" else None
    return _point_row(ctx, point.attributes, point.start_time_unix_nano, point.time_unix_nano, point.flags, value=value)


def _histogram_row(ctx: _MetricContext, point: HistogramDataPoint) -> PointRow:
    return _point_row(
        ctx,
        point.attributes,
        point.start_time_unix_nano,
        point.time_unix_nano,
        point.flags,
        **_distribution(point),
        bounds=_encode(list(point.explicit_bounds)).decode(),
        counts=_encode(list(point.bucket_counts)).decode(),
    )


def _distribution(point: HistogramDataPoint | ExponentialHistogramDataPoint) -> dict[str, Any]:
    """Count, sum, min and max: what both histogram kinds carry (sum, min and max are optional in OTLP)."""
    return {
        "count": point.count,
        "sum_": point.sum if point.HasField("sum") else None,
        "min_": point.min if point.HasField("min") else None,
        "max_": point.max if point.HasField("max") else None,
    }


def _exponential_row(ctx: _MetricContext, point: ExponentialHistogramDataPoint) -> PointRow:
    buckets = {
        "scale": point.scale,
        "zero_count": point.zero_count,
        "zero_threshold": point.zero_threshold,
        "positive": {"offset": point.positive.offset, "bucket_counts": list(point.positive.bucket_counts)},
        "negative": {"offset": point.negative.offset, "bucket_counts": list(point.negative.bucket_counts)},
    }
    return _point_row(
        ctx,
        point.attributes,
        point.start_time_unix_nano,
        point.time_unix_nano,
        point.flags,
        **_distribution(point),
        exponential=_encode(buckets).decode(),
    )


def _summary_row(ctx: _MetricContext, point: SummaryDataPoint) -> PointRow:
    quantiles = [{"quantile": item.quantile, "value": item.value} for item in point.quantile_values]
    return _point_row(
        ctx,
        point.attributes,
        point.start_time_unix_nano,
        point.time_unix_nano,
        point.flags,
        count=point.count,
        sum_=point.sum,
        quantiles=_encode(quantiles).decode(),
    )


def _point_row(
    ctx: _MetricContext,
    point_attributes: Iterable[KeyValue],
    start_ns: int,
    time_ns: int,
    flags: int,
    *,
    value: float | int | None = None,
    count: int | None = None,
    sum_: float | None = None,
    min_: float | None = None,
    max_: float | None = None,
    bounds: str | None = None,
    counts: str | None = None,
    exponential: str | None = None,
    quantiles: str | None = None,
) -> PointRow:
    attrs = attributes(point_attributes)
    return (
        ctx.name,
        ctx.unit,
        ctx.type,
        ctx.temporality,
        ctx.monotonic,
        ctx.resource.service_name,
        ctx.resource.instance,
        _str_or_none(attrs.get(contract.RUN_ID)) or ctx.resource.run_id,
        ctx.scope_name,
        _json(attrs),
        ctx.resource.id,
        start_ns or None,
        time_ns,
        value,
        count,
        sum_,
        min_,
        max_,
        bounds,
        counts,
        exponential,
        quantiles,
        flags,
    )


def _histogram_reason(point: HistogramDataPoint) -> str | None:
    counts = point.bucket_counts
    if not counts:
        return None
    if len(counts) != len(point.explicit_bounds) + 1:
        return f"{len(counts)} bucket counts for {len(point.explicit_bounds)} bounds (want bounds + 1)"
    if sum(counts) != point.count:
        return f"bucket counts add up to {sum(counts)}, count is {point.count}"
    return None


def _point_reason(point: Any, kind: str) -> str | None:
    """Why a data point cannot be stored faithfully, or ``None``."""
    if point.time_unix_nano > MAX_INT64 or point.start_time_unix_nano > MAX_INT64:
        return "timestamps beyond 2^63 ns"
    if kind not in ("gauge", "sum") and point.count > MAX_INT64:
        return "count beyond 2^63"
    if kind == "histogram":
        return _histogram_reason(point)
    return None


_BUILDERS: dict[str, Callable[[_MetricContext, Any], PointRow]] = {
    "gauge": _number_row,
    "sum": _number_row,
    "histogram": _histogram_row,
    "exponential_histogram": _exponential_row,
    "summary": _summary_row,
}


def _metric_rows(metric: Metric, ctx: _MetricContext, out: Converted, *, prune: bool) -> None:
    points: Any = getattr(metric, ctx.type).data_points
    build = _BUILDERS[ctx.type]
    bad: list[int] = []
    for index, point in enumerate(points):
        reason = _point_reason(point, ctx.type)
        if reason is None:
            out.rows.append(build(ctx, point))
        else:
            out.reject(1, f"metric {metric.name!r}: {reason}")
            bad.append(index)
    if prune:
        for index in reversed(bad):
            del points[index]


def _temporality(metric: Metric, kind: str) -> tuple[int | None, bool | None]:
    if kind == "sum":
        return metric.sum.aggregation_temporality, metric.sum.is_monotonic
    if kind == "histogram":
        return metric.histogram.aggregation_temporality, None
    if kind == "exponential_histogram":
        return metric.exponential_histogram.aggregation_temporality, None
    return None, None


def point_count(metric: Metric) -> int:
    """How many data points ``metric`` carries, whatever its type."""
    kind = metric.WhichOneof("data")
    if kind is None:
        return 0
    points: Any = getattr(metric, kind).data_points
    return len(points)


def metric_rows(request: ExportMetricsServiceRequest, *, prune: bool = False) -> Converted:
    """Rows for every valid data point of ``request`` (a metric without a name loses all its points).

    ``prune`` also deletes what was rejected from the message, for the JSON-lines copy.
    """
    out = Converted()
    for resource_metrics in request.resource_metrics:
        resource = _ResourceInfo.of(resource_metrics.resource.attributes, out)
        for scope_metrics in resource_metrics.scope_metrics:
            nameless: list[int] = []
            for index, metric in enumerate(scope_metrics.metrics):
                kind = metric.WhichOneof("data")
                if kind is None:
                    continue
                if not metric.name:
                    out.reject(point_count(metric), "a metric without a name")
                    nameless.append(index)
                    continue
                temporality, monotonic = _temporality(metric, kind)
                ctx = _MetricContext(
                    name=metric.name,
                    unit=metric.unit,
                    type=kind,
                    temporality=temporality,
                    monotonic=monotonic,
                    resource=resource,
                    scope_name=scope_metrics.scope.name,
                )
                _metric_rows(metric, ctx, out, prune=prune)
            if prune:
                for index in reversed(nameless):
                    del scope_metrics.metrics[index]
    return out
