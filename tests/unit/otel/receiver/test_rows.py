"""OTLP messages to store rows: values mapped faithfully, run ids found, unusable items rejected with a reason."""

from __future__ import annotations

import math

import msgspec
import pytest
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AggregationTemporality,
    ExponentialHistogram,
    ExponentialHistogramDataPoint,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    NumberDataPoint,
    Sum,
    Summary,
    SummaryDataPoint,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from otel.receiver.rows import MAX_INT64, POINT_COLUMNS, SPAN_COLUMNS, any_value, metric_rows, span_rows, trace_key
from tests.unit.otel.receiver import make

TRACE = make.trace_id(0xABC)
DELTA = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE


def column(row: tuple[object, ...], name: str) -> object:
    return row[SPAN_COLUMNS.index(name)]


def point_column(row: tuple[object, ...], name: str) -> object:
    return row[POINT_COLUMNS.index(name)]


def test_any_value_maps_every_kind() -> None:
    value = {
        "s": "text",
        "i": -7,
        "d": 2.5,
        "b": False,
        "raw": b"\x00\xff",
        "list": [1, "two", [3.0]],
        "map": {"nested": {"deeper": True}},
    }
    assert any_value(make.any_value(value)) == {**value, "raw": "AP8="}
    assert any_value(make.any_value(None)) is None


def test_span_row_fields() -> None:
    parent = make.span_id(1)
    request = make.traces(
        make.span(
            "child", TRACE, make.span_id(2), parent, start=make.T0, duration=2_500, kind=Span.SPAN_KIND_CLIENT, k="v"
        ),
        service="pp-gateway",
        resource={"service.instance.id": "i-1"},
    )
    (row,) = span_rows(request).rows
    assert len(row) == len(SPAN_COLUMNS)
    assert column(row, "trace_id") == TRACE.hex() and column(row, "span_id") == make.span_id(2).hex()
    assert column(row, "parent_span_id") == parent.hex()
    assert column(row, "trace_key") == trace_key(TRACE) == 0xABC
    assert (column(row, "name"), column(row, "kind")) == ("child", 3)
    assert (column(row, "service_name"), column(row, "service_instance_id")) == ("pp-gateway", "i-1")
    assert (column(row, "start_ns"), column(row, "end_ns"), column(row, "duration_ns")) == (
        make.T0,
        make.T0 + 2_500,
        2_500,
    )
    assert msgspec.json.decode(str(column(row, "attributes"))) == {"k": "v"}
    assert (column(row, "scope_name"), column(row, "scope_version")) == ("test-scope", "9")
    assert column(row, "events") == "[]" and column(row, "links") == "[]"


def test_trace_key_is_signed_64_bits_of_the_random_end() -> None:
    assert trace_key(bytes(8) + b"\xff" * 8) == -1
    assert trace_key(b"\x01" * 8 + bytes(7) + b"\x02") == 2


def test_run_id_from_the_span_else_its_resource() -> None:
    request = make.traces(
        make.span("own", TRACE, make.span_id(1), pp__run__id="span-run"),
        make.span("inherits", TRACE, make.span_id(2)),
        make.span("empty", TRACE, make.span_id(3), pp__run__id=""),
        resource={"pp.run.id": "resource-run"},
    )
    runs = [column(row, "run_id") for row in span_rows(request).rows]
    assert runs == ["span-run", "resource-run", "resource-run"]
    assert column(span_rows(make.traces(make.span("none", TRACE, make.span_id(1)))).rows[0], "run_id") is None


def test_an_all_zero_parent_means_no_parent() -> None:
    (row,) = span_rows(make.traces(make.span("root", TRACE, make.span_id(1), bytes(8)))).rows
    assert column(row, "parent_span_id") is None


@pytest.mark.parametrize(
    ("trace", "ident", "parent", "reason"),
    [
        (TRACE[:15], make.span_id(1), b"", "trace_id must be 16 non-zero bytes, got 15"),
        (bytes(16), make.span_id(1), b"", "trace_id must be 16 non-zero bytes, got 16"),
        (TRACE, b"", b"", "span_id must be 8 non-zero bytes, got 0"),
        (TRACE, bytes(8), b"", "span_id must be 8 non-zero bytes, got 8"),
        (TRACE, make.span_id(1), b"\x01\x02\x03", "parent_span_id must be empty or 8 bytes, got 3"),
    ],
)
def test_spans_with_unusable_ids_are_rejected(trace: bytes, ident: bytes, parent: bytes, reason: str) -> None:
    request = make.traces(make.span("good", TRACE, make.span_id(9)), make.span("bad", trace, ident, parent))
    converted = span_rows(request, prune=True)
    assert [column(row, "name") for row in converted.rows] == ["good"]
    assert converted.rejected == 1
    assert converted.error_message == f"span 'bad': {reason}"
    assert [span.name for span in request.resource_spans[0].scope_spans[0].spans] == ["good"]


def test_times_beyond_sqlite_integers_are_rejected() -> None:
    converted = span_rows(make.traces(make.span("future", TRACE, make.span_id(1), start=MAX_INT64)))
    assert (converted.rows, converted.rejected) == ([], 1)
    assert "2^63" in converted.error_message


def test_rejection_reasons_are_bounded() -> None:
    spans = [make.span(f"bad{n}", TRACE[: n % 15], make.span_id(n + 1)) for n in range(40)]
    converted = span_rows(make.traces(*spans))
    assert converted.rejected == 40
    assert converted.error_message.count(";") == 4  # five distinct reasons at most


def test_events_and_links() -> None:
    span = make.span("with", TRACE, make.span_id(1))
    event = span.events.add(time_unix_nano=make.T0 + 5, name="retry")
    event.attributes.extend(make.attrs({"attempt": 2}))
    link = span.links.add(trace_id=make.trace_id(7), span_id=make.span_id(8))
    link.attributes.extend(make.attrs({"why": "fan-in"}))
    (row,) = span_rows(make.traces(span)).rows
    assert msgspec.json.decode(str(column(row, "events"))) == [
        {"name": "retry", "time_ns": make.T0 + 5, "attributes": {"attempt": 2}}
    ]
    assert msgspec.json.decode(str(column(row, "links"))) == [
        {"trace_id": make.trace_id(7).hex(), "span_id": make.span_id(8).hex(), "attributes": {"why": "fan-in"}}
    ]


def test_resources_are_listed_once_with_a_stable_id() -> None:
    first = span_rows(make.traces(make.span("a", TRACE, make.span_id(1)), service="x"))
    again = span_rows(make.traces(make.span("b", TRACE, make.span_id(2)), service="x"))
    other = span_rows(make.traces(make.span("c", TRACE, make.span_id(3)), service="y"))
    assert len(first.resources) == 1
    assert first.resources[0][0] == again.resources[0][0] != other.resources[0][0]
    assert column(first.rows[0], "resource_id") == first.resources[0][0]
    assert msgspec.json.decode(first.resources[0][3]) == {"service.name": "x"}


# --- metrics ----------------------------------------------------------------------------------------------------


def test_number_points() -> None:
    attrs = make.attrs({"a": 1})
    request = make.metrics(
        Metric(
            name="g",
            unit="1",
            gauge=Gauge(data_points=[NumberDataPoint(time_unix_nano=make.T0, as_double=0.5, attributes=attrs)]),
        ),
        Metric(
            name="c",
            sum=Sum(
                aggregation_temporality=CUMULATIVE,
                is_monotonic=True,
                data_points=[NumberDataPoint(start_time_unix_nano=make.T0 - 10, time_unix_nano=make.T0, as_int=3)],
            ),
        ),
        resource={"pp.run.id": "r1"},
    )
    gauge, total = metric_rows(request).rows
    assert len(gauge) == len(POINT_COLUMNS)
    assert (point_column(gauge, "type"), point_column(gauge, "value"), point_column(gauge, "unit")) == (
        "gauge",
        0.5,
        "1",
    )
    assert point_column(gauge, "temporality") is None and point_column(gauge, "start_ns") is None
    assert msgspec.json.decode(str(point_column(gauge, "attributes"))) == {"a": 1}
    assert (point_column(total, "type"), point_column(total, "value")) == ("sum", 3)
    assert (point_column(total, "temporality"), point_column(total, "monotonic")) == (2, True)
    assert point_column(total, "start_ns") == make.T0 - 10
    assert point_column(total, "run_id") == "r1"


def test_histogram_points_keep_bounds_and_counts() -> None:
    point = HistogramDataPoint(
        time_unix_nano=make.T0, count=4, sum=1.5, min=0.0, max=1.0, explicit_bounds=[0.2, 0.5], bucket_counts=[1, 2, 1]
    )
    no_sum = HistogramDataPoint(time_unix_nano=make.T0, count=0, explicit_bounds=[0.2], bucket_counts=[0, 0])
    request = make.metrics(
        Metric(name="h", histogram=Histogram(aggregation_temporality=DELTA, data_points=[point, no_sum]))
    )
    full, empty = metric_rows(request).rows
    assert (point_column(full, "count"), point_column(full, "sum")) == (4, 1.5)
    assert (point_column(full, "min"), point_column(full, "max")) == (0.0, 1.0)  # present, though zero
    assert point_column(full, "bucket_bounds") == "[0.2,0.5]" and point_column(full, "bucket_counts") == "[1,2,1]"
    assert point_column(empty, "sum") is None and point_column(empty, "min") is None


@pytest.mark.parametrize(
    ("point", "reason"),
    [
        (HistogramDataPoint(count=2, explicit_bounds=[1.0], bucket_counts=[2]), "1 bucket counts for 1 bounds"),
        (HistogramDataPoint(count=3, explicit_bounds=[1.0], bucket_counts=[1, 1]), "add up to 2, count is 3"),
        (HistogramDataPoint(count=2**63, explicit_bounds=[], bucket_counts=[]), "count beyond 2^63"),
        (HistogramDataPoint(time_unix_nano=2**63), "timestamps beyond 2^63"),
    ],
)
def test_inconsistent_histograms_are_rejected(point: HistogramDataPoint, reason: str) -> None:
    good = HistogramDataPoint(time_unix_nano=make.T0, count=1, explicit_bounds=[1.0], bucket_counts=[1, 0])
    request = make.metrics(Metric(name="h", histogram=Histogram(data_points=[good, point])))
    converted = metric_rows(request, prune=True)
    assert (len(converted.rows), converted.rejected) == (1, 1)
    assert reason in converted.error_message
    assert list(request.resource_metrics[0].scope_metrics[0].metrics[0].histogram.data_points) == [good]


def test_a_metric_without_a_name_loses_its_points() -> None:
    nameless = Metric(gauge=Gauge(data_points=[NumberDataPoint(as_int=1), NumberDataPoint(as_int=2)]))
    named = Metric(name="kept", gauge=Gauge(data_points=[NumberDataPoint(as_int=1)]))
    request = make.metrics(nameless, named)
    converted = metric_rows(request, prune=True)
    assert (len(converted.rows), converted.rejected) == (1, 2)
    assert [metric.name for metric in request.resource_metrics[0].scope_metrics[0].metrics] == ["kept"]


def test_exponential_histograms_and_summaries() -> None:
    exponential = ExponentialHistogramDataPoint(
        time_unix_nano=make.T0, count=3, sum=6.0, scale=2, zero_count=1, zero_threshold=0.001
    )
    exponential.positive.offset = -1
    exponential.positive.bucket_counts.extend([1, 1])
    summary = SummaryDataPoint(time_unix_nano=make.T0, count=10, sum=5.0)
    summary.quantile_values.add(quantile=0.99, value=math.pi)
    request = make.metrics(
        Metric(
            name="e",
            exponential_histogram=ExponentialHistogram(aggregation_temporality=CUMULATIVE, data_points=[exponential]),
        ),
        Metric(name="s", summary=Summary(data_points=[summary])),
    )
    erow, srow = metric_rows(request).rows
    assert msgspec.json.decode(str(point_column(erow, "exponential"))) == {
        "scale": 2,
        "zero_count": 1,
        "zero_threshold": 0.001,
        "positive": {"offset": -1, "bucket_counts": [1, 1]},
        "negative": {"offset": 0, "bucket_counts": []},
    }
    assert (point_column(erow, "count"), point_column(erow, "sum"), point_column(erow, "temporality")) == (3, 6.0, 2)
    assert msgspec.json.decode(str(point_column(srow, "quantiles"))) == [{"quantile": 0.99, "value": math.pi}]
    assert (point_column(srow, "count"), point_column(srow, "sum")) == (10, 5.0)
