"""One load-generator process: loads the script, builds its share of every scenario's VUs, runs, reports.

Started by the coordinator with aiomultiprocess (spawn, one uvloop loop). It says ``Ready`` once its VUs exist,
waits for the common start time (wall clock, converted once to its own ``perf_counter``), then every
``report_interval`` drains its metrics into an ``Interval`` message, and ends with ``Done`` (or ``Failed`` with a
user-facing message). The coordinator's stop event ends the run early (abortOnFail, Ctrl-C).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import TYPE_CHECKING, Any

import msgspec

from loadtests.engine.context import set_registry
from loadtests.engine.executors import ScenarioRunner, ScriptErrors
from loadtests.engine.script import load_script
from loadtests.engine.timing import LagProbe
from loadtests.engine.vu import VU
from loadtests.engine.wire import Done, Failed, Interval, Ready, ScenarioState, WorkerPlan
from loadtests.errors import SCRIPT_EXCEPTION, LoadTestError
from loadtests.metrics import Registry
from loadtests.options import (
    ConstantArrivalRate,
    ConstantVUs,
    RampingArrivalRate,
    RampingVUs,
    apply_overrides,
    load_options,
)
from loadtests.schedules import iteration_plan, vu_plan
from loadtests.segments import Segment

if TYPE_CHECKING:
    from multiprocessing.queues import Queue
    from multiprocessing.sharedctypes import Synchronized
    from multiprocessing.synchronize import Event

    from loadtests.engine.script import Script
    from loadtests.options import Options, Scenario

__all__ = ("WorkerRun", "plan_segment", "run_worker", "vu_environment")

_encode = msgspec.msgpack.Encoder().encode


def plan_segment(plan: WorkerPlan) -> Segment:
    segment = Segment.whole()
    if plan.shard is not None:
        segment = segment.child(*plan.shard)
    return segment.child(plan.worker, plan.workers)


def vu_environment(scenario: Scenario) -> dict[str, str]:
    """k6's ``__ENV``: the process environment with the scenario's ``env`` on top."""
    return {**os.environ, **scenario.env}


def preallocated(scenario: Scenario, segment: Segment) -> int:
    """How many VUs this segment needs before the start (k6 allocates them up front too)."""
    if isinstance(scenario, ConstantArrivalRate | RampingArrivalRate):
        return segment.share(scenario.pre_allocated_vus)
    if isinstance(scenario, ConstantVUs | RampingVUs):
        return max((count for _, count in vu_plan(scenario, segment)), default=0)
    return iteration_plan(scenario, segment)[0]


class WorkerRun:
    """The state of one worker's run; also used in-process by tests and the benchmark."""

    def __init__(self, plan: WorkerPlan, script: Script, options: Options) -> None:
        self.plan = plan
        self.script = script
        self.options = options
        self.registry = Registry()
        set_registry(self.registry)
        self.segment = plan_segment(plan)
        self._vus = self.registry.gauge("vus")
        self._vus_max = self.registry.gauge("vus_max")
        self.errors = ScriptErrors()
        self.stop = asyncio.Event()
        shards = plan.shard[1] if plan.shard else 1
        shard = plan.shard[0] if plan.shard else 0
        self._stride = shards * plan.workers
        self._ordinal = shard * plan.workers + plan.worker
        self._next_vu = 0
        self._data: Any = msgspec.json.decode(plan.setup_data)
        self.runners = [
            ScenarioRunner(
                name,
                scenario,
                segment=self.segment,
                registry=self.registry,
                exec_fn=script.exec_function(scenario.exec, name),
                new_vu=self._new_vu,
                errors=self.errors,
                script_path=str(script.path),
                stop=self.stop,
            )
            for name, scenario in options.scenarios.items()
        ]
        for runner in self.runners:
            runner.allocate(preallocated(runner.scenario, self.segment))

    def _new_vu(self, name: str, scenario: Scenario) -> VU:
        vu_id = self._next_vu * self._stride + self._ordinal + 1
        self._next_vu += 1
        tags = {**self.options.tags, **scenario.tags, "scenario": name}
        return VU(
            vu_id=vu_id,
            scenario=name,
            run_id=self.plan.run_id,
            env=vu_environment(scenario),
            data=self._data,
            registry=self.registry,
            base_tags=tags,
            mcp_url=self.plan.mcp_url,
            mcp_headers=[(k.encode(), v.encode()) for k, v in self.plan.mcp_headers],
            seed=hash((self.plan.run_id, vu_id)) & 0xFFFFFFFF,
        )

    @property
    def vus(self) -> int:
        return sum(len(r.vus) for r in self.runners)

    def states(self) -> dict[str, ScenarioState]:
        return {r.name: ScenarioState(r.busy, len(r.vus), r.done, r.interrupted) for r in self.runners}

    def interval(self) -> Interval:
        self._vus.set(float(sum(r.busy for r in self.runners)))
        self._vus_max.set(float(self.vus))
        report = self.registry.drain(time.time())
        report.worker = self.plan.worker
        return Interval(worker=self.plan.worker, report=report, scenarios=self.states(), errors=self.errors.drain())

    async def run(self, t0: float) -> None:
        probe = LagProbe(self.registry.trend("loop_lag", {}))
        probe.start()
        try:
            await asyncio.gather(*(runner.run(t0) for runner in self.runners))
        finally:
            await probe.stop()

    async def close(self) -> None:
        await asyncio.gather(*(runner.close() for runner in self.runners), return_exceptions=True)


async def _reporter(run: WorkerRun, queue: Queue[bytes], interval: float, t0: float) -> None:
    n = 1
    while True:
        await asyncio.sleep(max(0.0, t0 + n * interval - time.perf_counter()))
        n += 1
        queue.put(_encode(run.interval()))


async def _watch_stop(run: WorkerRun, stop_event: Event, parent: int) -> None:
    """Stop on the coordinator's word, or when the coordinator is gone (a worker must not outlive its run)."""
    while not stop_event.is_set() and os.getppid() == parent:  # noqa: ASYNC110 - a process-shared event
        await asyncio.sleep(0.05)
    run.stop.set()


async def run_worker(
    plan_bytes: bytes, queue: Queue[bytes], start_event: Event, start_at: Synchronized[float], stop_event: Event
) -> None:
    """The worker process's entry point (an aiomultiprocess target)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the coordinator's to handle: it stops us in order
    parent = os.getppid()
    plan = msgspec.msgpack.decode(plan_bytes, type=WorkerPlan)
    try:
        script = load_script(plan.script)
        o = plan.overrides
        options = apply_overrides(
            load_options(script.raw_options, source=str(script.path)),
            vus=o.vus,
            duration=o.duration,
            iterations=o.iterations,
            rate=o.rate,
            tags=o.tags,
        )
        run = WorkerRun(plan, script, options)
    except LoadTestError as error:
        queue.put(_encode(Failed(worker=plan.worker, message=error.message, code=error.code, where=error.where)))
        return
    except Exception as error:
        message = f"worker {plan.worker} could not start: {type(error).__name__}: {error}"
        queue.put(_encode(Failed(worker=plan.worker, message=message, code=SCRIPT_EXCEPTION)))
        return
    queue.put(_encode(Ready(worker=plan.worker, vus=run.vus)))
    while not start_event.wait(0.05):
        if stop_event.is_set():
            await run.close()
            return
    t0 = time.perf_counter() + (start_at.value - time.time())
    helpers = [
        asyncio.ensure_future(_reporter(run, queue, plan.report_interval, t0)),
        asyncio.ensure_future(_watch_stop(run, stop_event, parent)),
    ]
    try:
        await run.run(t0)
    finally:
        for task in helpers:
            task.cancel()
        await asyncio.gather(*helpers, return_exceptions=True)
        final = run.interval()
        queue.put(
            _encode(
                Done(
                    worker=plan.worker,
                    report=final.report,
                    scenarios=final.scenarios,
                    errors=final.errors,
                    tracebacks=dict(run.errors.first_trace),
                )
            )
        )
        await run.close()
