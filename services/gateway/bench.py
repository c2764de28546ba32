"""``python -m services.gateway.bench``: a cached ``tools/call search_runbooks`` through both services. Prints figures.

Retrieval and the gateway run one uvicorn worker each, both pinned to CPU 0; this process drives them from CPU 1
(as the baseline in ``shared/reference/perf-baseline.md`` was measured). For each telemetry variant: a closed loop
with 32 requests in flight (requests/s), then an open loop at a fixed rate, with latency from each request's
intended send time and from its actual send. Calls hit the gateway's MCP endpoint exactly as an MCP client's do.

Variants (``--variants``, run in one invocation so their ratios share the machine's mood):
``untraced`` (``OTEL_SDK_DISABLED``), ``fast`` (the default provider, 100 %), ``fast10`` (10 % head sampling),
``sdk`` (the OpenTelemetry SDK provider, 100 %). Traced variants export to an embedded receiver
(``python -m otel.receiver``) on CPU 1; the span exporter processes are left free to use either core.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import uvloop

from services.common.loadclient import closed_loop, line, open_loop, pin, request_bytes, start_service

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Sequence

ALERTS = ("memory_pressure", "service_down", "disk_full", "cpu_high", "database_slow", "ssl_certificate")
SYSTEMS = ("java-app", "postgres", "nginx", "kubernetes", "payment-service")

VARIANTS: dict[str, dict[str, str]] = {
    "untraced": {"OTEL_SDK_DISABLED": "true"},
    "fast": {},
    "fast10": {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
    "sdk": {"PP_TRACER_PROVIDER": "sdk"},
}


def tool_calls(port: int, keys: int) -> list[bytes]:
    """``keys`` distinct MCP ``tools/call search_runbooks`` requests, as the bytes an MCP client would send."""
    payloads = []
    for i in range(keys):
        arguments = {
            "alert_type": ALERTS[i % len(ALERTS)],
            "severity": ("critical", "high", "medium")[i % 3],
            "affected_systems": [SYSTEMS[i % len(SYSTEMS)]],
            "context": {"bench": i},
        }
        message = {
            "jsonrpc": "2.0",
            "id": i,
            "method": "tools/call",
            "params": {"name": "search_runbooks", "arguments": arguments},
        }
        headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}
        payloads.append(request_bytes(port, "/mcp", msgspec.json.encode(message), headers))
    return payloads


async def drive(variant: str, port: int, keys: int, seconds: float, rate: float) -> float:
    payloads = tool_calls(port, keys)
    await closed_loop(port, payloads, 1, 1.0)  # every key into the caches
    rps, errors = await closed_loop(port, payloads, 32, seconds)
    print(f"{variant}: cached tools/call search_runbooks, 32 in flight  {rps:8.0f} req/s   errors {errors}")  # noqa: T201
    if rate > 0:
        intended, actual, errors = await open_loop(port, payloads, rate, seconds)
        print(f"  open loop at {rate:.0f} req/s, {len(intended)} requests, errors {errors}")  # noqa: T201
        print(line("latency from intended send time", intended))  # noqa: T201
        print(line("latency from actual send", actual))  # noqa: T201
    return rps


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(30)


def run_variant(variant: str, args: argparse.Namespace, otlp_endpoint: str, data_dir: str) -> float:
    retrieval_port = args.port + 1
    common = {"PP_LOG_LEVEL": "WARNING", "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_endpoint, **VARIANTS[variant]}
    with ExitStack() as stack:
        retrieval = start_service(
            "services.retrieval",
            {
                **common,
                "PP_RETRIEVAL_PORT": str(retrieval_port),
                "PP_DATA_DIR": data_dir,
                "PP_REDIS_KEY_PREFIX": f"pp:bench:{os.getpid()}:{variant}:",
            },
            f"http://127.0.0.1:{retrieval_port}/ready",
        )
        stack.callback(_stop, retrieval)
        gateway = start_service(
            "services.gateway",
            {**common, "PP_GATEWAY_PORT": str(args.port), "PP_RETRIEVAL_URL": f"http://127.0.0.1:{retrieval_port}"},
            f"http://127.0.0.1:{args.port}/ready",
        )
        stack.callback(_stop, gateway)
        return uvloop.run(drive(variant, args.port, args.keys, args.seconds, args.rate))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run")
    parser.add_argument("--rate", type=float, default=500.0, help="open-loop arrival rate (req/s); 0 skips it")
    parser.add_argument("--keys", type=int, default=60, help="distinct tool calls in the mix")
    parser.add_argument("--port", type=int, default=18080, help="gateway port (retrieval uses the next one)")
    parser.add_argument("--variants", default="untraced", help=f"comma-separated, of: {', '.join(VARIANTS)}")
    parser.add_argument("--reps", type=int, default=1, help="repetitions, interleaved across variants")
    args = parser.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    pin(1)
    results: dict[str, list[float]] = {v: [] for v in variants}
    with tempfile.TemporaryDirectory() as data_dir, ExitStack() as stack:
        receiver_port = args.port + 2
        receiver = start_service(
            "otel.receiver",
            {"PP_RECEIVER_PORT": str(receiver_port), "PP_RECEIVER_STORE": str(Path(data_dir) / "telemetry.sqlite3")},
            f"http://127.0.0.1:{receiver_port}/ready",
            cpu=1,
        )
        stack.callback(_stop, receiver)
        for _ in range(args.reps):
            for variant in variants:
                results[variant].append(run_variant(variant, args, f"http://127.0.0.1:{receiver_port}", data_dir))
    baseline = results.get("untraced")
    print("summary (median req/s" + (", ratio to untraced" if baseline else "") + ")")  # noqa: T201
    for variant, values in results.items():
        median = sorted(values)[len(values) // 2]
        ratio = f"  {median / sorted(baseline)[len(baseline) // 2]:.2f}x" if baseline else ""
        print(f"  {variant:<9} {median:8.0f}{ratio}   runs: {', '.join(f'{v:.0f}' for v in values)}")  # noqa: T201


if __name__ == "__main__":
    main()
