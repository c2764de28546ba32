"""Spans and metrics leave the process for real: exporter process → OTLP/HTTP → a sink decoding the official protos.

The sink is a tiny threaded HTTP server in the test process. It can refuse requests (503, 429, 400) to exercise the
exporter's retries and drops; a closed port stands for a collector that is down.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from typing import TYPE_CHECKING, Any

import psutil
import pytest
import redis.asyncio
from opentelemetry import trace
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanProto
from opentelemetry.proto.trace.v1.trace_pb2 import Status as StatusProto
from opentelemetry.trace import SpanKind, StatusCode

from otel import Telemetry, TelemetrySettings, contract, extract_context, setup_telemetry
from otel.tracing.attributes import SpanLimits
from otel.tracing.sampler import sampler_config
from otel.tracing.shipper import Shipper
from otel.tracing.tracer import FastTracerProvider
from otel.tracing.wire import ExporterConfig
from tests.support.ports import free_port
from tests.support.stand_in import Answer, StandInServer

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
PARENT_ID = 0x00F067AA0BA902B7
TRACEPARENT = f"00-{TRACE_ID:032x}-{PARENT_ID:016x}-01".encode()


class OtlpSink(StandInServer):
    """Decodes every OTLP/HTTP request it gets; ``refuse`` makes the next requests fail with a status."""

    def __init__(self) -> None:
        self.spans: list[tuple[dict[str, Any], str, SpanProto]] = []
        self.metrics: list[ExportMetricsServiceRequest] = []
        self.trace_requests = 0
        self.refusals: list[tuple[int, dict[str, str]]] = []
        self.lock = threading.Lock()
        super().__init__()

    def answer(self, method: str, path: str, body: bytes) -> Answer:
        status, headers = self.receive(path, body)
        return Answer(status, headers=headers)

    def receive(self, path: str, body: bytes) -> tuple[int, dict[str, str]]:
        with self.lock:
            if path == "/v1/metrics":
                self.metrics.append(ExportMetricsServiceRequest.FromString(body))
                return 200, {}
            self.trace_requests += 1
            if self.refusals:
                return self.refusals.pop(0)
            request = ExportTraceServiceRequest.FromString(body)
            for resource_spans in request.resource_spans:
                resource = {kv.key: kv.value.string_value for kv in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    self.spans.extend((resource, scope_spans.scope.name, span) for span in scope_spans.spans)
            return 200, {}

    def refuse(self, status: int, count: int, headers: dict[str, str] | None = None) -> None:
        with self.lock:
            self.refusals.extend([(status, headers or {})] * count)

    def span_ids(self) -> set[bytes]:
        with self.lock:
            return {span.span_id for _, _, span in self.spans}

    def by_name(self) -> dict[str, SpanProto]:
        with self.lock:
            return {span.name: span for _, _, span in self.spans}


@pytest.fixture
def sink() -> Iterator[OtlpSink]:
    sink = OtlpSink().start()
    yield sink
    sink.close()


def settings_for(endpoint: str, **overrides: Any) -> TelemetrySettings:
    values: dict[str, Any] = {
        "otlp_endpoint": endpoint,
        "metrics_exporter": "none",
        "span_flush_interval_ms": 50,
        "shutdown_timeout_s": 10.0,
    }
    return TelemetrySettings(**(values | overrides))


@pytest.fixture
def start() -> Iterator[Callable[..., Telemetry]]:
    """Build Telemetry objects (never global) and shut each down, even when the test fails."""
    started: list[Telemetry] = []

    def start(settings: TelemetrySettings, name: str = "pp-gateway") -> Telemetry:
        telemetry = setup_telemetry(name, service_version="0.1.0", settings=settings, set_global=False)
        started.append(telemetry)
        return telemetry

    yield start
    for telemetry in started:
        telemetry.shutdown()


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def is_gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_spans_arrive_with_ids_parents_kinds_attributes_status_and_resource(
    sink: OtlpSink, start: Callable[..., Telemetry]
) -> None:
    telemetry = start(settings_for(sink.url))
    tracer = telemetry.tracer_provider.get_tracer(contract.INSTRUMENTATION_SCOPE, "0.1.0")
    ctx = extract_context([(b"traceparent", TRACEPARENT), (b"baggage", b"pp.run_id=r1")])
    server = tracer.start_span("POST /mcp", ctx, SpanKind.SERVER, {contract.HTTP_REQUEST_METHOD: "POST"})
    with trace.use_span(server, end_on_exit=True):
        with tracer.start_as_current_span("tools/call search_runbooks") as tool:
            tool.set_attribute(contract.GEN_AI_TOOL_NAME, "search_runbooks")
            with tracer.start_as_current_span("POST /v1/search", kind=SpanKind.CLIENT) as client:
                client.set_status(StatusCode.ERROR, "upstream 503")
        with pytest.raises(RuntimeError), tracer.start_as_current_span("cache.get"):
            raise RuntimeError("redis down")
        server.set_attribute(contract.HTTP_RESPONSE_STATUS_CODE, 200)
    telemetry.shutdown()

    spans = sink.by_name()
    assert set(spans) == {"POST /mcp", "tools/call search_runbooks", "POST /v1/search", "cache.get"}
    server_pb, tool_pb = spans["POST /mcp"], spans["tools/call search_runbooks"]
    client_pb, cache_pb = spans["POST /v1/search"], spans["cache.get"]
    assert {span.trace_id for span in spans.values()} == {TRACE_ID.to_bytes(16, "big")}
    assert server_pb.parent_span_id == PARENT_ID.to_bytes(8, "big")
    assert server_pb.span_id == server.get_span_context().span_id.to_bytes(8, "big")
    assert tool_pb.parent_span_id == cache_pb.parent_span_id == server_pb.span_id
    assert client_pb.parent_span_id == tool_pb.span_id
    assert [server_pb.kind, tool_pb.kind, client_pb.kind] == [
        SpanProto.SPAN_KIND_SERVER,
        SpanProto.SPAN_KIND_INTERNAL,
        SpanProto.SPAN_KIND_CLIENT,
    ]
    assert {kv.key: kv.value.int_value for kv in server_pb.attributes}[contract.HTTP_RESPONSE_STATUS_CODE] == 200
    assert tool_pb.attributes[0].value.string_value == "search_runbooks"
    assert (client_pb.status.code, client_pb.status.message) == (StatusProto.STATUS_CODE_ERROR, "upstream 503")
    assert cache_pb.status.code == StatusProto.STATUS_CODE_ERROR
    assert cache_pb.events[0].name == "exception"
    resource, scope, _ = sink.spans[0]
    assert resource["service.name"] == "pp-gateway"
    assert resource["service.version"] == "0.1.0"
    assert resource["service.instance.id"] == telemetry.resource["service.instance.id"]
    assert scope == contract.INSTRUMENTATION_SCOPE
    assert telemetry.spans_dropped == 0


def test_a_clean_shutdown_loses_no_span(sink: OtlpSink, start: Callable[..., Telemetry]) -> None:
    telemetry = start(settings_for(sink.url, span_flush_interval_ms=200))
    tracer = telemetry.tracer_provider.get_tracer("load")

    def produce(count: int) -> None:
        for i in range(count):
            with tracer.start_as_current_span("parent", attributes={"i": i}):
                tracer.start_span("child").end()

    threads = [threading.Thread(target=produce, args=(5_000,)) for _ in range(3)]
    for thread in threads:
        thread.start()
    produce(5_000)
    for thread in threads:
        thread.join()
    telemetry.shutdown()

    assert len(sink.span_ids()) == 40_000
    assert len(sink.spans) == 40_000, "no duplicates"
    assert telemetry.spans_dropped == 0
    assert telemetry.shipper is not None and telemetry.shipper.exported == 40_000


def test_collector_down_span_creation_never_waits_and_every_span_is_accounted_for(
    start: Callable[..., Telemetry],
) -> None:
    telemetry = start(settings_for(f"http://127.0.0.1:{free_port()}", span_buffer=2_000, shutdown_timeout_s=2.0))
    tracer = telemetry.tracer_provider.get_tracer("load")
    for i in range(20_000):
        with tracer.start_as_current_span("unexportable", attributes={"i": i}):
            pass
    assert telemetry.shipper is not None
    assert len(telemetry.shipper.buffer) <= 2_000
    telemetry.shutdown()
    assert telemetry.shipper.exported == 0
    assert telemetry.spans_dropped == 20_000


def test_a_stalled_exporter_fills_the_bounded_buffer_then_drops_and_counts(
    sink: OtlpSink, start: Callable[..., Telemetry]
) -> None:
    telemetry = start(settings_for(sink.url, span_buffer=1_000))
    shipper = telemetry.shipper
    assert shipper is not None
    tracer = telemetry.tracer_provider.get_tracer("load")
    tracer.start_span("warm-up").end()
    wait_until(lambda: shipper.exported == 1)
    pid = shipper.exporter_pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        padding = "x" * 400
        for i in range(40_000):  # ~17 MB of records: more than the pipe and the buffer hold
            tracer.start_span("while stalled", attributes={"i": i, "padding": padding}).end()
        time.sleep(0.3)  # let the shipper find the pipe full
        assert len(shipper.buffer) <= 1_000
        assert telemetry.spans_dropped > 0
    finally:
        os.kill(pid, signal.SIGCONT)
    telemetry.shutdown()
    received = len(sink.span_ids())
    assert received == len(sink.spans)
    assert received + telemetry.spans_dropped == 40_001


@pytest.mark.parametrize(
    ("status", "headers"),
    [pytest.param(503, {}, id="503 with backoff"), pytest.param(429, {"Retry-After": "0"}, id="429 Retry-After")],
)
def test_retryable_refusals_are_retried_until_delivered(
    sink: OtlpSink, start: Callable[..., Telemetry], status: int, headers: dict[str, str]
) -> None:
    sink.refuse(status, 2, headers)
    telemetry = start(settings_for(sink.url))
    tracer = telemetry.tracer_provider.get_tracer("t")
    for _ in range(100):
        tracer.start_span("retried").end()
    telemetry.shutdown()
    assert len(sink.span_ids()) == 100
    assert sink.trace_requests >= 3
    assert telemetry.spans_dropped == 0


def test_a_permanent_refusal_drops_and_counts_without_retrying(sink: OtlpSink, start: Callable[..., Telemetry]) -> None:
    sink.refuse(400, 1_000)
    telemetry = start(settings_for(sink.url))
    tracer = telemetry.tracer_provider.get_tracer("t")
    for _ in range(10):
        tracer.start_span("refused").end()
    telemetry.shutdown()
    assert sink.spans == []
    assert telemetry.spans_dropped == 10
    assert sink.trace_requests <= 10, "one request per batch, no retries"


def test_a_crashed_exporter_is_restarted(sink: OtlpSink) -> None:
    shipper = Shipper(
        ExporterConfig(endpoint=sink.url + "/v1/traces", resource={"service.name": "restarts"}),
        capacity=10_000,
        batch=100,
        interval_s=0.05,
        restart_interval_s=0.2,
    )
    provider = FastTracerProvider(sampler_config("always_on"), SpanLimits(), shipper)
    shipper.start()
    try:
        tracer = provider.get_tracer("t")
        tracer.start_span("before").end()
        wait_until(lambda: shipper.exported == 1)
        first_pid = shipper.exporter_pid
        assert first_pid is not None
        os.kill(first_pid, signal.SIGKILL)
        wait_until(lambda: shipper.exporter_pid not in {None, first_pid})
        tracer.start_span("after").end()
    finally:
        shipper.shutdown(10.0)
    assert {"before", "after"} <= set(sink.by_name())
    assert shipper.exported == 2
    assert is_gone(first_pid)


def test_spans_lost_with_a_killed_exporter_are_counted(sink: OtlpSink) -> None:
    shipper = Shipper(
        ExporterConfig(endpoint=sink.url + "/v1/traces"),
        capacity=100_000,
        batch=500,
        interval_s=0.05,
        restart_interval_s=0.2,
    )
    tracer = FastTracerProvider(sampler_config("always_on"), SpanLimits(), shipper).get_tracer("t")
    shipper.start()
    try:
        wait_until(lambda: shipper.exporter_pid is not None)
        pid = shipper.exporter_pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)  # it holds what it read; the pipe holds the rest
        for i in range(20_000):
            tracer.start_span("doomed or delivered", attributes={"i": i}).end()
        time.sleep(0.3)
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: shipper.exporter_pid not in {None, pid})
    finally:
        shipper.shutdown(10.0)
    assert shipper.dropped > 0
    assert shipper.exported == len(sink.span_ids())
    assert shipper.exported + shipper.dropped == 20_000


def test_the_exporter_exits_when_its_parent_is_killed(sink: OtlpSink) -> None:
    script = textwrap.dedent(
        f"""
        import sys, time
        from otel import TelemetrySettings, setup_telemetry
        settings = TelemetrySettings(otlp_endpoint={sink.url!r}, metrics_exporter="none", span_flush_interval_ms=50)
        telemetry = setup_telemetry("doomed", settings=settings)
        telemetry.tracer_provider.get_tracer("t").start_span("before death").end()
        print(telemetry.shipper.exporter_pid, flush=True)
        time.sleep(60)
        """
    )
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) as child:
        try:
            assert child.stdout is not None
            exporter_pid = int(child.stdout.readline())
            wait_until(lambda: "before death" in sink.by_name())
            assert not is_gone(exporter_pid)
        finally:
            child.kill()
    wait_until(lambda: is_gone(exporter_pid))


def test_global_setup_from_the_environment_and_flush_at_exit(sink: OtlpSink) -> None:
    """A process that never calls shutdown() still delivers its spans: setup registers an atexit flush."""
    script = textwrap.dedent(
        """
        from opentelemetry import propagate, trace
        from otel import setup_telemetry
        setup_telemetry("pp-gateway", service_version="0.1.0")
        tracer = trace.get_tracer("personal-pipeline")
        with tracer.start_as_current_span("hello"):
            carrier = {}
            propagate.inject(carrier)
        print(type(trace.get_tracer_provider()).__name__, carrier["traceparent"])
        """
    )
    env = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": sink.url,
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    provider, traceparent = result.stdout.split()
    assert provider == "FastTracerProvider"
    hello = sink.by_name()["hello"]
    assert traceparent == f"00-{hello.trace_id.hex()}-{hello.span_id.hex()}-01"
    resource, _, _ = sink.spans[0]
    assert (resource["service.name"], resource["deployment.environment"]) == ("pp-gateway", "test")


def test_sdk_mode_exports_through_the_batch_span_processor(sink: OtlpSink, start: Callable[..., Telemetry]) -> None:
    telemetry = start(settings_for(sink.url, tracer_provider="sdk", bsp_schedule_delay_ms=100), name="pp-retrieval")
    assert telemetry.shipper is None
    tracer = telemetry.tracer_provider.get_tracer("sdk")
    ctx = extract_context([(b"traceparent", TRACEPARENT)])
    with tracer.start_as_current_span("server", context=ctx, kind=SpanKind.SERVER):
        for _ in range(99):
            tracer.start_span("child").end()
    telemetry.shutdown()
    assert len(sink.span_ids()) == 100
    server = sink.by_name()["server"]
    assert server.parent_span_id == PARENT_ID.to_bytes(8, "big")
    assert server.kind == SpanProto.SPAN_KIND_SERVER
    assert sink.spans[0][0]["service.name"] == "pp-retrieval"


def test_metrics_are_pushed_over_otlp_with_the_contract_buckets(
    sink: OtlpSink, start: Callable[..., Telemetry]
) -> None:
    telemetry = start(settings_for(sink.url, metrics_exporter="otlp", traces_exporter="none"))
    histogram = telemetry.meter_provider.get_meter("t").create_histogram(contract.MCP_SERVER_DURATION, unit="s")
    histogram.record(0.3, {contract.GEN_AI_TOOL_NAME: "search_runbooks"})
    telemetry.shutdown()  # the final collection is exported on shutdown
    metrics = {
        metric.name: metric
        for request in sink.metrics
        for resource_metrics in request.resource_metrics
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
    }
    (point,) = metrics[contract.MCP_SERVER_DURATION].histogram.data_points
    assert tuple(point.explicit_bounds) == contract.DURATION_BUCKETS_S
    assert point.count == 1
    assert metrics[contract.MCP_SERVER_DURATION].histogram.aggregation_temporality == 2, "cumulative"
    assert {contract.PROCESS_MEMORY, contract.PROCESS_CPU_UTILIZATION, contract.SPANS_DROPPED} <= set(metrics)


@pytest.mark.redis
async def test_library_instrumentation_records_through_the_fast_provider(
    sink: OtlpSink, start: Callable[..., Telemetry], redis_url: str, redis_prefix: str
) -> None:
    """The redis instrumentation only speaks the API, so its CLIENT spans join our traces and reach the collector."""
    telemetry = start(settings_for(sink.url), name="pp-retrieval")
    tracer = telemetry.tracer_provider.get_tracer(contract.INSTRUMENTATION_SCOPE)
    instrumentor = RedisInstrumentor()
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider)
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        with tracer.start_as_current_span(contract.CACHE_SPAN):
            await client.set(f"{redis_prefix}k", "v")
            assert await client.get(f"{redis_prefix}k") == b"v"
    finally:
        await client.aclose()
        instrumentor.uninstrument()
    telemetry.shutdown()
    spans = sink.by_name()
    cache, get = spans[contract.CACHE_SPAN], spans["GET"]
    assert get.kind == SpanProto.SPAN_KIND_CLIENT
    assert (get.trace_id, get.parent_span_id) == (cache.trace_id, cache.span_id)
    assert {kv.key: kv.value.string_value for kv in get.attributes}["db.statement"] == "GET ?"


def test_no_collector_at_shutdown_skips_the_final_metric_export(
    start: Callable[..., Telemetry], caplog: pytest.LogCaptureFixture
) -> None:
    """Without the check, the SDK would retry the final export for its whole timeout on every stop."""
    telemetry = start(settings_for(f"http://127.0.0.1:{free_port()}", metrics_exporter="otlp"))
    telemetry.meter_provider.get_meter("t").create_counter("c").add(1)
    with caplog.at_level("WARNING", logger="otel.metrics"):
        telemetry.shutdown()
    assert "no metrics collector" in caplog.text
