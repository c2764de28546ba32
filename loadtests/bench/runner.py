"""``run_bench``: the stack (embedded or ``--target``), the metrics sampler, every phase in order, the result.

Order: **cold** (first, on the untouched stack) → **warmup** → baseline → load → cache → stress → memory →
capacity (last: it overloads the service on purpose). Whatever happens — a failed run, Ctrl-C — the sampler and
an embedded stack are stopped, and the phases measured so far are returned with ``aborted`` saying why.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from loadtests.bench.memory import MetricsSampler
from loadtests.bench.phases import BenchContext, BenchInterruptedError, Phases
from loadtests.bench.result import BenchResult
from loadtests.engine.coordinator import default_workers, new_run_id
from loadtests.errors import LoadTestError
from loadtests.stack import EmbeddedStack

if TYPE_CHECKING:
    from collections.abc import Callable

    from loadtests.bench.options import BenchOptions
    from loadtests.bench.result import CacheImprovement, CapacityResult, MemoryResult, PhaseResult

__all__ = ("BenchStack", "run_bench")

_REDIS_CHOICES = ("PP_REDIS_URL", "PP_SERVE_LOCAL_REDIS")


class BenchStack(EmbeddedStack):
    """The embedded stack with a private Redis unless the user chose one: no key cached by an earlier run."""

    def __init__(self, workdir: Path, *, private_redis: bool) -> None:
        super().__init__(workdir)
        self.private_redis = private_redis

    def environment(self) -> dict[str, str]:
        env = super().environment()
        if self.private_redis and not any(name in os.environ for name in _REDIS_CHOICES):
            env["PP_SERVE_LOCAL_REDIS"] = "none"  # skip the machine's Redis: a private one, or in-process
        return env

    @property
    def retrieval_url(self) -> str:
        return f"http://127.0.0.1:{self.retrieval_port}"


def _base_url(mcp_url: str) -> str:
    parts = urllib.parse.urlsplit(mcp_url)
    return f"{parts.scheme}://{parts.netloc}"


def _log(options: BenchOptions) -> Callable[[str], None]:
    def log(line: str) -> None:
        if not options.quiet:
            sys.stderr.write(f"bench: {line}\n")
            sys.stderr.flush()

    return log


class _Collected:
    def __init__(self) -> None:
        self.phases: list[PhaseResult] = []
        self.cache: list[CacheImprovement] = []
        self.memory: MemoryResult | None = None
        self.capacity: CapacityResult | None = None


def _run_phases(phases: Phases, options: BenchOptions, out: _Collected) -> None:
    wanted = set(options.phases)
    if "baseline" in wanted:
        phases.cold()
    out.phases.append(phases.warmup())
    load: PhaseResult | None = None
    if "baseline" in wanted:
        out.phases.append(phases.baseline())
    if "load" in wanted:
        load = phases.load()
        out.phases.append(load)
    if "cache" in wanted:
        result, out.cache = phases.cache()
        out.phases.append(result)
    if "stress" in wanted:
        out.phases.append(phases.stress(load))
    if "memory" in wanted:
        result, out.memory = phases.memory()
        out.phases.append(result)
    if "capacity" in wanted:
        out.capacity = phases.capacity()
        if out.capacity.limited_by == "interrupted":
            raise BenchInterruptedError("capacity")


def run_bench(args: BenchOptions) -> BenchResult:
    """Run the benchmark ``args`` describe and return its result (files are written by the caller).

    Raises:
        LoadTestError: the stack could not be started or the target cannot be reached (nothing was measured).
    """
    options = args
    options.validate()
    bench_id = options.bench_id or new_run_id()
    report_dir = Path(options.reports) / f"bench-{bench_id}"
    report_dir.mkdir(parents=True, exist_ok=True)
    log = _log(options)
    token = options.token or os.environ.get("PP_API_TOKEN")
    headers = [("authorization", f"Bearer {token}")] if token else []
    workers = options.workers or default_workers()
    started = time.time()
    stack: BenchStack | None = None
    sampler: MetricsSampler | None = None
    out = _Collected()
    aborted: str | None = None
    failure: int | None = None
    notes: list[str] = []
    try:
        if options.target is not None:
            from loadtests.cli import preflight  # here: the CLI imports this package

            preflight(options.target)
            mcp_url = options.target
            gateway_url = options.gateway_url or _base_url(mcp_url)
            retrieval_url = options.retrieval_url
        else:
            stack = BenchStack(report_dir, private_redis=options.private_redis)
            log(f"starting the embedded stack (log: {stack.log_path}) ...")
            stack.start()
            mcp_url, gateway_url, retrieval_url = stack.mcp_url, stack.gateway_url, stack.retrieval_url
            log(f"stack ready: MCP {mcp_url}")
        services = {"gateway": gateway_url}
        if retrieval_url is not None:
            services["retrieval"] = retrieval_url
        else:
            notes.append("no --retrieval-url: the retrieval service's memory and cache counters were not read")
        sampler = MetricsSampler(services, options.memory_interval_s)
        sampler.start()
        ctx = BenchContext(
            options=options,
            bench_id=bench_id,
            mcp_url=mcp_url,
            headers=headers,
            workers=workers,
            origin_unix=started,
            embedded=stack is not None,
            retrieval_url=retrieval_url,
            sampler=sampler,
            log=log,
        )
        try:
            _run_phases(Phases(ctx), options, out)
        except (BenchInterruptedError, KeyboardInterrupt):
            aborted = "interrupted"
        except LoadTestError as error:
            aborted, failure = f"error: {error}", error.code
        if stack is not None and not stack.alive():
            notes.append(f"the embedded stack stopped during the benchmark; its log: {stack.log_path}")
    finally:
        if sampler is not None:
            sampler.stop()
        if stack is not None:
            stack.stop()
    if options.quick:
        notes.append("--quick: every phase lasted seconds; the figures show the machinery works, not the service")
    return BenchResult(
        bench_id=bench_id,
        started_unix=started,
        ended_unix=time.time(),
        target=mcp_url,
        embedded=stack is not None,
        workers=workers,
        cores=len(os.sched_getaffinity(0)),
        options=msgspec.to_builtins(options),
        phases=out.phases,
        cache=out.cache,
        memory=out.memory,
        capacity=out.capacity,
        timeline=sorted(ctx.timeline, key=lambda p: p.t_s),
        notes=notes,
        aborted=aborted,
        failure_code=failure,
        report_dir=str(report_dir),
    )
