"""Measuring our services from outside: a minimal keep-alive HTTP/1.1 client, open- and closed-loop drivers.

For the services' benchmark scripts (``python -m services.<service>.bench``), which print figures and assert nothing.
A general-purpose client would measure itself (aiohttp tops out near 6 k req/s per core here); this one sends
prebuilt request bytes over ``asyncio.Protocol`` connections, one request in flight per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = (
    "child_pids",
    "closed_loop",
    "cpu_seconds",
    "line",
    "open_loop",
    "percentile",
    "pin",
    "request_bytes",
    "start_receiver",
    "start_service",
    "stop_service",
)

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def percentile(samples: Sequence[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def line(label: str, samples_us: Sequence[float]) -> str:
    return f"  {label:<34} p50 {percentile(samples_us, 50):8.1f} µs   p99 {percentile(samples_us, 99):8.1f} µs"


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


def request_bytes(port: int, path: str, body: bytes, headers: Mapping[str, str] | None = None) -> bytes:
    """A complete POST request, built once and sent many times."""
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
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


def pin(cpu: int) -> None:
    """Keep this process on one CPU (when the machine has several), so client and server do not share a core."""
    with contextlib.suppress(OSError, AttributeError):
        if len(os.sched_getaffinity(0)) > 1:
            os.sched_setaffinity(0, {cpu})


def start_service(module: str, env: Mapping[str, str], ready_url: str, cpu: int | None = 0) -> subprocess.Popen[bytes]:
    """Start ``python -m module`` and wait until ``ready_url`` answers 200; then pin it (not its children) to ``cpu``.

    Every thread is pinned (affinity is per thread, and the service's background threads exist by now), so the
    service's whole CPU is on ``cpu``. Processes it spawned while starting (the span exporter) stay free to run on
    the other core, as they would beside a real collector.
    """
    proc = subprocess.Popen([sys.executable, "-m", module], env={**os.environ, **env})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), urllib.request.urlopen(ready_url, timeout=1) as response:
            if response.status == 200:
                if cpu is not None:
                    for thread in _threads(proc.pid):
                        with contextlib.suppress(OSError):
                            os.sched_setaffinity(thread, {cpu})
                return proc
        if proc.poll() is not None:
            raise SystemExit(f"{module} failed to start (exit {proc.returncode})")
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"{module} not ready in 60 s")


def start_receiver(port: int, directory: str | Path, cpu: int = 1) -> subprocess.Popen[bytes]:
    """An embedded OTLP receiver (``python -m otel.receiver``) storing into ``directory``, for traced benchmarks."""
    store = str(Path(directory) / "telemetry.sqlite3")
    env = {"PP_RECEIVER_PORT": str(port), "PP_RECEIVER_STORE": store}
    return start_service("otel.receiver", env, f"http://127.0.0.1:{port}/ready", cpu=cpu)


def stop_service(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then wait for the service's own clean shutdown (it flushes its telemetry on the way out)."""
    proc.terminate()
    proc.wait(30)


def _threads(pid: int) -> list[int]:
    try:
        return [int(task.name) for task in Path(f"/proc/{pid}/task").iterdir()]
    except OSError:  # not Linux: the process as a whole
        return [pid]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads included (Linux ``/proc``; 0.0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text("ascii").rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def child_pids(pid: int) -> list[int]:
    """The processes ``pid`` started that are still running (Linux ``/proc``; empty elsewhere)."""
    children: list[int] = []
    for thread in _threads(pid):
        with contextlib.suppress(OSError):
            children += [int(child) for child in Path(f"/proc/{pid}/task/{thread}/children").read_text().split()]
    return children
