"""``python -m loadtests.metrics.bench [rounds]``: what recording and the once-a-second drain/merge cost (seconds).

Hot-path figures are per call, recorded in interval-sized batches with a drain between batches (as a worker does),
so an interval's buckets stay as small as they are in a run. The drain/merge figures are one worker's second for
100 series (60 trends with 500 samples each, all with trace ids, 20 counters, 20 rates): drain, msgpack across the
process boundary, merge into the coordinator (whose second closes at once: one worker). Medians over the rounds,
with the worst round, since the machine is shared; only the public API is used, so the same file measures an older
implementation too.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from typing import TYPE_CHECKING

import msgspec

from loadtests.metrics.aggregate import Aggregate
from loadtests.metrics.series import IntervalReport, Registry

if TYPE_CHECKING:
    from collections.abc import Callable

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
BATCH = 2000


def _per_call(label: str, batch: Callable[[int], None], between: Callable[[], None], rounds: int) -> None:
    """Median ns per call over ``rounds`` timed batches of ``BATCH`` calls, ``between`` (untimed) after each."""
    batch(BATCH)  # warm up
    between()
    costs = []
    for _ in range(rounds):
        started = time.perf_counter()
        batch(BATCH)
        costs.append((time.perf_counter() - started) / BATCH)
        between()
    sys.stdout.write(f"{label:<64} {statistics.median(costs) * 1e9:8.0f} ns/call\n")


def _trend_paths(values: list[float], rounds: int) -> None:
    registry = Registry()
    trend = registry.trend("http_req_duration", {"tool": "search"})
    fresh = [Registry().trend("http_req_duration")]

    def drain() -> None:
        registry.drain(time.time())

    def plain(k: int) -> None:
        add = trend.add
        for i in range(k):
            add(values[i & 1023])

    def traced(k: int) -> None:
        add = trend.add
        for i in range(k):
            add(values[i & 1023], TRACE)

    def first_interval(k: int) -> None:  # a series' first second: floor 0, every traced sample is a candidate
        add = fresh[0].add
        for i in range(k):
            add(values[i & 1023], TRACE)

    def new_series() -> None:
        fresh[0] = Registry().trend("http_req_duration")

    _per_call("TrendSeries.add(value)", plain, drain, rounds)
    _per_call("TrendSeries.add(value, trace_id), floor = p95", traced, drain, rounds)
    _per_call("TrendSeries.add(value, trace_id), first interval (floor 0)", first_interval, new_series, rounds)


def _other_paths(values: list[float], rounds: int) -> None:
    registry = Registry()
    counter = registry.counter("http_reqs", {"tool": "search"})
    rate = registry.rate("http_req_failed", {"tool": "search"})

    def drain() -> None:
        registry.drain(time.time())

    def counter_add(k: int) -> None:
        add = counter.add
        for _ in range(k):
            add(1.0)

    def rate_add(k: int) -> None:
        add = rate.add
        for i in range(k):
            add(i & 7 == 0)

    def empty_loop(k: int) -> None:
        for i in range(k):
            values[i & 1023]  # the loop and the indexing the others pay too

    _per_call("(empty loop: included in the figures below)", empty_loop, drain, rounds)
    _per_call("CounterSeries.add(1.0)", counter_add, drain, rounds)
    _per_call("RateSeries.add(ok)", rate_add, drain, rounds)


def _drain_and_merge(rounds: int) -> None:
    rng = random.Random(1)
    registry = Registry()
    aggregate = Aggregate(workers=1)
    trends = [registry.trend("mcp_tool_duration", {"tool": f"t{i}"}) for i in range(60)]
    counters = [registry.counter("mcp_tool_calls", {"tool": f"t{i}"}) for i in range(20)]
    rates = [registry.rate("mcp_tool_errors", {"tool": f"t{i}"}) for i in range(20)]
    steps: dict[str, list[float]] = {"drain": [], "encode": [], "free": [], "decode": [], "merge": []}
    size = 0
    for second in range(rounds):
        for trend in trends:
            for _ in range(500):
                trend.add(rng.lognormvariate(3, 1), TRACE)
        for counter in counters:
            counter.add(3.0)
        for rate in rates:
            rate.add(True)
        t0 = time.perf_counter()
        report = registry.drain(1000.0 + second)
        t1 = time.perf_counter()
        blob = msgspec.msgpack.encode(report)
        t2 = time.perf_counter()
        del report  # the worker drops what it sent: freeing every bucket it counted
        t3 = time.perf_counter()
        received = msgspec.msgpack.decode(blob, type=IntervalReport)
        t4 = time.perf_counter()
        aggregate.merge_report(received)
        t5 = time.perf_counter()
        del received
        for step, cost in zip(steps.values(), (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True):
            step.append(cost)
        size += len(blob)
    sys.stdout.write(f"{'per second of one worker, 100 series':<64} {'median':>7} {'worst':>7}\n")
    for label, costs in (
        ("Registry.drain (worker loop)", steps["drain"]),
        ("msgpack encode of the report (worker loop)", steps["encode"]),
        ("dropping the sent report (worker loop)", steps["free"]),
        ("msgpack decode of the report (coordinator)", steps["decode"]),
        ("Aggregate.merge_report (coordinator)", steps["merge"]),
    ):
        sys.stdout.write(f"{label:<64} {statistics.median(costs) * 1e3:7.2f} {max(costs) * 1e3:7.2f} ms\n")
    sys.stdout.write(f"{'report size':<64} {size / rounds / 1024:7.1f} KiB\n")


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    sys.stdout.write(f"Python {sys.version.split()[0]}, {rounds} rounds\n")
    rng = random.Random(2)
    values = [rng.lognormvariate(3, 1) for _ in range(1024)]
    _other_paths(values, rounds * 5)
    _trend_paths(values, rounds * 5)
    _drain_and_merge(rounds)


if __name__ == "__main__":
    main()
