"""k6's six executors, run on one worker's event loop from the schedules in ``loadtests.schedules``.

The schedule says *when* (iteration start times for the open model, VU counts over time for the closed one, counts
for the iteration executors) for this worker's share of the scenario; this module makes it happen with VUs:

* **arrival rate** (constant, ramping): each due start takes a free VU from the pool, allocating one up to this
  worker's share of ``maxVUs``. With every VU busy, k6 drops the iteration — and the latency it would have seen is
  never measured. Here it waits in a backlog (at most one second of arrivals, or ``maxVUs`` if larger) for the next
  VU to finish, as wrk2 queues requests, and is charged the wait: its requests' ``http_req_duration_corrected``
  runs from the *intended* start, and ``iteration_lateness`` records how late it began. Beyond the backlog, and
  whatever is still waiting at the end, counts as ``dropped_iterations``.
* **VUs** (constant, ramping): a loop per active VU; when the target drops, the extra VUs finish their iteration
  (up to ``gracefulRampDown``) and stop.
* **iterations** (per-VU, shared): fixed work, bounded by ``maxDuration``; what is left at the deadline is dropped.

At the end (or on abort) in-flight iterations get ``gracefulStop`` and are then interrupted (cancelled, counted).
An exception in an iteration ends that iteration only; it is counted and reported with the script's line.
"""

from __future__ import annotations

import asyncio
import math
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loadtests.engine.context import use_vu
from loadtests.engine.timing import sleep_until
from loadtests.options import (
    ConstantArrivalRate,
    ConstantVUs,
    PerVUIterations,
    RampingArrivalRate,
    RampingVUs,
    Scenario,
    SharedIterations,
)
from loadtests.schedules import arrival_offsets, end_offset, iteration_plan, planned_arrivals, vu_plan

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Coroutine

    from loadtests.engine.vu import VU
    from loadtests.metrics import CounterSeries, Registry, TrendSeries
    from loadtests.segments import Segment

__all__ = ("ScenarioRunner", "ScriptErrors")

_YIELD_EVERY = 64
"""Starts issued back to back (the generator is behind) before yielding to the loop once."""

_ABORT_GRACE_S = 1.0


@dataclass
class ScriptErrors:
    """Exceptions raised by iterations, by message and script line: counted, the first traceback kept."""

    by_key: dict[str, int] = field(default_factory=dict)
    first_trace: dict[str, str] = field(default_factory=dict)

    def record(self, error: BaseException, script_path: str) -> None:
        frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == script_path]
        where = f"{script_path}:{frames[-1].lineno}" if frames else script_path
        key = f"{where}: {type(error).__name__}: {error}"
        self.by_key[key] = self.by_key.get(key, 0) + 1
        if key not in self.first_trace:
            self.first_trace[key] = "".join(traceback.format_exception(error))

    def drain(self) -> dict[str, int]:
        out, self.by_key = self.by_key, {}
        return out


class ScenarioRunner:
    """One scenario's share on this worker: its VUs, its schedule and its counters."""

    def __init__(
        self,
        name: str,
        scenario: Scenario,
        *,
        segment: Segment,
        registry: Registry,
        exec_fn: Callable[[VU], Coroutine[Any, Any, Any]],
        new_vu: Callable[[str, Scenario], VU],
        errors: ScriptErrors,
        script_path: str,
        stop: asyncio.Event,
    ) -> None:
        self.name = name
        self.scenario = scenario
        self._segment = segment
        self._exec = exec_fn
        self._new_vu = new_vu
        self._errors = errors
        self._script_path = script_path
        self._stop = stop
        tags = {"scenario": name, **scenario.tags}
        self._iterations: CounterSeries = registry.counter("iterations", tags)
        self._duration: TrendSeries = registry.trend("iteration_duration", tags)
        self._lateness: TrendSeries = registry.trend("iteration_lateness", tags)
        self._scheduler_lateness: TrendSeries = registry.trend("scheduler_lateness", tags)
        self._dropped: CounterSeries = registry.counter("dropped_iterations", tags)
        self._tasks: set[asyncio.Task[None]] = set()
        self.vus: list[VU] = []
        self.busy = 0
        self.interrupted = 0
        self.done = False
        self._fell_behind = False

    # -- VUs ---------------------------------------------------------------------------------------------------

    def allocate(self, count: int) -> list[VU]:
        fresh = [self._new_vu(self.name, self.scenario) for _ in range(count)]
        self.vus.extend(fresh)
        return fresh

    async def close(self) -> None:
        await asyncio.gather(*(vu.close() for vu in self.vus), return_exceptions=True)

    # -- one iteration -----------------------------------------------------------------------------------------

    async def _iteration(self, vu: VU, intended: float, *, arrival: bool) -> bool:
        """Run one iteration; False when it raised (the VU carries on, as in k6)."""
        started = time.perf_counter()
        vu.intended_start = intended
        lateness = max(0.0, started - intended) * 1e3 if arrival else 0.0
        vu.lateness_ms = lateness
        if arrival:
            self._lateness.add(lateness)
        use_vu(vu)
        self.busy += 1
        ok = True
        try:
            await self._exec(vu)
        except asyncio.CancelledError:
            self.interrupted += 1
            raise
        except Exception as error:
            self._errors.record(error, self._script_path)
            ok = False
        finally:
            self.busy -= 1
            vu.iteration += 1
            if vu.group:
                vu.enter_group("")
        self._iterations.add(1.0)
        self._duration.add((time.perf_counter() - started) * 1e3)
        return ok

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _finish(self, grace: float) -> None:
        """Give in-flight iterations ``grace`` seconds, then interrupt them."""
        if self._tasks:
            grace = min(grace, _ABORT_GRACE_S) if self._stop.is_set() else grace
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        self.done = True

    async def _wait_stop_or(self, deadline: float) -> bool:
        """Sleep until ``deadline``; True if the run was stopped first."""
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return self._stop.is_set()
        try:
            await asyncio.wait_for(self._stop.wait(), remaining)
        except TimeoutError:
            return False
        return True

    # -- executors ---------------------------------------------------------------------------------------------

    async def run(self, t0: float) -> None:
        """Run the scenario with the test starting at ``perf_counter() == t0``."""
        start = t0 + self.scenario.start_time
        if await self._wait_stop_or(start):
            self.done = True
            return
        scenario = self.scenario
        if isinstance(scenario, ConstantArrivalRate | RampingArrivalRate):
            await self._run_arrival(start, scenario)
        elif isinstance(scenario, ConstantVUs | RampingVUs):
            await self._run_vus(start, scenario)
        else:
            await self._run_iterations(start, scenario)

    async def _run_arrival(self, start: float, scenario: ConstantArrivalRate | RampingArrivalRate) -> None:
        pool = list(self.vus)
        max_local = self._segment.share(scenario.max_vus)
        backlog: deque[float] = deque()
        backlog_cap = max(max_local, math.ceil(_peak_rate_per_s(scenario) / self._segment.stride))
        stop = self._stop

        async def iterate(vu: VU, due: float) -> None:
            try:
                await self._iteration(vu, due, arrival=True)
            finally:
                if backlog and not stop.is_set():
                    self._spawn(iterate(vu, backlog.popleft()))
                else:
                    pool.append(vu)

        issued = 0
        async for due in self._due_times(start, scenario):
            issued += 1
            if pool:
                vu = pool.pop()
            elif len(self.vus) < max_local:
                vu = self.allocate(1)[0]
            elif len(backlog) < backlog_cap:
                backlog.append(due)  # started, late, by the next VU to finish, and charged the wait
                continue
            else:
                self._dropped.add(1.0)
                continue
            self._spawn(iterate(vu, due))
        if self._fell_behind:  # the generator fell behind its own schedule: what it never issued is dropped
            self._dropped.add(float(planned_arrivals(scenario, self._segment) - issued))
        await self._wait_stop_or(start + end_offset(scenario))
        if backlog:
            self._dropped.add(float(len(backlog)))
            backlog.clear()
        await self._finish(scenario.graceful_stop)

    async def _due_times(
        self, start: float, scenario: ConstantArrivalRate | RampingArrivalRate
    ) -> AsyncIterator[float]:
        """Each due start, when it is due (or at once when late), recording how late the scheduler handed it out.

        Stops at the end of the schedule: a generator that fell so far behind that its schedule ran out of time does
        not go on issuing past it (``_fell_behind``); the iterations it never issued are dropped.
        """
        stop = self._stop
        clock = time.perf_counter
        stop_issuing = start + end_offset(scenario)
        scheduler_late = self._scheduler_lateness.add
        behind = 0
        self._fell_behind = False
        for offset in arrival_offsets(scenario, self._segment):
            if stop.is_set():
                return
            due = start + offset
            now = clock()
            if due > now:
                behind = 0
                await sleep_until(due)
                if stop.is_set():
                    return
                now = clock()
            elif now > stop_issuing:
                self._fell_behind = True
                return
            else:
                behind += 1
                if behind % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)
            scheduler_late((now - due) * 1e3)
            yield due

    async def _run_vus(self, start: float, scenario: ConstantVUs | RampingVUs) -> None:
        stop = self._stop
        running: list[asyncio.Event] = []
        grace = scenario.graceful_ramp_down if isinstance(scenario, RampingVUs) else scenario.graceful_stop

        async def loop(vu: VU, quit_: asyncio.Event) -> None:
            while not quit_.is_set() and not stop.is_set():
                await self._iteration(vu, time.perf_counter(), arrival=False)

        idle = list(self.vus)
        loops: dict[asyncio.Event, tuple[VU, asyncio.Task[None]]] = {}
        for at, target in vu_plan(scenario, self._segment):
            if await self._wait_stop_or(start + at):
                break
            while len(running) < target:
                vu = idle.pop() if idle else self.allocate(1)[0]
                quit_ = asyncio.Event()
                task = asyncio.get_running_loop().create_task(loop(vu, quit_))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                running.append(quit_)
                loops[quit_] = (vu, task)
            while len(running) > target:
                quit_ = running.pop()
                quit_.set()
                vu, task = loops.pop(quit_)
                idle.append(vu)
                if target > 0:  # a ramp-down: the removed VU may finish its iteration for gracefulRampDown
                    asyncio.get_running_loop().call_later(grace, task.cancel)
        for quit_ in running:
            quit_.set()
        await self._finish(scenario.graceful_stop)

    async def _run_iterations(self, start: float, scenario: PerVUIterations | SharedIterations) -> None:
        vus, total = iteration_plan(scenario, self._segment)
        if len(self.vus) < vus:
            self.allocate(vus - len(self.vus))
        remaining = [total]
        per_vu = scenario.executor == "per-vu-iterations"
        quota = (
            {vu.id: (total // vus + (1 if i < total % vus else 0)) for i, vu in enumerate(self.vus[:vus])}
            if (per_vu and vus)
            else {}
        )

        async def loop(vu: VU) -> None:
            while not self._stop.is_set():
                if per_vu:
                    if quota[vu.id] <= 0:
                        return
                    quota[vu.id] -= 1
                elif remaining[0] <= 0:
                    return
                remaining[0] -= 1
                await self._iteration(vu, time.perf_counter(), arrival=False)

        for vu in self.vus[:vus]:
            self._spawn(loop(vu))
        deadline = start + scenario.max_duration
        if self._tasks:
            stop_wait: asyncio.Future[Any] = asyncio.ensure_future(self._stop.wait())
            waiting: set[asyncio.Future[Any]] = {*self._tasks, stop_wait}
            timeout = max(0.0, deadline - time.perf_counter())
            while len(waiting) > 1 and not stop_wait.done():
                done, waiting = await asyncio.wait(waiting, timeout=timeout, return_when="FIRST_COMPLETED")
                timeout = max(0.0, deadline - time.perf_counter())
                if not done:
                    break
            stop_wait.cancel()
        await self._finish(scenario.graceful_stop)
        left = sum(quota.values()) if per_vu else remaining[0]
        if left > 0:
            self._dropped.add(float(left))


def _peak_rate_per_s(scenario: ConstantArrivalRate | RampingArrivalRate) -> float:
    if isinstance(scenario, RampingArrivalRate):
        peak = max([scenario.start_rate, *(stage.target for stage in scenario.stages)])
    else:
        peak = scenario.rate
    return float(peak) / scenario.time_unit
