"""``python -m services.retrieval.bench``: how fast retrieval answers on this machine. Prints figures, asserts nothing.

1. In process: search latency for a fixed query mix, cold (ranking computed) and cached (L1 hit, answer rebuilt).
2. Over HTTP, one uvicorn worker pinned to CPU 0 and this client on CPU 1: closed-loop requests/s of the cached
   ``search_runbooks`` path, then an open-loop run at a fixed rate with latency measured from each request's
   intended send time (so a stall shows up as latency instead of as fewer requests).

The service runs untraced (``OTEL_SDK_DISABLED``): this measures retrieval itself, and with no collector to talk to
its exporter would only retry and drop. ``--traced`` starts an embedded receiver on CPU 1 and traces every request;
what tracing costs is ``python -m services.gateway.bench``'s subject.

The HTTP client is ``services.common.loadclient``: a general-purpose client would measure itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import uvloop

from services.common.loadclient import (
    closed_loop,
    line,
    open_loop,
    pin,
    request_bytes,
    start_receiver,
    start_service,
    stop_service,
)
from services.retrieval.cache import MemoryCache, TieredCache
from services.retrieval.corpus.loader import load_corpus
from services.retrieval.feedback import FeedbackStore
from services.retrieval.schemas import TOOL_PATHS, SearchRunbooksRequest, Severity
from services.retrieval.service import RetrievalService

if TYPE_CHECKING:
    from collections.abc import Sequence

ALERTS = (
    "memory_pressure",
    "service_down",
    "disk_full",
    "cpu_high",
    "network_error",
    "database_slow",
    "ssl_certificate",
    "security_breach",
    "authentication_failure",
    "load_balancer_failure",
    "backup_failure",
    "ddos_attack",
)
SYSTEMS = ("java-app", "postgres", "nginx", "kubernetes", "payment-service", "api-gateway", "redis")
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium")


def query_mix(n: int) -> list[SearchRunbooksRequest]:
    """``n`` distinct, deterministic searches spread over alert families, systems and severities."""
    return [
        SearchRunbooksRequest(
            alert_type=ALERTS[i % len(ALERTS)],
            severity=SEVERITIES[i % len(SEVERITIES)],
            affected_systems=[SYSTEMS[i % len(SYSTEMS)], SYSTEMS[(i // 7) % len(SYSTEMS)]],
            context={"run": i},
        )
        for i in range(n)
    ]


async def in_process(queries: int) -> None:
    corpus = load_corpus(None)
    with tempfile.TemporaryDirectory() as tmp:
        store = await FeedbackStore.open(Path(tmp) / "feedback.sqlite3")
        service = RetrievalService(corpus, TieredCache(MemoryCache(100_000, 512 << 20), None, 60.0), store)
        mix = query_mix(queries)
        cold, cached = [], []
        for request in mix:
            started = time.perf_counter()
            await service.search_runbooks(request)
            cold.append((time.perf_counter() - started) * 1e6)
        for _ in range(5):
            for request in mix:
                started = time.perf_counter()
                await service.search_runbooks(request)
                cached.append((time.perf_counter() - started) * 1e6)
        await store.aclose()
    print(f"in process ({len(corpus.runbooks)} runbooks, {queries} distinct queries)")
    print(line("search_runbooks cold (ranked)", cold))
    print(line("search_runbooks cached (L1 hit)", cached))


async def over_http(port: int, keys: int, seconds: float, rate: float) -> None:
    path = TOOL_PATHS["search_runbooks"]
    payloads = [request_bytes(port, path, msgspec.json.encode(q)) for q in query_mix(keys)]
    await closed_loop(port, payloads, 1, 1.0)  # warm every key into L1
    rps, errors = await closed_loop(port, payloads, 32, seconds)
    print(f"over HTTP (1 worker on CPU 0, client on CPU 1, {keys} cached keys)")
    print(f"  cached search_runbooks, 32 in flight  {rps:8.0f} req/s   errors {errors}")
    intended, actual, errors = await open_loop(port, payloads, rate, seconds)
    print(f"  open loop at {rate:.0f} req/s, {len(intended)} requests, errors {errors}")
    print(line("latency from intended send time", intended))
    print(line("latency from actual send", actual))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each HTTP run")
    parser.add_argument("--rate", type=float, default=500.0, help="open-loop arrival rate (req/s)")
    parser.add_argument("--keys", type=int, default=60, help="distinct queries in the mix")
    parser.add_argument("--port", type=int, default=18081, help="retrieval's port (the receiver takes the next one)")
    parser.add_argument("--traced", action="store_true", help="trace every request, exporting to an embedded receiver")
    args = parser.parse_args(argv)
    asyncio.run(in_process(args.keys))
    with tempfile.TemporaryDirectory() as data_dir, ExitStack() as stack:
        env = {
            "PP_RETRIEVAL_PORT": str(args.port),
            "PP_DATA_DIR": data_dir,
            "PP_LOG_LEVEL": "WARNING",
            "PP_REDIS_KEY_PREFIX": f"pp:bench:{os.getpid()}:",
            "OTEL_SDK_DISABLED": "true",
        }
        if args.traced:
            receiver_port = args.port + 1
            stack.callback(stop_service, start_receiver(receiver_port, data_dir))
            env |= {"OTEL_SDK_DISABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver_port}"}
        proc = start_service("services.retrieval", env, f"http://127.0.0.1:{args.port}/ready")
        stack.callback(stop_service, proc)
        pin(1)
        uvloop.run(over_http(args.port, args.keys, args.seconds, args.rate))


if __name__ == "__main__":
    main()
