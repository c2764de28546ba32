"""``python -m services.retrieval.bench``: how fast retrieval answers on this machine. Prints figures, asserts nothing.

1. In process: search latency for a fixed query mix, cold (ranking computed) and cached (L1 hit, answer rebuilt).
2. Over HTTP, one uvicorn worker pinned to CPU 0 and this client on CPU 1: closed-loop requests/s of the cached
   ``search_runbooks`` path, then an open-loop run at a fixed rate with latency measured from each request's
   intended send time (so a stall shows up as latency instead of as fewer requests).

The HTTP client is a minimal keep-alive ``asyncio.Protocol`` client: a general-purpose client would measure itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import uvloop

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


def percentile(samples: Sequence[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def line(label: str, samples_us: Sequence[float]) -> str:
    return f"  {label:<34} p50 {percentile(samples_us, 50):8.1f} µs   p99 {percentile(samples_us, 99):8.1f} µs"


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


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection with one request in flight; answers are counted, not parsed as JSON."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None  # the server closes idle keep-alive connections; callers reconnect
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed by the server"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        head = bytes(self.buffer[:head_end]).lower()
        start = head.find(b"content-length:") + 15
        length = int(head[start : head.find(b"\r\n", start) if head.find(b"\r\n", start) > 0 else None])
        if len(self.buffer) >= head_end + 4 + length:
            status = int(self.buffer[9:12])
            del self.buffer[: head_end + 4 + length]
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result(status)

    async def request(self, payload: bytes) -> int:
        self.waiter = asyncio.get_running_loop().create_future()
        if self.transport is None:
            raise ConnectionError("connection closed by the server")
        self.transport.write(payload)
        return await self.waiter


def _payload(port: int, path: str, body: bytes) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def _connect(port: int, n: int) -> list[_Connection]:
    loop = asyncio.get_running_loop()
    return [(await loop.create_connection(_Connection, "127.0.0.1", port))[1] for _ in range(n)]


async def closed_loop(port: int, payloads: list[bytes], connections: int, seconds: float) -> tuple[float, int]:
    conns = await _connect(port, connections)
    done = errors = 0
    stop = time.perf_counter() + seconds

    async def worker(conn: _Connection, offset: int) -> None:
        nonlocal done, errors
        i = offset
        while time.perf_counter() < stop:
            if await conn.request(payloads[i % len(payloads)]) != 200:
                errors += 1
            done += 1
            i += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(c, k) for k, c in enumerate(conns)))
    elapsed = time.perf_counter() - started
    for conn in conns:
        assert conn.transport is not None
        conn.transport.close()
    return done / elapsed, errors


async def open_loop(
    port: int, payloads: list[bytes], rate: float, seconds: float
) -> tuple[list[float], list[float], int]:
    """Send at ``rate``/s on schedule; latency from the intended send time (coordinated omission) and from the send.

    The scheduler sleeps until 2 ms before each send and yields to the loop until the instant itself, because
    event-loop timers tick in whole milliseconds; the spin runs on the client's own core.
    """
    pool = await _connect(port, 64)
    idle = list(pool)
    intended_us: list[float] = []
    actual_us: list[float] = []
    errors = 0
    clock = time.perf_counter  # uvloop's loop.time() ticks in whole milliseconds: too coarse for latency
    interval = 1.0 / rate
    begin = clock() + 0.05
    tasks = set()

    async def one(i: int, intended: float) -> None:
        nonlocal errors
        conn = idle.pop() if idle else (await _connect(port, 1))[0]
        if conn.transport is None:
            conn = (await _connect(port, 1))[0]
        sent = clock()
        if await conn.request(payloads[i % len(payloads)]) != 200:
            errors += 1
        done = clock()
        intended_us.append((done - intended) * 1e6)
        actual_us.append((done - sent) * 1e6)
        idle.append(conn)

    for i in range(int(rate * seconds)):
        intended = begin + i * interval
        if intended - clock() > 0.002:
            await asyncio.sleep(intended - clock() - 0.002)
        while clock() < intended:  # noqa: ASYNC110 - a timer cannot wake us this precisely; yield until it's time
            await asyncio.sleep(0)
        task = asyncio.create_task(one(i, intended))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    for conn in pool + idle:
        if conn.transport is not None:
            conn.transport.close()
    return intended_us, actual_us, errors


def _pin(cpu: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        if len(os.sched_getaffinity(0)) > 1:
            os.sched_setaffinity(0, {cpu})


def start_service(port: int, data_dir: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PP_RETRIEVAL_PORT": str(port), "PP_DATA_DIR": data_dir, "PP_LOG_LEVEL": "WARNING"}
    env.setdefault("PP_REDIS_KEY_PREFIX", f"pp:bench:{os.getpid()}:")
    proc = subprocess.Popen([sys.executable, "-m", "services.retrieval"], env=env, preexec_fn=lambda: _pin(0))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as response,
        ):
            if response.status == 200:
                return proc
        if proc.poll() is not None:
            raise SystemExit("retrieval service failed to start")
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("retrieval service not ready in 60 s")


async def over_http(port: int, keys: int, seconds: float, rate: float) -> None:
    path = TOOL_PATHS["search_runbooks"]
    payloads = [_payload(port, path, msgspec.json.encode(q)) for q in query_mix(keys)]
    await closed_loop(port, payloads, 1, 1.0)  # warm every key into L1
    rps, errors = await closed_loop(port, payloads, 32, seconds)
    print(f"over HTTP (1 worker on CPU 0, client on CPU 1, {keys} cached keys)")
    print(f"  cached search_runbooks, 32 in flight  {rps:8.0f} req/s   errors {errors}")
    intended, actual, errors = await open_loop(port, payloads, rate, seconds)
    print(f"  open loop at {rate:.0f} req/s, {len(intended)} requests, errors {errors}")
    print(line("latency from intended send time", intended))
    print(line("latency from actual send", actual))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each HTTP run")
    parser.add_argument("--rate", type=float, default=500.0, help="open-loop arrival rate (req/s)")
    parser.add_argument("--keys", type=int, default=60, help="distinct queries in the mix")
    parser.add_argument("--port", type=int, default=18081)
    args = parser.parse_args(argv)
    asyncio.run(in_process(args.keys))
    with tempfile.TemporaryDirectory() as data_dir:
        proc = start_service(args.port, data_dir)
        try:
            _pin(1)
            uvloop.run(over_http(args.port, args.keys, args.seconds, args.rate))
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
