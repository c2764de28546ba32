"""``python -m otel.tracing.bench``: µs per span and per request-path equivalent, fast provider vs SDK.

Isolated loops in one process, CPU time (``time.process_time``), median and best of several repeats, GC on (it is
part of what spans cost). Inside a real server the same work costs 3-4x more (cold caches, the ASGI layers;
reference/otel-cost.md §2), so read these as relative costs. The "request" case is what one traced request does:
parse ``traceparent``/``baggage`` from raw ASGI headers, start the SERVER span under it and make it current, set
five attributes, run two INTERNAL child spans through ``start_as_current_span``, end everything.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections import deque
from typing import TYPE_CHECKING

from opentelemetry import context as context_api
from opentelemetry import propagate
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.instrumentation.asgi import asgi_getter
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, Tracer, set_span_in_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from otel.propagation import extract_context, header_lines
from otel.tracing.attributes import SpanLimits
from otel.tracing.sampler import sampler_config
from otel.tracing.tracer import FastTracerProvider, SpanPipeline

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import ReadableSpan

    from otel.tracing.wire import ScopeRecord, SpanRecord

__all__ = ("main",)

HEADERS: list[tuple[bytes, bytes]] = [
    (b"host", b"127.0.0.1:8080"),
    (b"user-agent", b"pp-load/0.1"),
    (b"content-type", b"application/json"),
    (b"content-length", b"57"),
    (b"traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    (b"baggage", b"pp.run_id=run-20261127-0001,pp.scenario=storm,pp.vu=17"),
]
_STOCK = CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])


class _Recent:
    """A pipeline that keeps only the last spans, as the shipper does by draining.

    A sink that grows would make the garbage collector's passes, not the spans, dominate the figures.
    """

    def __init__(self) -> None:
        self.records: deque[SpanRecord] = deque(maxlen=1024)
        self.append = self.records.append

    def register_scope(self, scope: ScopeRecord) -> None:
        pass

    def force_flush(self, timeout_s: float) -> bool:
        return True

    def shutdown(self, timeout_s: float) -> None:
        pass

    def clear(self) -> None:
        self.records.clear()


class _NullExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _fast_tracer(sink: SpanPipeline) -> Tracer:
    return FastTracerProvider(sampler_config("parentbased_always_on"), SpanLimits(), sink).get_tracer("bench")


def _request(tracer: Tracer, extract: Callable[[], Context]) -> None:
    ctx = extract()
    span = tracer.start_span("POST /mcp", ctx, SpanKind.SERVER, {"http.request.method": "POST", "url.path": "/mcp"})
    token = context_api.attach(set_span_in_context(span, ctx))
    try:
        span.set_attribute("http.route", "/mcp")
        with tracer.start_as_current_span("tools/call search_runbooks") as tool:
            tool.set_attribute("gen_ai.tool.name", "search_runbooks")
            with tracer.start_as_current_span("POST /v1/search", kind=SpanKind.CLIENT) as client:
                client.set_attribute("server.port", 8081)
        span.set_attribute("http.response.status_code", 200)
    finally:
        context_api.detach(token)
        span.end()


def _measure(loop: Callable[[int], None], n: int, repeat: int, reset: Callable[[], None]) -> tuple[float, float]:
    loop(min(n, 2_000))  # warm-up: first-call costs are not per-span costs
    samples = []
    for _ in range(repeat):
        reset()
        gc.collect()
        start = time.process_time()
        loop(n)
        samples.append((time.process_time() - start) / n * 1e6)
    return statistics.median(samples), min(samples)


def _spans(tracer: Tracer) -> Callable[[int], None]:
    def loop(n: int) -> None:
        start_span = tracer.start_span
        for _ in range(n):
            start_span("span").end()

    return loop


def _requests(tracer: Tracer, extract: Callable[[], Context]) -> Callable[[int], None]:
    def loop(n: int) -> None:
        for _ in range(n):
            _request(tracer, extract)

    return loop


def _repeat(call: Callable[[], object]) -> Callable[[int], None]:
    def loop(n: int) -> None:
        for _ in range(n):
            call()

    return loop


def _fast_extract() -> Context:
    return extract_context(HEADERS)


def _stock_extract() -> Context:
    return _STOCK.extract({"type": "http", "headers": HEADERS}, getter=asgi_getter)


def _cases(sink: SpanPipeline, sdk: Tracer, sdk_bsp: Tracer) -> list[tuple[str, Callable[[int], None]]]:
    fast = _fast_tracer(sink)
    traced = set_span_in_context(fast.start_span("parent"))

    def stock_inject() -> dict[str, str]:
        carrier: dict[str, str] = {}
        propagate.inject(carrier, traced)
        return carrier

    return [
        ("start_span + end: fast provider", _spans(fast)),
        ("start_span + end: SDK, no processor", _spans(sdk)),
        ("start_span + end: SDK + BatchSpanProcessor", _spans(sdk_bsp)),
        ("request path: fast provider + fast extract", _requests(fast, _fast_extract)),
        ("request path: fast provider + stock propagator", _requests(fast, _stock_extract)),
        ("request path: SDK + BSP + stock propagator", _requests(sdk_bsp, _stock_extract)),
        ("extract traceparent + baggage: fast", _repeat(_fast_extract)),
        ("extract traceparent + baggage: stock", _repeat(_stock_extract)),
        ("inject: fast header_lines", _repeat(lambda: header_lines(traced))),
        ("inject: stock propagate.inject", _repeat(stock_inject)),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20_000, help="iterations per repeat")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)

    propagate.set_global_textmap(_STOCK)
    sink = _Recent()
    bare_sdk = SdkTracerProvider(shutdown_on_exit=False)
    batched_sdk = SdkTracerProvider(shutdown_on_exit=False)
    batched_sdk.add_span_processor(BatchSpanProcessor(_NullExporter(), max_queue_size=1 << 20))
    out = sys.stdout
    out.write(f"{'case':52} {'median µs':>10} {'best µs':>9}\n")
    for name, loop in _cases(sink, bare_sdk.get_tracer("bench"), batched_sdk.get_tracer("bench")):
        median, best = _measure(loop, args.n, args.repeat, sink.clear)
        out.write(f"{name:52} {median:10.2f} {best:9.2f}\n")
        out.flush()
    batched_sdk.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
