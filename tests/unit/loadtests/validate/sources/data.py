"""One small, fully known set of OTLP requests, written both to a store and to JSON-lines files.

The sources must answer the same from either, and the answers below are worked out by hand in the comments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AGGREGATION_TEMPORALITY_CUMULATIVE,
    AGGREGATION_TEMPORALITY_DELTA,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    NumberDataPoint,
    Sum,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from otel.receiver.otlp_json import metrics_to_json, traces_to_json
from otel.receiver.store import SpanStore
from tests.unit.otel.receiver import make

if TYPE_CHECKING:
    from pathlib import Path

    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import KeyValue

T0 = make.T0
S = 1_000_000_000
SERVER, CLIENT = Span.SPAN_KIND_SERVER, Span.SPAN_KIND_CLIENT
TA, TB, TC, TD = (make.trace_id(n) for n in (0xA1, 0xB2, 0xC3, 0xD4))
BOUNDS = [0.1, 0.5, 1.0]


def hexid(raw: bytes) -> str:
    return raw.hex()


def trace_requests() -> list[ExportTraceServiceRequest]:
    """Run r1: traces A (root carries the id) and D (the id is on the resource); r2: trace B; C: no run.

    Trace A is split over three requests (two services); a retrieval span of A carries another run's id (it is not
    r1's); the gateway's request for B is sent twice (a retried export).
    """
    gateway_a = make.traces(
        make.span("POST /mcp", TA, make.span_id(1), start=T0 + 10 * S, duration=9_000, kind=SERVER, pp__run__id="r1"),
        make.span("tools/call search", TA, make.span_id(2), make.span_id(1), start=T0 + 10 * S + 100, duration=8_000),
        service="pp-gateway",
    )
    gateway_client = make.traces(
        make.span("POST", TA, make.span_id(3), make.span_id(2), start=T0 + 10 * S + 200, duration=7_000, kind=CLIENT),
        make.span("POST /mcp", TC, make.span_id(4), start=T0 + 12 * S, duration=1_000, kind=SERVER),
        service="pp-gateway",
    )
    retrieval = make.traces(
        make.span("POST /v1/search", TA, make.span_id(5), make.span_id(3), start=T0 + 10 * S + 300, kind=SERVER),
        make.span("stray", TA, make.span_id(6), make.span_id(5), start=T0 + 10 * S + 400, pp__run__id="r9"),
        make.span("cache.get", TA, make.span_id(7), make.span_id(5), start=T0 + 10 * S + 500, cache__hit=True),
        service="pp-retrieval",
    )
    run_b = make.traces(
        make.span("POST /mcp", TB, make.span_id(8), start=T0 + 20 * S, duration=2_000, kind=SERVER, pp__run__id="r2"),
        service="pp-gateway",
    )
    run_d = make.traces(
        make.span("batch job", TD, make.span_id(9), start=T0 + 30 * S, duration=500),
        service="pp-batch",
        resource={"pp.run.id": "r1"},
    )
    return [gateway_a, retrieval, gateway_client, run_b, run_b, run_d]


def _attrs(attributes: dict[str, str]) -> list[KeyValue]:
    return make.attrs({key.replace("__", "."): value for key, value in attributes.items()})


def _histogram_point(at_s: int, start_s: int, counts: list[int], total: float, **attributes: str) -> HistogramDataPoint:
    return HistogramDataPoint(
        attributes=_attrs(attributes),
        start_time_unix_nano=T0 + start_s * S,
        time_unix_nano=T0 + at_s * S,
        count=sum(counts),
        sum=total,
        explicit_bounds=BOUNDS,
        bucket_counts=counts,
    )


def _number(at_s: int, start_s: int | None, value: float, **attributes: str) -> NumberDataPoint:
    point = NumberDataPoint(attributes=_attrs(attributes), time_unix_nano=T0 + at_s * S, as_double=value)
    if start_s is not None:
        point.start_time_unix_nano = T0 + start_s * S
    return point


def metric_requests() -> list[ExportMetricsServiceRequest]:
    """Window (T0+15 s, T0+50 s] answers, per series of ``mcp.server.operation.duration`` (bounds 0.1, 0.5, 1):

    - gateway, tool a (start T0): 10 s [1,0,0,0] (the baseline), 20 s [3,1,0,0], 30 s [4,2,1,0], then a restart:
      40 s [1,0,0,0] (start 35 s), 50 s [2,0,0,1], 60 s [9,9,9,9] (after the window) → [5,2,1,1], sum 1.0+1.5+0.5+5.
    - gateway, tool b, born in the window (start 25 s): 30 s [0,1,0,0], 50 s [0,2,0,0] → [0,2,0,0].
    - retrieval, tool a (start T0): 10 s [2,0,0,0], 50 s [2,0,0,0] → nothing new: [0,0,0,0].

    ``pp.cache.requests`` (monotonic sum), window (15 s, 30 s]: hit 10 s 5, 20 s 8, 30 s 12 → 7; miss started at
    12 s with no point before the window: 20 s 2 (the baseline), 30 s 3 → 1. ``process.memory.usage`` (gauge):
    10 s 100, 20 s 110, 30 s 120 → in (15 s, 30 s]: (20 s, 110), (30 s, 120). ``pp.delta`` (delta sum): 10 s 1,
    20 s 2, 30 s 4 → 6 in (15 s, 30 s].
    """

    def duration(*points: HistogramDataPoint) -> Metric:
        return Metric(
            name="mcp.server.operation.duration",
            unit="s",
            histogram=Histogram(data_points=points, aggregation_temporality=AGGREGATION_TEMPORALITY_CUMULATIVE),
        )

    def cache(*points: NumberDataPoint) -> Metric:
        return Metric(
            name="pp.cache.requests",
            sum=Sum(data_points=points, aggregation_temporality=AGGREGATION_TEMPORALITY_CUMULATIVE, is_monotonic=True),
        )

    tool_a = [
        (10, 0, [1, 0, 0, 0], 0.05),
        (20, 0, [3, 1, 0, 0], 1.05),
        (30, 0, [4, 2, 1, 0], 2.55),
        (40, 35, [1, 0, 0, 0], 0.05),
        (50, 35, [2, 0, 0, 1], 5.1),
        (60, 35, [9, 9, 9, 9], 99.0),
    ]
    gateway = [
        make.metrics(
            duration(*(_histogram_point(at, start, c, sum_, gen_ai__tool__name="a") for at, start, c, sum_ in tool_a)),
            service="pp-gateway",
            resource={"service.instance.id": "gw-1"},
        ),
        make.metrics(
            duration(
                _histogram_point(30, 25, [0, 1, 0, 0], 0.3, gen_ai__tool__name="b"),
                _histogram_point(50, 25, [0, 2, 0, 0], 0.6, gen_ai__tool__name="b"),
            ),
            Metric(
                name="process.memory.usage",
                gauge=Gauge(data_points=[_number(10, None, 100), _number(20, None, 110), _number(30, None, 120)]),
            ),
            service="pp-gateway",
            resource={"service.instance.id": "gw-1"},
        ),
    ]
    retrieval = make.metrics(
        duration(
            _histogram_point(10, 0, [2, 0, 0, 0], 0.1, gen_ai__tool__name="a"),
            _histogram_point(50, 0, [2, 0, 0, 0], 0.1, gen_ai__tool__name="a"),
        ),
        cache(
            _number(10, 0, 5, pp__cache__result="hit"),
            _number(20, 0, 8, pp__cache__result="hit"),
            _number(30, 0, 12, pp__cache__result="hit"),
            _number(20, 12, 2, pp__cache__result="miss"),
            _number(30, 12, 3, pp__cache__result="miss"),
        ),
        Metric(
            name="pp.delta",
            sum=Sum(
                data_points=[_number(10, 0, 1), _number(20, 10, 2), _number(30, 20, 4)],
                aggregation_temporality=AGGREGATION_TEMPORALITY_DELTA,
                is_monotonic=True,
            ),
        ),
        service="pp-retrieval",
        resource={"service.instance.id": "rt-1"},
    )
    return [*gateway, retrieval, retrieval]  # the retrieval request twice: a retried export


def write_store(path: Path) -> Path:
    store = SpanStore(path)
    try:
        for request in trace_requests():
            store.write([make.span_batch(request)])
        for metrics_request in metric_requests():
            store.write([make.metric_batch(metrics_request)])
    finally:
        store.close()
    return path


def write_jsonl(directory: Path, *, split: bool = True) -> Path:
    """The same requests as JSON lines; with ``split``, traces go to two files (a trace spans both)."""
    directory.mkdir(parents=True, exist_ok=True)
    requests = trace_requests()
    first = directory / "traces.jsonl"
    second = directory / ("traces-2.jsonl" if split else "traces.jsonl")
    with first.open("ab") as out:
        for request in requests[:2]:
            out.write(traces_to_json(request) + b"\n")
    with second.open("ab") as out:
        for request in requests[2:]:
            out.write(traces_to_json(request) + b"\n")
    with (directory / "metrics.jsonl").open("ab") as out:
        for metrics_request in metric_requests():
            out.write(metrics_to_json(metrics_request) + b"\n\n")  # a blank line is skipped
    return directory
