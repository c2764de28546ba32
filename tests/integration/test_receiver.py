"""The embedded OTLP receiver as a real process, fed by the official SDK exporters and by hand-made OTLP/JSON.

What goes in must come back out through ``otel.receiver.query``: names, ids, parentage, attributes, histogram
buckets. Bodies the receiver cannot decode get their 400/413/415 and leave nothing behind, and a flood of them does
not stop it from storing the next good batch.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import signal
import time
import uuid
from typing import TYPE_CHECKING, Any

import msgspec
import pytest
from google.protobuf import json_format
from google.rpc import status_pb2  # type: ignore[import-untyped]
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest, ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, Histogram, HistogramDataPoint, Metric
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from opentelemetry.proto.trace.v1.trace_pb2 import Status as SpanStatus
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from otel import contract
from otel.receiver import otlp_json, query
from tests.support.processes import ServiceProcess

if TYPE_CHECKING:
    from pathlib import Path

LIMIT = 1024 * 1024
"""The test receiver's body limit: small, so 413 and the gzip bomb are cheap to provoke."""


# --- fixtures and helpers ---------------------------------------------------------------------------------------


class Receiver:
    def __init__(self, process: ServiceProcess, store: Path, jsonl: Path) -> None:
        self.process = process
        self.store = store
        self.jsonl = jsonl

    @property
    def url(self) -> str:
        return self.process.url

    def count(self, table: str = "spans") -> int:
        conn = query.connect(self.store)
        try:
            found: int = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            return found
        finally:
            conn.close()

    def lines(self, name: str) -> list[bytes]:
        path = self.jsonl / name
        return path.read_bytes().splitlines() if path.exists() else []

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.process.port, timeout=30)
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()


def start_receiver(tmp: Path, env: dict[str, str] | None = None) -> Receiver:
    store, jsonl = tmp / "telemetry.sqlite3", tmp / "jsonl"
    process = ServiceProcess(
        "otel.receiver",
        "PP_RECEIVER_PORT",
        {
            "PP_RECEIVER_STORE": str(store),
            "PP_RECEIVER_JSONL": str(jsonl),
            "PP_RECEIVER_MAX_BODY_BYTES": str(LIMIT),
            "PP_LOG_LEVEL": "INFO",
            **(env or {}),
        },
        tmp / "receiver.log",
    )
    process.start(ready_path="/ready")
    return Receiver(process, store, jsonl)


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Any:
    started = start_receiver(tmp_path_factory.mktemp("receiver"))
    try:
        yield started
    finally:
        started.process.stop()


def tracer_provider(receiver: Receiver, service: str, **exporter: Any) -> TracerProvider:
    provider = TracerProvider(
        resource=Resource.create({"service.name": service, "service.instance.id": uuid.uuid4().hex})
    )
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{receiver.url}/v1/traces", **exporter), schedule_delay_millis=50)
    )
    return provider


def to_otlp_json(message: Any) -> bytes:
    """OTLP/JSON as the spec wants it, from ``json_format.MessageToJson``: ids re-spelled from base64 to hex.

    Walks the whole document (not the receiver's list of id places), so it checks the receiver independently.
    """
    document = json.loads(json_format.MessageToJson(message, use_integers_for_enums=True))

    def fix(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
                    node[key] = base64.b64decode(value).hex()
                else:
                    fix(value)
        elif isinstance(node, list):
            for item in node:
                fix(item)

    fix(document)
    return json.dumps(document).encode()


def kv(key: str, value: Any) -> KeyValue:
    if isinstance(value, str):
        return KeyValue(key=key, value=AnyValue(string_value=value))
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    return KeyValue(key=key, value=AnyValue(int_value=value))


def span_request(service: str, spans: list[Span]) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.append(kv("service.name", service))
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "hand-made"
    scope_spans.spans.extend(spans)
    return request


def new_span(name: str, trace_id: bytes, span_id: bytes, parent: bytes = b"", **attributes: Any) -> Span:
    now = time.time_ns()
    return Span(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        name=name,
        kind=Span.SPAN_KIND_SERVER,
        start_time_unix_nano=now,
        end_time_unix_nano=now + 1_000_000,
        attributes=[kv(key.replace("_", "."), value) for key, value in attributes.items()],
    )


def ids() -> tuple[bytes, bytes, bytes]:
    return uuid.uuid4().bytes, uuid.uuid4().bytes[:8], uuid.uuid4().bytes[:8]


# --- the SDK exporters ------------------------------------------------------------------------------------------


def test_sdk_spans_come_back_whole(receiver: Receiver) -> None:
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    provider = tracer_provider(receiver, contract.GATEWAY_SERVICE)
    tracer = provider.get_tracer(contract.INSTRUMENTATION_SCOPE, "1.2.3")
    with tracer.start_as_current_span("unrelated") as unrelated:
        unrelated_context = unrelated.get_span_context()
    with (
        tracer.start_as_current_span(
            "POST /mcp",
            kind=SpanKind.SERVER,
            attributes={contract.RUN_ID: run_id, contract.HTTP_RESPONSE_STATUS_CODE: 200, "pp.ratio": 0.25},
            links=[Link(unrelated_context, {"why": "test"})],
        ) as root,
        tracer.start_as_current_span(
            contract.TOOL_CALL_SPAN.format(tool="search_runbooks"),
            attributes={contract.GEN_AI_TOOL_NAME: "search_runbooks", "pp.tags": ["a", "b"], "pp.flag": True},
        ) as tool,
    ):
        tool.add_event("retry", {"attempt": 2})
        with tracer.start_as_current_span("POST", kind=SpanKind.CLIENT) as client:
            client.set_status(Status(StatusCode.ERROR, "upstream 503"))
    assert provider.force_flush(10_000)
    provider.shutdown()

    spans = query.spans_of_run(receiver.store, run_id)
    assert [span.name for span in spans] == ["POST /mcp", "tools/call search_runbooks", "POST"]
    found = query.trace(receiver.store, format(root.get_span_context().trace_id, "032x"))
    assert found is not None and found.complete and found.span_count == 3
    server = found.root.span
    assert server.span_id == format(root.get_span_context().span_id, "016x")
    assert server.parent_span_id is None
    assert server.kind == query.SpanKind.SERVER
    assert server.run_id == run_id
    assert server.service_name == contract.GATEWAY_SERVICE
    assert server.attributes == {contract.RUN_ID: run_id, contract.HTTP_RESPONSE_STATUS_CODE: 200, "pp.ratio": 0.25}
    assert server.resource["service.name"] == contract.GATEWAY_SERVICE
    assert server.scope_name == contract.INSTRUMENTATION_SCOPE and server.scope_version == "1.2.3"
    assert [(link.trace_id, link.span_id, link.attributes) for link in server.links] == [
        (format(unrelated_context.trace_id, "032x"), format(unrelated_context.span_id, "016x"), {"why": "test"})
    ]
    assert server.duration_ns == server.end_ns - server.start_ns > 0

    (tool_node,) = found.root.children
    assert tool_node.span.parent_span_id == server.span_id
    assert tool_node.span.run_id is None  # adopted through its trace
    assert tool_node.span.attributes == {
        contract.GEN_AI_TOOL_NAME: "search_runbooks",
        "pp.tags": ["a", "b"],
        "pp.flag": True,
    }
    assert [(event.name, event.attributes) for event in tool_node.span.events] == [("retry", {"attempt": 2})]
    (client_node,) = tool_node.children
    assert client_node.span.kind == query.SpanKind.CLIENT
    assert (client_node.span.status_code, client_node.span.status_message) == (query.StatusCode.ERROR, "upstream 503")

    assert contract.GATEWAY_SERVICE in query.services(receiver.store)
    operations = {(op.name, op.kind): op.spans for op in query.operations(receiver.store, run_id=run_id)}
    assert operations == {("POST /mcp", 2): 1, ("tools/call search_runbooks", 1): 1, ("POST", 3): 1}
    assert run_id in {run.run_id for run in query.runs(receiver.store)}


def test_sdk_gzip_and_deflate_exports(receiver: Receiver) -> None:
    for compression in (Compression.Gzip, Compression.Deflate):
        run_id = f"run-{compression.value}-{uuid.uuid4().hex[:8]}"
        provider = tracer_provider(receiver, contract.RETRIEVAL_SERVICE, compression=compression)
        tracer = provider.get_tracer(contract.INSTRUMENTATION_SCOPE)
        for _ in range(600):  # over one SDK batch (512)
            with tracer.start_as_current_span("GET /v1/runbooks", attributes={contract.RUN_ID: run_id}):
                pass
        assert provider.force_flush(10_000)
        provider.shutdown()
        assert len(query.spans_of_run(receiver.store, run_id)) == 600


def test_sdk_metrics_keep_their_buckets(receiver: Receiver) -> None:
    service = f"metrics-{uuid.uuid4().hex[:8]}"
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{receiver.url}/v1/metrics"), export_interval_millis=3_600_000
    )
    provider = MeterProvider(
        metric_readers=[reader],
        resource=Resource.create({"service.name": service}),
        views=[
            View(
                instrument_name=contract.MCP_SERVER_DURATION,
                aggregation=ExplicitBucketHistogramAggregation(boundaries=contract.DURATION_BUCKETS_S),
            )
        ],
    )
    meter = provider.get_meter(contract.INSTRUMENTATION_SCOPE)
    histogram = meter.create_histogram(contract.MCP_SERVER_DURATION, unit="s")
    counter = meter.create_counter(contract.CACHE_REQUESTS)
    gauge = meter.create_gauge(contract.PROCESS_OPEN_FILES)
    for value in (0.0004, 0.003, 0.003, 0.15, 0.2, 3.0, 12.0):
        histogram.record(value, {contract.GEN_AI_TOOL_NAME: "search_runbooks"})
    counter.add(5, {contract.CACHE_TIER: "l1", contract.CACHE_RESULT: "hit"})
    counter.add(2, {contract.CACHE_TIER: "l1", contract.CACHE_RESULT: "miss"})
    gauge.set(42)
    provider.shutdown()  # one final collection and export (a flush first would export the cumulative points twice)

    (point,) = query.metric_points(receiver.store, contract.MCP_SERVER_DURATION, service=service)
    assert point.type == "histogram" and point.unit == "s" and point.temporality == 2  # cumulative
    assert point.attributes == {contract.GEN_AI_TOOL_NAME: "search_runbooks"}
    assert point.bucket_bounds == list(contract.DURATION_BUCKETS_S)
    # Buckets are upper-inclusive: 0.2 lands with 0.15 in (0.1, 0.2], the bound at the 200 ms target.
    assert point.bucket_counts == [1, 0, 0, 2, 0, 0, 0, 0, 2, 0, 0, 0, 1, 0, 1]
    assert point.count == 7 and point.sum == pytest.approx(15.3564)
    assert (point.min, point.max) == (0.0004, 12.0)
    assert point.start_ns is not None and point.time_ns >= point.start_ns

    cache = query.metric_points(receiver.store, contract.CACHE_REQUESTS, service=service)
    assert {(p.attributes[contract.CACHE_RESULT], p.value) for p in cache} == {("hit", 5), ("miss", 2)}
    assert all(p.type == "sum" and p.monotonic is True for p in cache)
    (files,) = query.metric_points(receiver.store, contract.PROCESS_OPEN_FILES, service=service)
    assert (files.type, files.value) == ("gauge", 42)
    names = {series.name for series in query.metrics(receiver.store)}
    assert {contract.MCP_SERVER_DURATION, contract.CACHE_REQUESTS, contract.PROCESS_OPEN_FILES} <= names


# --- OTLP/JSON --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_otlp_json_traces(receiver: Receiver, compressed: bool) -> None:
    trace_id, root_id, child_id = ids()
    run_id = f"run-json-{uuid.uuid4().hex[:8]}"
    request = span_request(
        "json-client",
        [
            new_span("root", trace_id, root_id, pp_run_id=run_id),
            new_span("child", trace_id, child_id, root_id, http_response_status_code=404),
        ],
    )
    request.resource_spans[0].scope_spans[0].spans[1].attributes.append(
        KeyValue(
            key="list",
            value=AnyValue(array_value=ArrayValue(values=[AnyValue(int_value=1), AnyValue(double_value=2.5)])),
        )
    )
    body = to_otlp_json(request)
    assert trace_id.hex() in body.decode()  # hex on the wire, as OTLP/JSON wants
    headers = {"Content-Type": "application/json"}
    if compressed:
        body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
    status, response_headers, answer = receiver.post("/v1/traces", body, headers)
    assert status == 200
    assert response_headers["content-type"] == "application/json"
    assert json.loads(answer) == {}  # all accepted: no partial_success

    found = query.trace(receiver.store, trace_id.hex())
    assert found is not None
    assert found.root.span.span_id == root_id.hex() and found.root.span.run_id == run_id
    (child,) = found.root.children
    assert child.span.span_id == child_id.hex()
    assert child.span.attributes == {"http.response.status.code": 404, "list": [1, 2.5]}


def test_otlp_json_metrics(receiver: Receiver) -> None:
    name = f"pp.test.{uuid.uuid4().hex[:8]}"
    request = ExportMetricsServiceRequest()
    resource_metrics = request.resource_metrics.add()
    resource_metrics.resource.attributes.append(kv("service.name", "json-client"))
    metric = resource_metrics.scope_metrics.add().metrics.add()
    metric.CopyFrom(
        Metric(
            name=name,
            unit="s",
            histogram=Histogram(
                aggregation_temporality=AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA,
                data_points=[
                    HistogramDataPoint(
                        time_unix_nano=time.time_ns(),
                        count=3,
                        sum=0.7,
                        explicit_bounds=[0.2, 0.5],
                        bucket_counts=[1, 1, 1],
                    )
                ],
            ),
        )
    )
    status, _, answer = receiver.post("/v1/metrics", to_otlp_json(request), {"Content-Type": "application/json"})
    assert status == 200 and json.loads(answer) == {}
    (point,) = query.metric_points(receiver.store, name)
    assert (point.count, point.sum, point.bucket_bounds, point.bucket_counts) == (3, 0.7, [0.2, 0.5], [1, 1, 1])
    assert point.temporality == 1


# --- partial success --------------------------------------------------------------------------------------------


def test_partial_success_protobuf(receiver: Receiver) -> None:
    trace_id, good_id, _ = ids()
    request = span_request(
        "partial",
        [
            new_span("good", trace_id, good_id),
            new_span("short trace id", trace_id[:3], uuid.uuid4().bytes[:8]),
            new_span("long span id", trace_id, uuid.uuid4().bytes[:9]),
        ],
    )
    status, headers, answer = receiver.post(
        "/v1/traces", request.SerializeToString(), {"Content-Type": "application/x-protobuf"}
    )
    assert status == 200 and headers["content-type"] == "application/x-protobuf"
    response = ExportTraceServiceResponse.FromString(answer)
    assert response.HasField("partial_success")
    assert response.partial_success.rejected_spans == 2
    assert "trace_id must be 16" in response.partial_success.error_message
    assert "span_id must be 8" in response.partial_success.error_message
    found = query.trace(receiver.store, trace_id.hex())
    assert found is not None and [node.span.name for node in found.walk()] == ["good"]


def test_partial_success_json_metrics(receiver: Receiver) -> None:
    name = f"pp.test.{uuid.uuid4().hex[:8]}"
    request = ExportMetricsServiceRequest()
    scope = request.resource_metrics.add().scope_metrics.add()
    points = [
        HistogramDataPoint(time_unix_nano=time.time_ns(), count=2, explicit_bounds=[1.0], bucket_counts=[1, 1]),
        HistogramDataPoint(time_unix_nano=time.time_ns(), count=2, explicit_bounds=[1.0], bucket_counts=[2]),
    ]
    scope.metrics.append(
        Metric(
            name=name,
            histogram=Histogram(
                data_points=points, aggregation_temporality=AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
            ),
        )
    )
    status, _, answer = receiver.post("/v1/metrics", to_otlp_json(request), {"Content-Type": "application/json"})
    assert status == 200
    response = json_format.Parse(answer, ExportMetricsServiceResponse())
    assert response.partial_success.rejected_data_points == 1
    assert "bucket counts" in response.partial_success.error_message
    assert json.loads(answer)["partialSuccess"]["rejectedDataPoints"] == "1"  # int64 as a string, OTLP/JSON
    assert len(query.metric_points(receiver.store, name)) == 1


# --- bad requests -----------------------------------------------------------------------------------------------

PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}
TRUNCATED_GZIP = gzip.compress(ExportTraceServiceRequest().SerializeToString() + b"x" * 2000)[:-30]
BAD_REQUESTS: list[tuple[str, bytes, dict[str, str], int]] = [
    ("garbage protobuf", b"\xff\xff\xff\xff\x0fnot protobuf", PROTOBUF, 400),
    ("truncated protobuf", span_request("cut", [new_span("x", *ids()[:2])]).SerializeToString()[:-7], PROTOBUF, 400),
    ("bad JSON", b'{"resourceSpans": [', JSON, 400),
    ("JSON of the wrong shape", b'{"resourceSpans": {"spans": 3}}', JSON, 400),
    ("a non-hex id", b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz","spanId":"00"}]}]}]}', JSON, 400),
    ("truncated gzip", TRUNCATED_GZIP, {**PROTOBUF, "Content-Encoding": "gzip"}, 400),
    ("gzip that is not", b"plain bytes", {**PROTOBUF, "Content-Encoding": "gzip"}, 400),
    ("wrong content type", b"hello", {"Content-Type": "text/plain"}, 415),
    ("no content type", b"hello", {}, 415),
    ("unknown encoding", b"hello", {**PROTOBUF, "Content-Encoding": "zstd"}, 415),
]


@pytest.mark.parametrize(
    ("body", "headers", "expected"), [case[1:] for case in BAD_REQUESTS], ids=[c[0] for c in BAD_REQUESTS]
)
def test_bad_requests_store_nothing(receiver: Receiver, body: bytes, headers: dict[str, str], expected: int) -> None:
    before, lines = receiver.count(), len(receiver.lines("traces.jsonl"))
    status, response_headers, answer = receiver.post("/v1/traces", body, headers)
    assert status == expected
    if expected == 400:
        assert response_headers["content-type"] == headers["Content-Type"]
        if headers["Content-Type"] == "application/json":
            message = json_format.Parse(answer, status_pb2.Status())
        else:
            message = status_pb2.Status.FromString(answer)
        assert message.code == 3 and message.message  # INVALID_ARGUMENT, with the reason
    assert receiver.count() == before
    assert len(receiver.lines("traces.jsonl")) == lines


def test_too_large_and_gzip_bomb_get_413(receiver: Receiver) -> None:
    before = receiver.count()
    status, _, _ = receiver.post("/v1/traces", b"\x00" * (LIMIT + 1), PROTOBUF)
    assert status == 413
    bomb = gzip.compress(b"\x00" * (8 * LIMIT))  # ~8 KiB that would inflate to 8 MiB
    assert len(bomb) < LIMIT
    status, _, answer = receiver.post("/v1/traces", bomb, {**PROTOBUF, "Content-Encoding": "gzip"})
    assert status == 413
    assert status_pb2.Status.FromString(answer).code == 8  # RESOURCE_EXHAUSTED
    assert receiver.count() == before


def test_a_flood_of_malformed_requests_does_not_stop_it(receiver: Receiver) -> None:
    before = receiver.count()
    conn = http.client.HTTPConnection("127.0.0.1", receiver.process.port, timeout=30)
    try:
        for index in range(1000):
            _, body, headers, expected = BAD_REQUESTS[index % len(BAD_REQUESTS)]
            conn.request("POST", "/v1/traces", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            assert response.status == expected
    finally:
        conn.close()
    assert receiver.count() == before

    trace_id, span_id, _ = ids()
    request = span_request("after-the-flood", [new_span("still here", trace_id, span_id)])
    status, _, _ = receiver.post("/v1/traces", request.SerializeToString(), PROTOBUF)
    assert status == 200
    found = query.trace(receiver.store, trace_id.hex())
    assert found is not None and found.root.span.name == "still here"


def test_routes_methods_and_logs(receiver: Receiver) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", receiver.process.port, timeout=30)
    try:
        conn.request("GET", "/v1/traces")
        response = conn.getresponse()
        response.read()
        assert (response.status, response.getheader("allow")) == (405, "POST")
        conn.request("POST", "/v1/profiles", body=b"", headers=PROTOBUF)
        response = conn.getresponse()
        response.read()
        assert response.status == 404
        conn.request("GET", "/health")
        response = conn.getresponse()
        health = msgspec.json.decode(response.read())
        assert response.status == 200 and health["status"] == "ok"
    finally:
        conn.close()
    # Logs are accepted (so exporters do not complain) and dropped; a bad body still gets its 400.
    logs = ExportLogsServiceRequest()
    logs.resource_logs.add().scope_logs.add().log_records.add().body.string_value = "hello"
    status, _, answer = receiver.post("/v1/logs", logs.SerializeToString(), PROTOBUF)
    assert status == 200 and ExportLogsServiceResponse.FromString(answer) == ExportLogsServiceResponse()
    assert receiver.post("/v1/logs", b"\xff\xff", PROTOBUF)[0] == 400


# --- JSON lines and shutdown ------------------------------------------------------------------------------------


def test_jsonl_lines_parse_back_into_the_requests(receiver: Receiver) -> None:
    before = len(receiver.lines("traces.jsonl"))
    trace_id, root_id, child_id = ids()
    request = span_request(
        "jsonl",
        [new_span("root", trace_id, root_id, pp_run_id="jsonl"), new_span("child", trace_id, child_id, root_id)],
    )
    request.resource_spans[0].scope_spans[0].spans[1].status.code = SpanStatus.STATUS_CODE_ERROR
    with_bad = ExportTraceServiceRequest()
    with_bad.CopyFrom(request)
    with_bad.resource_spans[0].scope_spans[0].spans.append(new_span("bad", b"\x01", b"\x02"))
    status, _, _ = receiver.post("/v1/traces", with_bad.SerializeToString(), PROTOBUF)
    assert status == 200

    lines = receiver.lines("traces.jsonl")
    assert len(lines) == before + 1
    line = lines[-1]
    document = msgspec.json.decode(line)
    span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert (span["traceId"], span["spanId"]) == (trace_id.hex(), root_id.hex())  # hex, not base64
    assert span["kind"] == 2 and isinstance(span["startTimeUnixNano"], str)  # enum int, int64 as string
    parsed = otlp_json.parse(line, ExportTraceServiceRequest())
    assert parsed == request  # the rejected span is left out, everything else is intact

    metrics = ExportMetricsServiceRequest()
    metric = metrics.resource_metrics.add().scope_metrics.add().metrics.add(name=f"pp.jsonl.{uuid.uuid4().hex[:8]}")
    metric.histogram.data_points.add(
        time_unix_nano=time.time_ns(), count=1, explicit_bounds=[0.5], bucket_counts=[0, 1]
    )
    assert receiver.post("/v1/metrics", metrics.SerializeToString(), PROTOBUF)[0] == 200
    assert otlp_json.parse(receiver.lines("metrics.jsonl")[-1], ExportMetricsServiceRequest()) == metrics


def test_sigterm_commits_and_folds_the_wal(tmp_path: Path) -> None:
    receiver = start_receiver(tmp_path)
    try:
        provider = tracer_provider(receiver, "shutdown")
        tracer = provider.get_tracer("test")
        for _ in range(50):
            with tracer.start_as_current_span("work", attributes={contract.RUN_ID: "shutdown"}):
                pass
        assert provider.force_flush(10_000)
        provider.shutdown()
    finally:
        assert receiver.process.proc is not None
        receiver.process.proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal: dying "by SIGTERM" is the clean exit here.
        assert receiver.process.proc.wait(30) in (0, -signal.SIGTERM), receiver.process.log()
    assert "Application shutdown complete" in receiver.process.log()
    wal = receiver.store.with_name(receiver.store.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    assert len(query.spans_of_run(receiver.store, "shutdown")) == 50
