"""``python -m services.gateway.bench``: what tracing costs a cached MCP ``tools/call`` through both services.

Telemetry variants (``--variants``; the first is the baseline of the ratios): ``untraced`` (``OTEL_SDK_DISABLED``:
no traces, no metrics), ``fast`` (the default providers, 100 %), ``fast10`` (10 % head sampling), ``sdk`` (the
OpenTelemetry SDK throughout: its tracer provider at 100 %, its meter provider for every instrument). Traced
variants export to an embedded receiver (``python -m otel.receiver``) on CPU 1, where this process also runs; every
service (gateway and retrieval, one uvicorn worker each, every thread) is pinned to CPU 0. Calls hit the gateway's
MCP endpoint as an MCP client's do.

Side by side (the default, and the figures to quote): every variant's pair of services runs at the same time on
CPU 0, each driven by its own closed loop of 32 requests in flight, for ``--reps`` windows. The figure is the
services' CPU time per request (``/proc``, all threads), and ``capacity`` = requests/s one core sustains at that
cost — on a saturated core, throughput is exactly that. Run one after the other, this machine's speed drifts by
±15 % between runs, more than the differences being measured; side by side, every variant sees the same drift, and
the ratios repeat within ±0.02. The span exporter processes run wherever the scheduler puts them; their CPU per
request is shown apart, and a second ratio charges it to the request core as well (the worst case of a one-core
deployment).

``--solo`` also runs each variant alone on CPU 0 (closed loop, requests/s; with ``--rate`` an open loop with
latency from each request's intended send time and from its actual send): absolute figures, noisier ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import msgspec
import uvloop

from services.common.loadclient import (
    child_pids,
    closed_loop,
    cpu_seconds,
    line,
    open_loop,
    pin,
    request_bytes,
    start_receiver,
    start_service,
    stop_service,
)

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Sequence

ALERTS = ("memory_pressure", "service_down", "disk_full", "cpu_high", "database_slow", "ssl_certificate")
SYSTEMS = ("java-app", "postgres", "nginx", "kubernetes", "payment-service")
IN_FLIGHT = 32

VARIANTS: dict[str, dict[str, str]] = {
    "untraced": {"OTEL_SDK_DISABLED": "true"},
    "fast": {},
    "fast10": {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
    "sdk": {"PP_TRACER_PROVIDER": "sdk", "PP_METER_PROVIDER": "sdk"},
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


@dataclass
class Chain:
    """One variant's gateway and retrieval, started and pinned to CPU 0."""

    variant: str
    port: int
    gateway: subprocess.Popen[bytes]
    retrieval: subprocess.Popen[bytes]
    payloads: list[bytes] = field(default_factory=list)

    @property
    def services(self) -> tuple[int, int]:
        return self.gateway.pid, self.retrieval.pid

    def cpu(self) -> tuple[float, float]:
        """CPU seconds so far: (both services, their exporter processes)."""
        exporters = [*child_pids(self.gateway.pid), *child_pids(self.retrieval.pid)]
        return sum(map(cpu_seconds, self.services)), sum(map(cpu_seconds, exporters))


def start_chain(variant: str, port: int, stack: ExitStack, otlp_endpoint: str, data_dir: str, keys: int) -> Chain:
    retrieval_port = port + 1
    common = {"PP_LOG_LEVEL": "WARNING", "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_endpoint, **VARIANTS[variant]}
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
    stack.callback(stop_service, retrieval)
    gateway = start_service(
        "services.gateway",
        {**common, "PP_GATEWAY_PORT": str(port), "PP_RETRIEVAL_URL": f"http://127.0.0.1:{retrieval_port}"},
        f"http://127.0.0.1:{port}/ready",
    )
    stack.callback(stop_service, gateway)
    return Chain(variant, port, gateway, retrieval, tool_calls(port, keys))


@dataclass
class Window:
    rps: float
    service_us: float
    exporter_us: float
    errors: int


async def _all_at_once(chains: Sequence[Chain], in_flight: int, seconds: float) -> list[tuple[float, int]]:
    return await asyncio.gather(*(closed_loop(c.port, c.payloads, in_flight, seconds) for c in chains))


def side_by_side(chains: Sequence[Chain], seconds: float, reps: int) -> dict[str, list[Window]]:
    uvloop.run(_all_at_once(chains, 1, 1.0))  # every key into the caches
    uvloop.run(_all_at_once(chains, IN_FLIGHT, 2.0))  # connections, code paths and allocator warm
    windows: dict[str, list[Window]] = {c.variant: [] for c in chains}
    for rep in range(1, reps + 1):
        before = [c.cpu() for c in chains]
        results = uvloop.run(_all_at_once(chains, IN_FLIGHT, seconds))
        after = [c.cpu() for c in chains]
        cells = []
        for chain, (rps, errors), (s0, e0), (s1, e1) in zip(chains, results, before, after, strict=True):
            requests = max(1.0, rps * seconds)
            window = Window(rps, (s1 - s0) / requests * 1e6, (e1 - e0) / requests * 1e6, errors)
            windows[chain.variant].append(window)
            cells.append(f"{chain.variant} {window.service_us:6.1f} µs (+{window.exporter_us:5.1f})")
        print(f"  window {rep}/{reps}: " + " | ".join(cells), flush=True)  # noqa: T201
    return windows


def report_side_by_side(windows: dict[str, list[Window]]) -> None:
    baseline = next(iter(windows.values()))
    print(  # noqa: T201
        "side by side on one core (median of windows; ratio = baseline CPU per request / this one's,"
        " per window, then the median)"
    )
    print(  # noqa: T201
        f"  {'variant':<9} {'services µs/req':>15} {'capacity req/s':>14} {'ratio':>6} {'range':>11}"
        f" {'exporters µs/req':>16} {'ratio incl. exporters':>21} {'errors':>6}"
    )
    for variant, runs in windows.items():
        ratios = [b.service_us / w.service_us for b, w in zip(baseline, runs, strict=True)]
        whole = [
            (b.service_us + b.exporter_us) / (w.service_us + w.exporter_us) for b, w in zip(baseline, runs, strict=True)
        ]
        service_us = statistics.median(w.service_us for w in runs)
        print(  # noqa: T201
            f"  {variant:<9} {service_us:15.1f} {1e6 / service_us:14.0f} {statistics.median(ratios):5.2f}x"
            f" {min(ratios):5.2f}-{max(ratios):4.2f} {statistics.median(w.exporter_us for w in runs):16.1f}"
            f" {statistics.median(whole):20.2f}x {sum(w.errors for w in runs):6d}"
        )


async def _solo(chain: Chain, seconds: float, rate: float) -> float:
    await closed_loop(chain.port, chain.payloads, 1, 1.0)
    rps, errors = await closed_loop(chain.port, chain.payloads, IN_FLIGHT, seconds)
    print(f"  {chain.variant}: {IN_FLIGHT} in flight  {rps:8.0f} req/s   errors {errors}")  # noqa: T201
    if rate > 0:
        intended, actual, errors = await open_loop(chain.port, chain.payloads, rate, seconds)
        print(f"    open loop at {rate:.0f} req/s, {len(intended)} requests, errors {errors}")  # noqa: T201
        print("  " + line("latency from intended send time", intended))  # noqa: T201
        print("  " + line("latency from actual send", actual))  # noqa: T201
    return rps


def solo(variants: Sequence[str], args: argparse.Namespace, otlp_endpoint: str, data_dir: str) -> None:
    print("one at a time, alone on the core (closed loop)")  # noqa: T201
    results: dict[str, list[float]] = {v: [] for v in variants}
    for _ in range(args.solo_reps):
        for variant in variants:
            with ExitStack() as stack:
                chain = start_chain(variant, args.port, stack, otlp_endpoint, data_dir, args.keys)
                results[variant].append(uvloop.run(_solo(chain, args.seconds, args.rate)))
    base = statistics.median(next(iter(results.values())))
    for variant, values in results.items():
        median = statistics.median(values)
        print(  # noqa: T201
            f"  {variant:<9} {median:8.0f} req/s  {median / base:5.2f}x   runs: {', '.join(f'{v:.0f}' for v in values)}"
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of: {', '.join(VARIANTS)}")
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each measured window")
    parser.add_argument("--reps", type=int, default=5, help="side-by-side windows")
    parser.add_argument("--solo", action="store_true", help="also run each variant alone on the core")
    parser.add_argument("--solo-reps", type=int, default=1, help="solo repetitions, interleaved across variants")
    parser.add_argument("--rate", type=float, default=0.0, help="solo open-loop arrival rate (req/s); 0 skips it")
    parser.add_argument("--keys", type=int, default=60, help="distinct tool calls in the mix")
    parser.add_argument("--port", type=int, default=18080, help="first port; each variant takes two, the receiver one")
    args = parser.parse_args(argv)
    variants = list(dict.fromkeys(v.strip() for v in args.variants.split(",") if v.strip()))
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants:
        parser.error(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    if args.reps < 1 or args.seconds <= 0:
        parser.error("--reps must be at least 1 and --seconds positive")
    pin(1)
    with tempfile.TemporaryDirectory() as data_dir, ExitStack() as stack:
        receiver_port = args.port + 2 * len(variants)
        stack.callback(stop_service, start_receiver(receiver_port, data_dir))
        otlp = f"http://127.0.0.1:{receiver_port}"
        with ExitStack() as chains_stack:
            chains = [
                start_chain(variant, args.port + 2 * i, chains_stack, otlp, data_dir, args.keys)
                for i, variant in enumerate(variants)
            ]
            print(  # noqa: T201
                f"{len(chains)} chains side by side on CPU 0, {IN_FLIGHT} in flight each, {args.reps} windows of"
                f" {args.seconds:g} s; CPU µs per request: services (+ exporter processes)",
                flush=True,
            )
            windows = side_by_side(chains, args.seconds, args.reps)
        report_side_by_side(windows)
        if args.solo:
            solo(variants, args, otlp, data_dir)


if __name__ == "__main__":
    main()
