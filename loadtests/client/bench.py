"""Measure the lean clients: requests/s for raw HTTP GETs and for MCP ``tools/call`` against the responder.

``python -m loadtests.client.bench [--seconds 5] [--loops 64]``. The responder runs in a child process pinned to
CPU 1 and the clients here pinned to CPU 0, both on uvloop, each loop with its own client as a VU has; the MCP
phase sends a fresh ``traceparent`` and the VU's ``baggage`` on every call. Both processes' CPU use is printed: the
figure is the client's cost only while the client's core is the busy one.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import time

import psutil
import uvloop

from loadtests.client.http import HttpClient
from loadtests.client.mcp import McpClient
from loadtests.client.responder import serve_in_process
from loadtests.client.tracecontext import BAGGAGE, TRACEPARENT, baggage_header, new_traceparent

__all__ = ("main",)

_WARMUP_S = 0.5


class _Tally:
    def __init__(self) -> None:
        self.ok = 0
        self.failed = 0
        self.measuring = False


async def _get_loop(url: str, stop: float, tally: _Tally) -> None:
    loop = asyncio.get_running_loop()
    async with HttpClient() as http:
        while loop.time() < stop:
            response = await http.get(url)
            if tally.measuring:
                if response.error is None and response.status == 200:
                    tally.ok += 1
                else:
                    tally.failed += 1


async def _mcp_loop(url: str, stop: float, tally: _Tally, vu: int) -> None:
    loop = asyncio.get_running_loop()
    baggage = baggage_header("bench", "client", vu)
    arguments = {"query": "disk full on /var", "limit": 5}
    async with HttpClient() as http:
        mcp = McpClient(http, url)
        while loop.time() < stop:
            _, traceparent = new_traceparent()
            result = await mcp.call_tool(
                "search_runbooks", arguments, headers=((TRACEPARENT, traceparent), (BAGGAGE, baggage))
            )
            if tally.measuring:
                if result.ok:
                    tally.ok += 1
                else:
                    tally.failed += 1


async def _phase(name: str, port: int, loops: int, seconds: float, server: psutil.Process) -> None:
    loop = asyncio.get_running_loop()
    tally = _Tally()
    stop = loop.time() + _WARMUP_S + seconds
    if name == "http":
        tasks = [_get_loop(f"http://127.0.0.1:{port}/", stop, tally) for _ in range(loops)]
    else:
        tasks = [_mcp_loop(f"http://127.0.0.1:{port}/mcp", stop, tally, vu) for vu in range(loops)]
    running = asyncio.gather(*tasks)
    await asyncio.sleep(_WARMUP_S)
    tally.measuring = True
    started, cpu, server_cpu = time.perf_counter(), time.process_time(), sum(server.cpu_times()[:2])
    await running
    elapsed = time.perf_counter() - started
    client_share = (time.process_time() - cpu) / elapsed
    server_share = (sum(server.cpu_times()[:2]) - server_cpu) / elapsed
    label = "HTTP GET" if name == "http" else "MCP tools/call (+traceparent, baggage)"
    sys.stdout.write(
        f"{label:40} {tally.ok / elapsed:>9,.0f} req/s  ({tally.ok:,} ok, {tally.failed:,} failed, {elapsed:.1f} s; "
        f"CPU client {client_share:.0%}, responder {server_share:.0%}; "
        f"{tally.ok / max(elapsed * client_share, 1e-9):,.0f} per client CPU-second)\n"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m loadtests.client.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured time per phase (after a 0.5 s warm-up)")
    parser.add_argument("--loops", type=int, default=64, help="concurrent request loops, one client each")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the processes to CPUs 0 and 1")
    args = parser.parse_args(argv)
    pin = not args.no_pin and len(os.sched_getaffinity(0)) >= 2
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    child = context.Process(target=serve_in_process, args=(theirs, 1 if pin else None), daemon=True)
    child.start()
    try:
        if pin:
            os.sched_setaffinity(0, {0})
        if not ours.poll(10):
            raise SystemExit("the responder did not start")
        port = ours.recv()
        server = psutil.Process(child.pid)
        sys.stdout.write(f"{args.loops} loops, {args.seconds:g} s per phase, {'pinned' if pin else 'not pinned'}\n")
        for name in ("http", "mcp"):
            uvloop.run(_phase(name, port, args.loops, args.seconds, server))
    finally:
        child.terminate()
        child.join(5)


if __name__ == "__main__":
    main()
