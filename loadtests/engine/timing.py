"""The scheduler's clock: waking on time to well under a millisecond, and measuring when the loop could not.

A plain ``asyncio.sleep`` on uvloop wakes 1.0–1.5 ms late (libuv's timers have millisecond granularity), which
would be the floor of every corrected latency. So ``sleep_until`` sleeps on the timer only up to ``SPIN_S`` before
the deadline and then yields to the loop (``sleep(0)``: I/O and other tasks still run) until the deadline passes.
The cost is CPU on the worker's core while an arrival is near; that core is the load generator's anyway.

``LagProbe`` is the generator's health gauge: a task that asks to wake every ``interval`` and records how late it
woke (``loop_lag``). A loop that is late to wake is also late to send and to read responses; a run whose workers
lagged is reported as not trustworthy rather than blamed on the server.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loadtests.metrics import TrendSeries

__all__ = ("SPIN_S", "LagProbe", "sleep_until")

SPIN_S = 0.0015
"""How close to a deadline the scheduler stops trusting the timer and yields instead."""


async def sleep_until(deadline: float) -> None:
    """Return as soon as possible after ``perf_counter() >= deadline``."""
    clock = time.perf_counter
    while True:
        remaining = deadline - clock()
        if remaining <= 0:
            return
        await asyncio.sleep(remaining - SPIN_S if remaining > SPIN_S * 2 else 0)


class LagProbe:
    """Records the event loop's lag every ``interval`` seconds into a ``loop_lag`` trend (ms).

    The lag is how late a timer fires: a loop busy running callbacks (or blocked by a script's synchronous work)
    wakes its timers late, and reads responses and starts iterations late by as much. The timer's own granularity
    (about 1 ms on uvloop) is part of every sample; the health limit (10 ms by default) is far above it.
    """

    def __init__(self, series: TrendSeries, interval: float = 0.02) -> None:
        self._series = series
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-lag-probe")

    async def _run(self) -> None:
        clock = time.perf_counter
        interval = self._interval
        record = self._series.add
        while True:
            due = clock() + interval
            await asyncio.sleep(interval)
            record(max(0.0, clock() - due) * 1e3)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
