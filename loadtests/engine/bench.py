"""``just bench-loadgen``: what one worker process can generate, and how punctually it schedules.

A raw asyncio responder (``loadtests.client.responder``) runs in a child process pinned to CPU 1; the coordinator
and its one worker are pinned to CPU 0, so the figures are one worker core's. Three runs of the real engine
(``python -m loadtests run`` machinery, HDR recording on, exemplars on):

* **closed** — N VUs back to back: requests/s of one worker;
* **open** — an arrival rate above that: achieved requests/s with the intended-start bookkeeping and the corrected
  latency on, and the iterations dropped;
* **lateness** — 1,000 iterations/s open model: the scheduler's lateness (``iteration_lateness`` p50/p99/max).

The coordinator merges one report a second on the same core; its cost is part of the figure (a real run has it too).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from loadtests.client.responder import serve_in_process
from loadtests.engine.coordinator import Coordinator, RunConfig

if TYPE_CHECKING:
    from loadtests.engine.coordinator import RunOutcome

__all__ = ("main",)

SCRIPT = Path(__file__).with_name("bench_script.py")


def _run(env: dict[str, str]) -> RunOutcome:
    os.environ.update(env)
    coordinator = Coordinator(RunConfig(script=str(SCRIPT), workers=1))
    return asyncio.run(coordinator.run())


def _p(outcome: RunOutcome, metric: str, p: float) -> float:
    return outcome.aggregate.percentile(metric, (), p) or 0.0


def _requests(outcome: RunOutcome) -> tuple[int, float]:
    values = outcome.aggregate.values("http_reqs", {})
    count = int(values.get("count", 0))
    return count, count / outcome.elapsed_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests.engine.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each run")
    parser.add_argument("--vus", type=int, default=64, help="VUs of the closed run (and the open runs' pool)")
    parser.add_argument("--open-rate", type=float, default=20_000.0, help="arrival rate of the open run")
    parser.add_argument("--lateness-rate", type=float, default=1_000.0, help="arrival rate of the lateness run")
    args = parser.parse_args(argv)
    cores = sorted(os.sched_getaffinity(0))
    client_cpu, server_cpu = (cores[0], cores[1]) if len(cores) > 1 else (None, None)
    ctx = multiprocessing.get_context("spawn")
    here, there = ctx.Pipe()
    server = ctx.Process(target=serve_in_process, args=(there, server_cpu), daemon=True)
    server.start()
    port = here.recv()
    if client_cpu is not None:
        os.sched_setaffinity(0, {client_cpu})
    base = {
        "PP_BENCH_URL": f"http://127.0.0.1:{port}/",
        "PP_BENCH_SECONDS": f"{args.seconds:g}",
        "PP_BENCH_VUS": str(args.vus),
    }
    print(f"load generator benchmark: 1 worker on CPU {client_cpu}, responder on CPU {server_cpu}", flush=True)
    try:
        closed = _run({**base, "PP_BENCH_MODE": "closed"})
        count, rate = _requests(closed)
        print(
            f"closed  {args.vus} VUs: {rate:,.0f} requests/s ({count:,} in {closed.elapsed_s:.1f}s), "
            f"p50 {_p(closed, 'http_req_duration', 50):.3f} ms, p99 {_p(closed, 'http_req_duration', 99):.3f} ms",
            flush=True,
        )
        opened = _run({**base, "PP_BENCH_MODE": "open", "PP_BENCH_RATE": f"{args.open_rate:g}"})
        count, rate = _requests(opened)
        dropped = int(opened.aggregate.values("dropped_iterations", {}).get("count", 0))
        print(
            f"open    {args.open_rate:,.0f}/s asked: {rate:,.0f} requests/s achieved, {dropped:,} dropped; "
            "corrected p99 "
            f"{_p(opened, 'http_req_duration_corrected', 99):.3f} ms, uncorrected p99 "
            f"{_p(opened, 'http_req_duration', 99):.3f} ms; scheduler lateness p99 "
            f"{_p(opened, 'scheduler_lateness', 99):.3f} ms — "
            + ("generator kept up" if not opened.health_reasons else "generator flagged: could not keep up"),
            flush=True,
        )
        late = _run(
            {**base, "PP_BENCH_MODE": "lateness", "PP_BENCH_RATE": f"{args.lateness_rate:g}", "PP_BENCH_VUS": "32"}
        )
        count, rate = _requests(late)
        print(
            f"lateness at {args.lateness_rate:,.0f}/s ({count:,} iterations): p50 "
            f"{_p(late, 'iteration_lateness', 50):.3f} ms, p99 {_p(late, 'iteration_lateness', 99):.3f} ms, max "
            f"{_p(late, 'iteration_lateness', 100):.3f} ms; loop lag p99 {_p(late, 'loop_lag', 99):.3f} ms",
            flush=True,
        )
    finally:
        server.terminate()
        server.join(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
