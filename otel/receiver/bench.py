"""``python -m otel.receiver.bench``: end-to-end ingest rate of the receiver, in spans per second on one core.

A receiver process is started on CPU 0 with a fresh store; this process, on the other CPUs, sends OTLP/protobuf
batches shaped like the services' (512 spans per request, as the SDK's batch processor sends them; four spans per
trace: gateway server, tool call, HTTP client, cache lookup, with their attributes) over several keep-alive
connections, as several exporting processes would. A request is answered only once its spans are committed, so
the clock covers HTTP, decoding, validation and the store transaction. The store is counted at the end to check
that nothing was lost.
"""

from __future__ import annotations

import argparse
import gzip as gzip_module
import http.client
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from socket import socket

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from otel import contract

SERVER, INTERNAL, CLIENT = Span.SPAN_KIND_SERVER, Span.SPAN_KIND_INTERNAL, Span.SPAN_KIND_CLIENT


def _kv(key: str, value: str | int | bool) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def sample_request(spans: int, rng: random.Random, run_id: str) -> ExportTraceServiceRequest:
    """``spans`` spans (whole traces of four) from one gateway process, with fresh ids and times."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(
        [
            _kv("service.name", contract.GATEWAY_SERVICE),
            _kv("service.version", "0.1.0"),
            _kv("service.instance.id", "bench-0"),
            _kv("telemetry.sdk.language", "python"),
            _kv("telemetry.sdk.name", "opentelemetry"),
            _kv("telemetry.sdk.version", "1.45.2"),
        ]
    )
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = contract.INSTRUMENTATION_SCOPE
    now = time.time_ns()
    for _ in range(spans // 4):
        trace_id = rng.randbytes(16)
        ids = [rng.randbytes(8) for _ in range(4)]
        start = now + rng.randrange(1_000_000_000)
        tool = rng.choice(("search_runbooks", "get_decision_tree", "get_procedure", "search_knowledge_base"))
        shapes: list[tuple[str, Span.SpanKind.ValueType, int, list[KeyValue]]] = [
            (
                "POST /mcp",
                SERVER,
                -1,
                [
                    _kv(contract.HTTP_REQUEST_METHOD, "POST"),
                    _kv(contract.HTTP_ROUTE, "/mcp"),
                    _kv(contract.URL_PATH, "/mcp"),
                    _kv(contract.URL_SCHEME, "http"),
                    _kv(contract.HTTP_RESPONSE_STATUS_CODE, 200),
                    _kv(contract.RUN_ID, run_id),
                    _kv(contract.SCENARIO, "storm"),
                ],
            ),
            (
                contract.TOOL_CALL_SPAN.format(tool=tool),
                INTERNAL,
                0,
                [
                    _kv(contract.MCP_METHOD_NAME, "tools/call"),
                    _kv(contract.GEN_AI_TOOL_NAME, tool),
                    _kv(contract.JSONRPC_REQUEST_ID, str(rng.randrange(10**6))),
                    _kv(contract.TOOL_OUTCOME, "ok"),
                ],
            ),
            (
                "POST",
                CLIENT,
                1,
                [
                    _kv(contract.HTTP_REQUEST_METHOD, "POST"),
                    _kv(contract.URL_FULL, "http://127.0.0.1:8081/v1/search"),
                    _kv(contract.SERVER_ADDRESS, "127.0.0.1"),
                    _kv(contract.SERVER_PORT, 8081),
                    _kv(contract.HTTP_RESPONSE_STATUS_CODE, 200),
                ],
            ),
            (
                contract.CACHE_SPAN,
                INTERNAL,
                1,
                [_kv(contract.CACHE_TIER, "l1"), _kv(contract.CACHE_HIT, rng.random() < 0.8)],
            ),
        ]
        for index, (name, kind, parent, attributes) in enumerate(shapes):
            begin = start + index * 50_000
            scope_spans.spans.append(
                Span(
                    trace_id=trace_id,
                    span_id=ids[index],
                    parent_span_id=ids[parent] if parent >= 0 else b"",
                    name=name,
                    kind=kind,
                    start_time_unix_nano=begin,
                    end_time_unix_nano=begin + rng.randrange(100_000, 5_000_000),
                    attributes=attributes,
                    status=Status(),
                    flags=0x100,
                )
            )
    return request


def _free_port() -> int:
    with socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start_receiver(
    store: Path, port: int, cpu: int | None, jsonl: Path | None, *, durable: bool = False
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PP_RECEIVER_PORT": str(port),
        "PP_RECEIVER_STORE": str(store),
        "PP_RECEIVER_DURABLE": "true" if durable else "false",
        "PP_LOG_LEVEL": "WARNING",
    }
    if jsonl is not None:
        env["PP_RECEIVER_JSONL"] = str(jsonl)
    proc = subprocess.Popen([sys.executable, "-m", "otel.receiver"], env=env)
    if cpu is not None:
        os.sched_setaffinity(proc.pid, {cpu})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1):
                return proc
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the receiver did not start")


def _sender(port: int, bodies: list[bytes], headers: dict[str, str], latencies: list[float]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for body in bodies:
        started = time.perf_counter()
        conn.request("POST", "/v1/traces", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"the receiver answered {response.status}")
        latencies.append(time.perf_counter() - started)
    conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m otel.receiver.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--spans", type=int, default=200_000, help="spans to send (default 200000)")
    parser.add_argument("--batch", type=int, default=512, help="spans per request (default 512, the SDK's)")
    parser.add_argument("--connections", type=int, default=4, help="concurrent senders (default 4)")
    parser.add_argument("--gzip", action="store_true", help="send gzip bodies")
    parser.add_argument("--jsonl", action="store_true", help="have the receiver also write JSON lines")
    parser.add_argument("--durable", action="store_true", help="run the receiver with --durable (fsync)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the receiver to CPU 0")
    args = parser.parse_args(argv)

    rng = random.Random(7)
    requests = [sample_request(args.batch, rng, f"bench-{i % 4}") for i in range(args.spans // args.batch)]
    bodies = [request.SerializeToString() for request in requests]
    if args.gzip:
        bodies = [gzip_module.compress(body, compresslevel=6) for body in bodies]
    sent_spans = sum(len(r.resource_spans[0].scope_spans[0].spans) for r in requests)
    headers = {"Content-Type": "application/x-protobuf", **({"Content-Encoding": "gzip"} if args.gzip else {})}

    pin = not args.no_pin and len(os.sched_getaffinity(0)) > 1
    if pin:
        os.sched_setaffinity(0, os.sched_getaffinity(0) - {0})
    workdir = Path(tempfile.mkdtemp(prefix="pp-receiver-bench-"))
    port = _free_port()
    proc = _start_receiver(
        workdir / "bench.sqlite3", port, 0 if pin else None, workdir / "jsonl" if args.jsonl else None
    )
    try:
        # Warm-up: first requests pay for imports and the SQLite page cache.
        _sender(port, bodies[:4], headers, [])
        latencies: list[float] = []
        shards = [bodies[i :: args.connections] for i in range(args.connections)]
        threads = [threading.Thread(target=_sender, args=(port, shard, headers, latencies)) for shard in shards]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    with sqlite3.connect(workdir / "bench.sqlite3") as conn:
        stored = conn.execute("SELECT count(*) FROM spans").fetchone()[0]
    shutil.rmtree(workdir, ignore_errors=True)

    expected = sent_spans + sum(len(r.resource_spans[0].scope_spans[0].spans) for r in requests[:4])
    size = sum(len(body) for body in bodies) / len(bodies)
    quantiles = statistics.quantiles(latencies, n=100)
    print(  # noqa: T201
        f"receiver ingest ({'one core' if pin else 'unpinned'}, {args.connections} connections, "
        f"{args.batch} spans/request, {size / 1024:.0f} KiB {'gzip' if args.gzip else 'protobuf'} bodies"
        f"{', with JSON lines' if args.jsonl else ''}{', durable' if args.durable else ''}):\n"
        f"  {sent_spans / elapsed:,.0f} spans/s  ({len(bodies) / elapsed:,.1f} requests/s, {sent_spans:,} spans "
        f"in {elapsed:.2f} s)\n"
        f"  request latency p50 {quantiles[49] * 1e3:.1f} ms, p99 {quantiles[98] * 1e3:.1f} ms\n"
        f"  stored {stored:,} of {expected:,} spans"
    )
    return 0 if stored == expected else 1


if __name__ == "__main__":
    sys.exit(main())
