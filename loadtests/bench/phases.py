"""Running each phase on the real engine and turning its aggregate into the benchmark's results.

Every phase is one ``Coordinator`` run (the capacity search: one per step) of ``scripts/phase.py`` with its plan in
the environment, run id ``<bench id>-<phase>`` (the services copy it onto their spans). Ctrl-C during a run ends
that run as the engine does (exit 105) and the benchmark stops after it.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import msgspec

from loadtests.bench import plans
from loadtests.bench.capacity import Observation, SearchConfig, search_capacity
from loadtests.bench.memory import cache_counters, judge_memory, scrape, worst_verdict
from loadtests.bench.options import CRITICAL_TOOLS
from loadtests.bench.plan import PLAN_ENV, SCRIPT, procedures_used
from loadtests.bench.result import MemoryResult, PhaseResult, TimelinePoint, ToolPhaseStats
from loadtests.bench.stats import cache_improvement, error_counts, latency, no_latency, timeline, tool_stats
from loadtests.engine.coordinator import Coordinator, RunConfig
from loadtests.scenarios.traffic import CACHED_TOOLS

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from loadtests.bench.memory import MetricsSampler
    from loadtests.bench.options import BenchOptions
    from loadtests.bench.plan import PhasePlan
    from loadtests.bench.result import CacheImprovement, CapacityResult
    from loadtests.engine.coordinator import RunOutcome
    from loadtests.metrics import Aggregate

__all__ = ("BenchContext", "BenchInterruptedError", "Phases")

CONTENT_TYPES = {
    "search_runbooks": "runbooks",
    "get_decision_tree": "decision_trees",
    "get_procedure": "procedures",
    "search_knowledge_base": "knowledge_base",
}
"""The retrieval cache's content type (its counters' label) of each cached tool."""


class BenchInterruptedError(Exception):
    """Ctrl-C (or SIGTERM) ended a phase's run; the benchmark stops with what it has."""


@dataclass
class BenchContext:
    options: BenchOptions
    bench_id: str
    mcp_url: str
    headers: list[tuple[str, str]]
    workers: int
    origin_unix: float
    embedded: bool
    retrieval_url: str | None
    sampler: MetricsSampler | None
    log: Callable[[str], None]
    timeline: list[TimelinePoint] = field(default_factory=list)
    procedure_offset: int = 0
    runs: int = 0

    def take_procedures(self, plan: PhasePlan) -> None:
        """Move past the never-used get_procedure keys ``plan`` consumes, so the next phase gets fresh ones."""
        self.procedure_offset += sum(procedures_used(spec) for spec in plan.calls.values())


def run_plan(
    ctx: BenchContext, plan: PhasePlan, *, run_name: str | None = None, workers: int | None = None
) -> RunOutcome:
    """One engine run of the phase script with ``plan``."""
    previous = os.environ.get(PLAN_ENV)
    os.environ[PLAN_ENV] = msgspec.json.encode(plan).decode()
    ctx.runs += 1
    try:
        config = RunConfig(
            script=str(SCRIPT),
            workers=workers or ctx.workers,
            mcp_url=ctx.mcp_url,
            mcp_headers=list(ctx.headers),
            run_id=f"{ctx.bench_id}-{run_name or plan.phase}",
            max_loop_lag_ms=ctx.options.max_loop_lag_ms,
        )
        outcome = asyncio.run(Coordinator(config).run())
    finally:
        if previous is None:
            os.environ.pop(PLAN_ENV, None)
        else:
            os.environ[PLAN_ENV] = previous
    ctx.timeline.extend(timeline(outcome.aggregate, run_name or plan.phase, ctx.origin_unix))
    if outcome.aborted == "interrupted":
        raise BenchInterruptedError(plan.phase)
    return outcome


def _tools_in(aggregate: Aggregate, selection: dict[str, str]) -> list[str]:
    wanted = set(selection.items())
    found = {dict(tags).get("tool", "") for tags in aggregate.series_tags("mcp_tool_errors") if wanted <= set(tags)}
    return sorted(t for t in found if t)


def _script_notes(outcome: RunOutcome) -> list[str]:
    notes = [f"{count} iteration(s) raised: {message}" for message, count in outcome.errors.items()]
    if outcome.aborted and outcome.aborted != "interrupted":
        notes.append(f"the run was aborted: {outcome.aborted}")
    return notes


def _phase(
    name: str,
    model: str,
    outcome: RunOutcome,
    tools: list[ToolPhaseStats],
    *,
    notes: Sequence[str] = (),
    excluded: bool = False,
) -> PhaseResult:
    return PhaseResult(
        name=name,
        model=model,
        started_unix=outcome.started_unix,
        ended_unix=outcome.ended_unix,
        tools=tools,
        generator_ok=not outcome.health_reasons,
        generator_notes=list(outcome.health_reasons),
        notes=[*notes, *_script_notes(outcome)],
        excluded=excluded,
    )


def _sequential_stats(aggregate: Aggregate, scenario: str, tool: str) -> ToolPhaseStats:
    """One VU back to back: the tool's busy time is its duration, so throughput is 1 / mean latency."""
    overall = latency(aggregate, {"scenario": scenario, "tool": tool})
    busy = (overall.mean_ms or 0.0) * overall.count / 1000.0
    return tool_stats(aggregate, {"scenario": scenario}, tool=tool, vus=1, duration_s=busy)


class Phases:
    """The benchmark's phases, each run and measured; results accumulate on the instance."""

    def __init__(self, ctx: BenchContext) -> None:
        self.ctx = ctx
        self.options = ctx.options
        self.tools = tuple(ctx.options.tools)
        self.cold_outcome: RunOutcome | None = None

    # -- cold and warm-up ------------------------------------------------------------------------------------

    def cold(self) -> None:
        plan = plans.cold_plan(self.tools, self.ctx.procedure_offset)
        self.ctx.take_procedures(plan)
        self.ctx.log(f"cold: the first call of each of {len(self.tools)} tools, new keys")
        self.cold_outcome = run_plan(self.ctx, plan, workers=1)

    def warmup(self) -> PhaseResult:
        o = self.options
        self.ctx.log(f"warmup: the incident mix, {o.vus} VUs for {o.warmup_s:g}s (excluded from the results)")
        outcome = run_plan(self.ctx, plans.mix_plan("warmup", self.tools, o.vus, o.warmup_s, o.hit_ratio))
        selection = {"scenario": "warmup"}
        tools = [
            tool_stats(outcome.aggregate, selection, tool=t, vus=o.vus, duration_s=o.warmup_s)
            for t in _tools_in(outcome.aggregate, selection)
        ]
        return _phase("warmup", f"closed: {o.vus} VUs, incident mix, {o.warmup_s:g} s", outcome, tools, excluded=True)

    # -- baseline --------------------------------------------------------------------------------------------

    def baseline(self) -> PhaseResult:
        o = self.options
        plan = plans.baseline_plan(self.tools, o.baseline_iterations, self.ctx.procedure_offset)
        self.ctx.take_procedures(plan)
        self.ctx.log(
            f"baseline: 1 VU back to back, {o.baseline_iterations} new and {o.baseline_iterations} warm keys per tool"
        )
        outcome = run_plan(self.ctx, plan, workers=1)
        tools = [_sequential_stats(outcome.aggregate, "baseline", t) for t in self.tools]
        notes = ["miss: a key never sent before, after warm-up; hit: a warm key; none: the tool is not cached"]
        if self.cold_outcome is not None:
            cold = self.cold_outcome.aggregate
            for stats in tools:
                stats.by_cache = {"cold": latency(cold, {"scenario": "cold", "tool": stats.tool}), **stats.by_cache}
            where = "a fresh stack started for the benchmark" if self.ctx.embedded else "an already-running stack"
            notes.append(
                f"cold: the first call of each tool (new key) on {where}, before warm-up; the first tool also pays "
                "the process-wide first use (the gateway's connection to retrieval)"
            )
            if not self.ctx.embedded:
                notes.append(
                    "cold on an already-running stack is only the first call of this benchmark, not a cold start"
                )
        return _phase("baseline", "closed: 1 VU back to back", outcome, tools, notes=notes)

    # -- load and stress ---------------------------------------------------------------------------------------

    def per_tool(self, phase: str, tools: tuple[str, ...], vus: int, duration_s: float) -> PhaseResult:
        o = self.options
        self.ctx.log(f"{phase}: {len(tools)} tool(s), {vus} VUs back to back, {duration_s:g}s each")
        outcome = run_plan(self.ctx, plans.per_tool_plan(phase, tools, vus, duration_s, o.hit_ratio))
        stats = [
            tool_stats(outcome.aggregate, {"scenario": f"{phase}_{t}"}, tool=t, vus=vus, duration_s=duration_s)
            for t in tools
        ]
        model = f"closed: {vus} VUs back to back per tool, {duration_s:g} s each, warm-key share {o.hit_ratio:g}"
        return _phase(phase, model, outcome, stats)

    def load(self) -> PhaseResult:
        return self.per_tool("load", self.tools, self.options.vus, self.options.load_s)

    def stress(self, load: PhaseResult | None) -> PhaseResult:
        tools = tuple(t for t in CRITICAL_TOOLS if t in self.tools)
        result = self.per_tool("stress", tools, self.options.vus * 2, self.options.stress_s)
        if load is not None:
            result.notes.extend(_scaling_notes(load, result))
        return result

    # -- cache -------------------------------------------------------------------------------------------------

    def cache(self) -> tuple[PhaseResult, list[CacheImprovement]]:
        o = self.options
        plan = plans.cache_plan(self.tools, o.cache_pairs, o.cache_repeats, self.ctx.procedure_offset)
        self.ctx.take_procedures(plan)
        cached = [t for t in self.tools if t in CACHED_TOOLS]
        self.ctx.log(
            f"cache: {len(cached)} cached tool(s), {o.cache_pairs} new keys, each then {o.cache_repeats} times again"
        )
        before = self._cache_counters()
        outcome = run_plan(self.ctx, plan, workers=1)
        after = self._cache_counters()
        tools = [_sequential_stats(outcome.aggregate, "cache", t) for t in cached]
        improvements = []
        for stats in tools:
            server = None
            if before is not None and after is not None:
                content = CONTENT_TYPES[stats.tool]
                old, new = before.get(content, {}), after.get(content, {})
                server = {key: new.get(key, 0.0) - old.get(key, 0.0) for key in sorted(set(old) | set(new))}
            improvements.append(
                cache_improvement(
                    stats.tool,
                    stats.by_cache.get("miss") or no_latency(),
                    stats.by_cache.get("hit") or no_latency(),
                    o.cache_repeats,
                    server,
                )
            )
        notes = ["pairs: a new key (miss), then the same key again (hits) — same key, same moment, one VU"]
        if before is None:
            notes.append("the retrieval service's cache counters could not be read (--retrieval-url): intent unchecked")
        return _phase("cache", "closed: 1 VU back to back", outcome, tools, notes=notes), improvements

    def _cache_counters(self) -> dict[str, dict[str, float]] | None:
        if self.ctx.retrieval_url is None:
            return None
        samples = scrape(self.ctx.retrieval_url)
        return cache_counters(samples) if samples is not None else None

    # -- memory ------------------------------------------------------------------------------------------------

    def memory(self) -> tuple[PhaseResult, MemoryResult]:
        o = self.options
        self.ctx.log(
            f"memory: the incident mix, {o.vus} VUs for {o.memory_s:g}s, RSS and CPU every {o.memory_interval_s:g}s"
        )
        outcome = run_plan(self.ctx, plans.mix_plan("memory", self.tools, o.vus, o.memory_s, o.memory_hit_ratio))
        selection = {"scenario": "memory"}
        tools = [
            tool_stats(outcome.aggregate, selection, tool=t, vus=o.vus, duration_s=o.memory_s)
            for t in _tools_in(outcome.aggregate, selection)
        ]
        requests, _, _ = error_counts(outcome.aggregate, selection)
        services = []
        sampler = self.ctx.sampler
        origin = self.ctx.origin_unix
        start = outcome.started_unix - origin
        end = min(outcome.ended_unix, outcome.started_unix + o.memory_s) - origin
        if sampler is not None:
            for name, url in sampler.services.items():
                samples = sampler.window(name, outcome.started_unix, outcome.started_unix + o.memory_s, origin)
                judged = judge_memory(
                    name,
                    url,
                    samples,
                    phase_start_s=start,
                    phase_end_s=end,
                    threshold_mib_per_min=o.leak_threshold_mib_per_min,
                    min_window_s=o.leak_min_window_s,
                    settle_fraction=o.leak_settle_fraction,
                    interval_s=o.memory_interval_s,
                    requests=requests,
                )
                judged.bench_peak_rss_mib = sampler.peak(name)
                services.append(judged)
        memory = MemoryResult(
            threshold_mib_per_min=o.leak_threshold_mib_per_min,
            min_window_s=o.leak_min_window_s,
            settle_fraction=o.leak_settle_fraction,
            interval_s=o.memory_interval_s,
            services=services,
            verdict=worst_verdict([s.verdict for s in services]),
        )
        model = f"closed: {o.vus} VUs, incident mix, warm-key share {o.memory_hit_ratio:g}, {o.memory_s:g} s"
        return _phase("memory", model, outcome, tools), memory

    # -- capacity ----------------------------------------------------------------------------------------------

    def capacity(self) -> CapacityResult:
        o = self.options
        cached = tuple(t for t in self.tools if t in CACHED_TOOLS)
        config = SearchConfig(
            target_p99_ms=o.cached_p99_ms,
            start_rps=o.capacity_start_rps,
            factor=o.capacity_factor,
            max_rps=o.capacity_max_rps,
            bisect=o.capacity_bisect,
            max_steps=o.capacity_max_steps,
            min_achieved_ratio=o.capacity_min_achieved,
            max_error_rate=o.capacity_max_errors,
            step_duration_s=o.capacity_step_s,
        )
        self.ctx.log(
            f"capacity: cached calls at a constant arrival rate, {o.capacity_step_s:g}s steps from "
            f"{o.capacity_start_rps:g}/s (×{o.capacity_factor:g}) until the corrected p99 passes {o.cached_p99_ms:g} ms"
        )
        counter = iter(range(1, 10_000))

        def probe(rate: float) -> Observation:
            step = next(counter)
            plan = plans.capacity_plan(cached, rate, o.capacity_step_s, o.cached_p99_ms)
            try:
                outcome = run_plan(self.ctx, plan, run_name=f"capacity-{step}")
            except BenchInterruptedError:
                return Observation(
                    offered_rps=rate, achieved_rps=0.0, p50_ms=None, p95_ms=None, p99_ms=None, interrupted=True
                )
            observation = observe_step(outcome.aggregate, rate, o.capacity_step_s, outcome.health_reasons)
            self.ctx.log(
                f"  step {step}: {rate:g}/s offered, {observation.achieved_rps:.1f}/s achieved, p99 "
                f"{_ms(observation.p99_ms)} (uncorrected {_ms(observation.p99_uncorrected_ms)}), errors "
                f"{observation.error_rate:.2%}, dropped {observation.dropped}"
            )
            time.sleep(0.5)  # let the last step's stragglers drain before the next
            return observation

        return search_capacity(probe, config)


def observe_step(aggregate: Aggregate, rate: float, duration_s: float, health: list[str]) -> Observation:
    """What one capacity step measured: completed calls per second of the step, corrected latency, errors."""
    selection = {"scenario": "capacity"}
    calls, failed, _ = error_counts(aggregate, selection)
    corrected = latency(aggregate, selection, metric="http_req_duration_corrected")
    plain = latency(aggregate, selection, metric="http_req_duration")
    dropped = int(aggregate.values("dropped_iterations", selection).get("count", 0.0))
    return Observation(
        offered_rps=rate,
        achieved_rps=calls / duration_s if duration_s > 0 else 0.0,
        p50_ms=corrected.p50_ms,
        p95_ms=corrected.p95_ms,
        p99_ms=corrected.p99_ms,
        p99_uncorrected_ms=plain.p99_ms,
        error_rate=failed / calls if calls else 0.0,
        requests=calls,
        dropped=dropped,
        generator_notes=list(health),
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def _scaling_notes(load: PhaseResult, stress: PhaseResult) -> list[str]:
    """Per tool: what doubling the concurrency bought — throughput, or only queueing."""
    by_tool = {t.tool: t for t in load.tools}
    notes = []
    for tool in stress.tools:
        before = by_tool.get(tool.tool)
        if before is None or not before.throughput_rps or not before.latency.p95_ms or not tool.latency.p95_ms:
            continue
        gain = tool.throughput_rps / before.throughput_rps
        slower = tool.latency.p95_ms / before.latency.p95_ms
        verdict = "saturated: the extra concurrency only queued" if gain < 1.2 else "still scaling"
        notes.append(f"{tool.tool}: ×2 VUs gave ×{gain:.2f} throughput and ×{slower:.2f} p95 — {verdict}")
    return notes
