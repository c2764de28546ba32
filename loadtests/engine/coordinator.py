"""The run: script and options checked once, ``setup()``, workers started and merged, thresholds, ``teardown()``.

The coordinator owns everything a user sees: it validates the script before any process starts (so a bad option is
one message, not N), runs ``setup()`` and hands its JSON result to every worker, starts the workers at one common
instant, merges their interval reports into one ``Aggregate`` (lossless HDR merge), evaluates the thresholds every
``THRESHOLD_EVERY_S`` (aborting on an ``abortOnFail`` one past its ``delayAbortEval``), feeds the live progress,
and at the end judges the generator's own health before anyone reads the latency figures.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import queue as queue_module
import secrets
import signal
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiomultiprocess
import msgspec

from loadtests.durations import display_duration
from loadtests.engine import wire
from loadtests.engine.context import set_registry, use_vu
from loadtests.engine.script import load_script, script_frame
from loadtests.engine.vu import VU
from loadtests.engine.worker import run_worker
from loadtests.errors import (
    EXTERNAL_ABORT,
    SCRIPT_EXCEPTION,
    SETUP_TIMEOUT,
    TEARDOWN_TIMEOUT,
    THRESHOLDS_FAILED,
    LoadTestError,
)
from loadtests.metrics import Aggregate, Registry, abort_reasons, evaluate, metric_types, parse_thresholds
from loadtests.options import apply_overrides, describe, load_options, max_duration, max_vus
from loadtests.schedules import end_offset

if TYPE_CHECKING:
    from collections.abc import Callable

    from loadtests.engine.script import Script
    from loadtests.metrics import Threshold, ThresholdResult
    from loadtests.options import Options

__all__ = ("Coordinator", "RunConfig", "RunOutcome", "default_workers", "new_run_id")

THRESHOLD_EVERY_S = 2.0
"""k6 evaluates thresholds every 2 s during a local run; so do we."""

_READY_TIMEOUT_S = 120.0


def default_workers() -> int:
    """One worker per core minus one (the coordinator and the system need a little), at least one."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, cores - 1)


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


@dataclass
class RunConfig:
    script: str
    overrides: wire.Overrides = field(default_factory=wire.Overrides)
    workers: int = field(default_factory=default_workers)
    shard: tuple[int, int] | None = None
    mcp_url: str = "http://127.0.0.1:8080/mcp"
    mcp_headers: list[tuple[str, str]] = field(default_factory=list)
    run_id: str = field(default_factory=new_run_id)
    report_interval: float = 1.0
    max_loop_lag_ms: float = 10.0
    """A worker whose loop-lag p99 exceeds this makes the run untrustworthy."""
    max_lateness_ms: float = 10.0
    """Likewise for the p99 of how late the scheduler handed out arrival-rate iterations (its own delay, not the
    wait for a free VU, which is the server's doing and is charged to the corrected latency)."""
    no_setup: bool = False
    no_teardown: bool = False


@dataclass
class ScenarioProgress:
    busy: int = 0
    allocated: int = 0
    done: bool = False
    interrupted: int = 0


@dataclass
class RunOutcome:
    """Everything the outputs need once the run is over."""

    config: RunConfig
    script: Script
    options: Options
    aggregate: Aggregate
    thresholds: list[Threshold]
    results: list[ThresholdResult]
    started_unix: float
    ended_unix: float
    elapsed_s: float
    scenarios: dict[str, ScenarioProgress]
    errors: dict[str, int]
    tracebacks: dict[str, str]
    aborted: str | None
    exit_code: int
    health_reasons: list[str]
    targets: dict[str, float]


class Coordinator:
    def __init__(self, config: RunConfig, *, on_tick: Callable[[Coordinator], None] | None = None) -> None:
        self.config = config
        self.on_tick = on_tick
        self.on_report: Callable[[wire.Interval | wire.Done], None] | None = None
        self.script = load_script(config.script)
        o = config.overrides
        self.options = apply_overrides(
            load_options(self.script.raw_options, source=str(self.script.path)),
            vus=o.vus,
            duration=o.duration,
            iterations=o.iterations,
            rate=o.rate,
            tags=o.tags,
        )
        self.script.check_exec_functions(self.options)
        self.thresholds = parse_thresholds(self.options.thresholds, metric_types(self.script.metric_types))
        self.targets = self.script.targets
        self.aggregate = Aggregate(workers=config.workers)
        self.registry = Registry()
        set_registry(self.registry)
        self.scenarios: dict[str, dict[int, ScenarioProgress]] = {name: {} for name in self.options.scenarios}
        self.errors: dict[str, int] = {}
        self.tracebacks: dict[str, str] = {}
        self.results: list[ThresholdResult] = []
        self.started_unix = 0.0
        self.aborted: str | None = None
        self._stop_requested = 0

    # -- views for the progress display ----------------------------------------------------------------------

    @property
    def elapsed(self) -> float:
        return max(0.0, time.time() - self.started_unix) if self.started_unix else 0.0

    @property
    def total_s(self) -> float:
        return max_duration(self.options)

    def scenario_progress(self, name: str) -> ScenarioProgress:
        total = ScenarioProgress(done=True)
        parts = self.scenarios[name].values()
        for part in parts:
            total.busy += part.busy
            total.allocated += part.allocated
            total.interrupted += part.interrupted
            total.done = total.done and part.done
        if not parts:
            total.done = False
        return total

    def scenario_length(self, name: str) -> float:
        """How long the scenario schedules iterations for (from its own start)."""
        return end_offset(self.options.scenarios[name])

    def header(self) -> str:
        config = self.config
        options = self.options
        shard = f", shard {config.shard[0] + 1}/{config.shard[1]}" if config.shard else ""
        lines = [
            f"  execution: local ({config.workers} worker{'s' if config.workers != 1 else ''}{shard})",
            f"     script: {self.script.path}",
            f"     target: {config.mcp_url}",
            f"     run id: {config.run_id}",
            f"  scenarios: {len(options.scenarios)} scenario{'s' if len(options.scenarios) != 1 else ''}, "
            f"{max_vus(options)} max VUs, {display_duration(max_duration(options))} max duration "
            "(incl. graceful stop):",
        ]
        lines += [f"           * {name}: {describe(scenario)}" for name, scenario in options.scenarios.items()]
        return "\n".join(lines) + "\n"

    # -- setup / teardown ------------------------------------------------------------------------------------

    def _lifecycle_vu(self, name: str) -> VU:
        return VU(
            vu_id=0,
            scenario=name,
            run_id=self.config.run_id,
            env=dict(os.environ),
            data=None,
            registry=self.registry,
            base_tags={**self.options.tags, "scenario": name},
            mcp_url=self.config.mcp_url,
            mcp_headers=[(k.encode(), v.encode()) for k, v in self.config.mcp_headers],
        )

    async def _call_lifecycle(self, name: str, args: tuple[Any, ...], limit_s: float, code: int) -> Any:
        fn = self.script.function(name)
        if fn is None:
            return None
        vu = self._lifecycle_vu(name)
        use_vu(vu)
        params = len(inspect.signature(fn).parameters)
        call_args = (*args, vu)[:params] if name == "setup" else args[:params]
        try:
            result = fn(*call_args)
            if inspect.isawaitable(result):
                result = await asyncio.wait_for(result, limit_s)
        except TimeoutError:
            raise LoadTestError(f"{name}() did not finish within {limit_s:g}s", code=code) from None
        except LoadTestError:
            raise
        except Exception as error:
            raise LoadTestError(
                f"{name}() failed: {type(error).__name__}: {error}",
                code=SCRIPT_EXCEPTION,
                where=script_frame(error, self.script.path),
            ) from None
        finally:
            use_vu(None)
            await vu.close()
        return result

    async def setup(self) -> bytes:
        if self.config.no_setup:
            return b"null"
        data = await self._call_lifecycle("setup", (), self.options.setup_timeout, SETUP_TIMEOUT)
        try:
            return msgspec.json.encode(data)
        except (TypeError, msgspec.EncodeError) as error:
            raise LoadTestError(
                f"setup() must return JSON data (it reaches every VU by value): {error}", code=SCRIPT_EXCEPTION
            ) from None

    async def teardown(self, data: bytes) -> None:
        if self.config.no_teardown:
            return
        await self._call_lifecycle(
            "teardown", (msgspec.json.decode(data),), self.options.teardown_timeout, TEARDOWN_TIMEOUT
        )

    # -- the run -------------------------------------------------------------------------------------------------

    def request_stop(self, reason: str) -> None:
        self._stop_requested += 1
        if self.aborted is None:
            self.aborted = reason

    def _absorb(self, message: wire.Message) -> None:
        if isinstance(message, wire.Interval | wire.Done):
            if self.on_report is not None:
                self.on_report(message)
            self.aggregate.merge_report(message.report)
            for name, state in message.scenarios.items():
                self.scenarios[name][message.worker] = ScenarioProgress(
                    state.busy, state.allocated, state.done, state.interrupted
                )
            for key, count in message.errors.items():
                self.errors[key] = self.errors.get(key, 0) + count
        if isinstance(message, wire.Done):
            self.tracebacks.update(message.tracebacks)

    def _drain_own(self) -> None:
        """Merge what setup() and teardown() recorded.

        Not during the run: a report from a process that does not report every second would close the timeline's
        seconds before the workers' reports for them arrive.
        """
        report = self.registry.drain(time.time())
        report.worker = -1
        self.aggregate.merge_report(report)

    async def run(self) -> RunOutcome:
        config = self.config
        setup_data = await self.setup()
        self._drain_own()
        ctx = aiomultiprocess.core.get_context()
        messages: Any = ctx.Queue()
        start_event = ctx.Event()
        stop_event = ctx.Event()
        start_at = ctx.Value("d", 0.0)
        workers = []
        for index in range(config.workers):
            plan = wire.WorkerPlan(
                run_id=config.run_id,
                worker=index,
                workers=config.workers,
                shard=config.shard,
                script=str(self.script.path.resolve()),
                overrides=config.overrides,
                mcp_url=config.mcp_url,
                mcp_headers=config.mcp_headers,
                setup_data=setup_data,
                report_interval=config.report_interval,
            )
            worker = aiomultiprocess.Worker(
                target=run_worker,
                args=(msgspec.msgpack.encode(plan), messages, start_event, start_at, stop_event),
                loop_initializer=_uvloop_factory(),
            )
            worker.start()
            workers.append(worker)
        loop = asyncio.get_running_loop()
        installed = _install_signals(loop, self)
        try:
            await self._await_ready(messages, workers, stop_event)
            self.started_unix = time.time() + 0.25
            start_at.value = self.started_unix
            start_event.set()
            await self._supervise(messages, workers, stop_event)
        finally:
            stop_event.set()
            for worker in workers:
                if worker.is_alive():
                    await asyncio.wait_for(worker.join(), 30.0)
            _remove_signals(loop, installed)
        ended = time.time()
        elapsed = max(1e-9, ended - self.started_unix)
        if self.aborted != "interrupted":
            await self.teardown(setup_data)
        self._drain_own()
        self.aggregate.flush()
        self.results = evaluate(self.thresholds, self.aggregate, elapsed)
        reasons = generator_health(self.aggregate, config)
        failed = any(not r.ok for r in self.results)
        if self.aborted == "interrupted":
            code = EXTERNAL_ABORT
        elif failed:
            code = THRESHOLDS_FAILED
        else:
            code = 0
        return RunOutcome(
            config=config,
            script=self.script,
            options=self.options,
            aggregate=self.aggregate,
            thresholds=self.thresholds,
            results=self.results,
            started_unix=self.started_unix,
            ended_unix=ended,
            elapsed_s=elapsed,
            scenarios={name: self.scenario_progress(name) for name in self.scenarios},
            errors=self.errors,
            tracebacks=self.tracebacks,
            aborted=self.aborted,
            exit_code=code,
            health_reasons=reasons,
            targets=self.targets,
        )

    async def _next(self, messages: Any, wait_s: float) -> wire.Message | None:
        try:
            data = await asyncio.to_thread(messages.get, True, wait_s)
        except queue_module.Empty:
            return None
        return wire.decode(data)

    async def _await_ready(self, messages: Any, workers: list[Any], stop_event: Any) -> None:
        ready: set[int] = set()
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while len(ready) < len(workers):
            if self._stop_requested:
                raise LoadTestError("interrupted before the test started", code=EXTERNAL_ABORT)
            if time.monotonic() > deadline:
                raise LoadTestError(f"the workers did not start within {_READY_TIMEOUT_S:g}s", code=SCRIPT_EXCEPTION)
            message = await self._next(messages, 0.2)
            if isinstance(message, wire.Failed):
                raise LoadTestError(message.message, code=message.code, where=message.where)
            if isinstance(message, wire.Ready):
                ready.add(message.worker)
            elif message is None and any(not w.is_alive() for w in workers):
                raise LoadTestError("a worker process died while starting", code=SCRIPT_EXCEPTION)

    async def _supervise(self, messages: Any, workers: list[Any], stop_event: Any) -> None:
        done: set[int] = set()
        next_eval = time.time() + THRESHOLD_EVERY_S
        hard_deadline = self.started_unix + max_duration(self.options) + 30.0
        while len(done) < len(workers):
            message = await self._next(messages, 0.1)
            if message is not None:
                if isinstance(message, wire.Failed):
                    raise LoadTestError(message.message, code=message.code, where=message.where)
                self._absorb(message)
                if isinstance(message, wire.Done):
                    done.add(message.worker)
            now = time.time()
            if self._stop_requested:
                stop_event.set()
            if now >= next_eval:
                next_eval = now + THRESHOLD_EVERY_S
                self.results = evaluate(self.thresholds, self.aggregate, self.elapsed)
                aborting = abort_reasons(self.results, self.elapsed)
                if aborting and self.aborted is None:
                    failed = ", ".join(f"{r.threshold.key} '{r.threshold.expression}'" for r in aborting)
                    self.aborted = f"threshold {failed} failed (abortOnFail)"
                    stop_event.set()
            if self.on_tick is not None:
                self.on_tick(self)
            if now > hard_deadline and not stop_event.is_set():
                self.request_stop("the run overran its scheduled length")
                stop_event.set()
            if message is None and len(done) < len(workers) and all(not w.is_alive() for w in workers):
                raise LoadTestError("every worker process died", code=SCRIPT_EXCEPTION)


def generator_health(aggregate: Aggregate, config: RunConfig) -> list[str]:
    """Why this run's latency figures cannot be trusted (empty when they can)."""
    reasons = []
    lag = aggregate.percentile("loop_lag", (), 99.0) or 0.0
    late = aggregate.percentile("scheduler_lateness", (), 99.0) or 0.0
    if lag > config.max_loop_lag_ms:
        reasons.append(
            f"the load generator's event loop lagged (p99 {lag:.1f} ms > {config.max_loop_lag_ms:g} ms): "
            "it was too busy to send and read on time — use more workers or machines, or a lower rate"
        )
    if late > config.max_lateness_ms:
        reasons.append(
            f"the scheduler handed out arrival-rate iterations late (p99 {late:.1f} ms > "
            f"{config.max_lateness_ms:g} ms): the generator could not keep the schedule — use more workers or "
            "machines, or a lower rate"
        )
    return reasons


def _uvloop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return None
    return uvloop.new_event_loop


def _install_signals(loop: asyncio.AbstractEventLoop, coordinator: Coordinator) -> list[int]:
    installed: list[int] = []

    def on_signal() -> None:
        coordinator.request_stop("interrupted")
        if coordinator._stop_requested > 1:  # a second Ctrl-C: stop waiting for graceful ends
            raise KeyboardInterrupt

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - not the main thread
            pass
    return installed


def _remove_signals(loop: asyncio.AbstractEventLoop, installed: list[int]) -> None:
    for sig in installed:
        loop.remove_signal_handler(sig)
