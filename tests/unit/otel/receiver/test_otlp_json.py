"""OTLP/JSON both ways: lines the receiver writes read back into equal messages, in the spec's spelling.

The reference for the spelling is ``json_format.MessageToDict`` (protobuf's canonical JSON) with the one change
OTLP makes: trace and span ids in hex. The messages come from the SDK's own encoders, as the exporters send them.
"""

from __future__ import annotations

import base64
import math
from typing import Any

import msgspec
import pytest
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import Gauge, Metric, NumberDataPoint, Summary, SummaryDataPoint
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from otel.receiver.otlp_json import JsonDecodeError, metrics_to_json, parse, traces_to_json
from tests.unit.otel.receiver import make


def canonical(message: Any) -> Any:
    """``MessageToDict`` with OTLP's hex ids: what a line must equal."""
    document = json_format.MessageToDict(message, use_integers_for_enums=True)

    def fix(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("traceId", "spanId", "parentSpanId"):
                    node[key] = base64.b64decode(value).hex()
                else:
                    fix(value)
        elif isinstance(node, list):
            for item in node:
                fix(item)

    fix(document)
    return document


def sdk_traces() -> ExportTraceServiceRequest:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "pp-gateway", "pp.run.id": "r"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("scope", "1.0", schema_url="https://opentelemetry.io/schemas/1.26.0")
    with tracer.start_as_current_span("other") as other:
        pass
    with tracer.start_as_current_span(
        "POST /mcp",
        kind=SpanKind.SERVER,
        attributes={"s": "x", "i": 2**40, "f": 0.1, "b": True, "ss": ["a", "b"], "ii": [1, 2], "ff": [1.5]},
        links=[Link(other.get_span_context(), {"k": "v"})],
    ) as root:
        root.add_event("event", {"n": 1})
        with tracer.start_as_current_span("child", kind=SpanKind.CLIENT) as child:
            child.set_status(Status(StatusCode.ERROR, "broken"))
    provider.shutdown()
    return encode_spans(exporter.get_finished_spans())


def sdk_metrics() -> ExportMetricsServiceRequest:
    reader = InMemoryMetricReader()
    provider = MeterProvider(
        metric_readers=[reader],
        resource=Resource.create({"service.name": "pp-retrieval"}),
        views=[View(instrument_name="exp", aggregation=ExponentialBucketHistogramAggregation(max_size=20))],
    )
    meter = provider.get_meter("scope")
    histogram = meter.create_histogram("h", unit="s", description="latency")
    exponential = meter.create_histogram("exp")
    counter = meter.create_counter("c")
    updown = meter.create_up_down_counter("u")
    gauge = meter.create_gauge("g")
    for value in (0.0, 0.004, 0.3, 7.0):
        histogram.record(value, {"tool": "search"})
        exponential.record(value + 0.1)
    counter.add(3, {"tier": "l1"})
    updown.add(-2)
    gauge.set(1.25)
    data = reader.get_metrics_data()
    provider.shutdown()
    assert data is not None
    return encode_metrics(data)


def test_sdk_traces_round_trip_and_match_the_canonical_json() -> None:
    request = sdk_traces()
    line = traces_to_json(request)
    assert b"\n" not in line
    assert msgspec.json.decode(line) == canonical(request)
    assert parse(line, ExportTraceServiceRequest()) == request


def test_sdk_metrics_round_trip_and_match_the_canonical_json() -> None:
    request = sdk_metrics()
    kinds = {m.WhichOneof("data") for m in request.resource_metrics[0].scope_metrics[0].metrics}
    assert kinds == {"histogram", "exponential_histogram", "sum", "gauge"}
    line = metrics_to_json(request)
    assert msgspec.json.decode(line) == canonical(request)
    assert parse(line, ExportMetricsServiceRequest()) == request


def test_summaries_exemplars_bytes_and_non_finite_doubles_round_trip() -> None:
    summary = SummaryDataPoint(time_unix_nano=make.T0, count=3, sum=math.inf)
    summary.quantile_values.add(quantile=0.5, value=math.nan)
    summary.quantile_values.add(quantile=1.0, value=-math.inf)
    number = NumberDataPoint(time_unix_nano=make.T0, as_double=math.nan, attributes=make.attrs({"raw": b"\x00\x01"}))
    exemplar = number.exemplars.add(time_unix_nano=make.T0, as_int=5)
    exemplar.trace_id, exemplar.span_id = make.trace_id(3), make.span_id(4)
    request = make.metrics(
        Metric(name="s", summary=Summary(data_points=[summary])), Metric(name="g", gauge=Gauge(data_points=[number]))
    )
    line = metrics_to_json(request)
    document = msgspec.json.decode(line)
    assert document == canonical(request)
    assert (
        document["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][1]["gauge"]["dataPoints"][0]["exemplars"][0][
            "traceId"
        ]
        == make.trace_id(3).hex()
    )
    back = parse(line, ExportMetricsServiceRequest())
    point = back.resource_metrics[0].scope_metrics[0].metrics[0].summary.data_points[0]
    assert point.sum == math.inf and math.isnan(point.quantile_values[0].value)
    assert back.resource_metrics[0].scope_metrics[0].metrics[1].gauge.data_points[0].exemplars[0] == exemplar


def test_parse_accepts_what_the_spec_allows() -> None:
    """Integers as numbers or strings, enums as integers, proto field names, unknown fields."""
    body = (
        b'{"resource_spans": [{"scopeSpans": [{"spans": [{"trace_id": "000102030405060708090a0b0c0d0e0f",'
        b' "spanId": "0001020304050607", "kind": 2, "startTimeUnixNano": 5, "endTimeUnixNano": "7",'
        b' "somethingNew": {"x": 1}}]}]}]}'
    )
    request = parse(body, ExportTraceServiceRequest())
    span = request.resource_spans[0].scope_spans[0].spans[0]
    assert span.trace_id == bytes(range(16)) and span.span_id == bytes(range(8))
    assert (span.kind, span.start_time_unix_nano, span.end_time_unix_nano) == (2, 5, 7)


def test_parse_logs_ids_too() -> None:
    body = b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"traceId": "0f", "body": {"stringValue": "x"}}]}]}]}'
    request = parse(body, ExportLogsServiceRequest())
    assert request.resource_logs[0].scope_logs[0].log_records[0].trace_id == b"\x0f"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"resourceSpans": 5}',
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "not hex"}]}]}]}',
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "-1"}]}]}]}',
    ],
)
def test_parse_refuses_what_is_not_otlp_json(body: bytes) -> None:
    with pytest.raises(JsonDecodeError):
        parse(body, ExportTraceServiceRequest())


def test_empty_and_unset_message_fields_keep_their_presence() -> None:
    traces = ExportTraceServiceRequest()
    traces.resource_spans.add().scope_spans.add().spans.add(trace_id=make.trace_id(1), span_id=make.span_id(1))
    metrics = ExportMetricsServiceRequest()
    metrics.resource_metrics.add().scope_metrics.add().metrics.add(name="empty", gauge=Gauge())
    trace_line, metric_line = traces_to_json(traces), metrics_to_json(metrics)
    assert msgspec.json.decode(trace_line) == canonical(traces)
    assert msgspec.json.decode(metric_line) == canonical(metrics)
    assert parse(trace_line, ExportTraceServiceRequest()) == traces
    assert parse(metric_line, ExportMetricsServiceRequest()) == metrics
