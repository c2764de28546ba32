"""The benchmark as a ``loadtests.validate.verdict.Verdict``: the seed's targets checked, for the HTML report.

Targets (``shared/DESIGN.md``, the seed's, all from client-side samples): cached calls p95 < 200 ms (baseline, warm
keys), uncached p95 < 500 ms (baseline, new keys and uncached tools), a cold first call < 2 s, p95 < 1 s and errors
< 2 % per tool under load, errors < 2 % under stress (a warning), a knee of at least 10 requests/s (25 a warning),
RSS < 2 GiB per service, no leak (a suspect slope is a warning). CPU is reported, not judged: the memory phase
saturates the service on purpose.

Grade (``GRADE_RULE``): A every target passed; B only warnings failed; C one error target failed; D two; F more.
Exit code: 0 pass, 1 an error target failed, 2 no target could be evaluated.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Literal

from loadtests.validate.verdict import (
    CapacityPoint,
    Phase,
    QualityGate,
    TargetResult,
    TimeSeriesPoint,
    ToolStats,
    Verdict,
)

if TYPE_CHECKING:
    from loadtests.bench.result import BenchResult, LatencyStats, PhaseResult

__all__ = ("GRADE_RULE", "bench_verdict")

GRADE_RULE = "A: every target passed; B: only warnings failed; C: one target failed; D: two; F: three or more"
CACHED_P95_MS = 200.0
UNCACHED_P95_MS = 500.0
COLD_MS = 2000.0
P95_MS = 1000.0
ERROR_RATE = 0.02
MIN_RPS = 10.0
TARGET_RPS = 25.0
MAX_RSS_MIB = 2048.0

Unit = Literal["ms", "ratio", "rps", "MB", "percent", "count"]


def _iso(unix: float) -> str:
    return datetime.datetime.fromtimestamp(unix, tz=datetime.UTC).isoformat(timespec="seconds")


def _target(
    id_: str,
    description: str,
    scope: str,
    observed: float | None,
    op: Literal["<", "<=", ">", ">="],
    bound: float,
    unit: Unit,
    *,
    samples: int = 0,
    severity: Literal["error", "warning"] = "error",
    note: str = "",
) -> TargetResult:
    passed: bool | None = None
    margin: float | None = None
    if observed is not None:
        passed = {
            "<": observed < bound,
            "<=": observed <= bound,
            ">": observed > bound,
            ">=": observed >= bound,
        }[op]
        if bound:
            margin = (bound - observed) / bound if op in ("<", "<=") else (observed - bound) / bound
    return TargetResult(
        id=id_,
        description=description,
        scope=scope,
        source="client",
        observed=observed,
        op=op,
        bound=bound,
        unit=unit,
        passed=passed,
        margin=margin,
        samples=samples,
        severity=severity,
        note=note,
    )


def _baseline_targets(phase: PhaseResult) -> list[TargetResult]:
    targets = []
    for tool in phase.tools:
        scope = f"tool:{tool.tool}"
        hit = tool.by_cache.get("hit")
        if hit is not None:
            targets.append(
                _target("cached_p95", "cached call p95 (warm key, 1 VU)", f"{scope}/cache:hit", hit.p95_ms, "<",
                        CACHED_P95_MS, "ms", samples=hit.count)
            )  # fmt: skip
        for cache in ("miss", "none"):
            stats = tool.by_cache.get(cache)
            if stats is not None:
                targets.append(
                    _target("uncached_p95", "uncached call p95 (1 VU)", f"{scope}/cache:{cache}", stats.p95_ms, "<",
                            UNCACHED_P95_MS, "ms", samples=stats.count)
                )  # fmt: skip
        cold = tool.by_cache.get("cold")
        if cold is not None:
            targets.append(
                _target("cold_ms", "first call after start", f"{scope}/cache:cold", cold.max_ms, "<", COLD_MS, "ms",
                        samples=cold.count, note="one call: its latency, not a percentile")
            )  # fmt: skip
    return targets


def _load_targets(phase: PhaseResult, *, severity: Literal["error", "warning"]) -> list[TargetResult]:
    targets = []
    for tool in phase.tools:
        scope = f"tool:{tool.tool}/phase:{phase.name}"
        samples = tool.latency.count
        if phase.name == "load":
            targets.append(
                _target("p95", f"p95 at {tool.vus} VUs", scope, tool.latency.p95_ms, "<", P95_MS, "ms", samples=samples)
            )
        targets.append(
            _target("error_rate", f"errors at {tool.vus} VUs", scope, tool.error_rate if samples else None, "<",
                    ERROR_RATE, "ratio", samples=samples, severity=severity)
        )  # fmt: skip
    return targets


def _capacity_targets(result: BenchResult) -> list[TargetResult]:
    capacity = result.capacity
    if capacity is None:
        return []
    knee = capacity.knee_rps
    note = capacity.note
    if capacity.limited_by == "generator":
        knee, note = None, "the knee found was the load generator's: " + note
    return [
        _target("throughput_min", f"knee (cached p99 < {capacity.target_p99_ms:g} ms)", "overall", knee, ">=", MIN_RPS,
                "rps", samples=len(capacity.steps), note=note),
        _target("throughput_target", "knee, the seed's target", "overall", knee, ">=", TARGET_RPS, "rps",
                samples=len(capacity.steps), severity="warning", note=note),
    ]  # fmt: skip


def _memory_targets(result: BenchResult) -> list[TargetResult]:
    memory = result.memory
    if memory is None:
        return []
    targets = []
    for service in memory.services:
        scope = f"service:{service.service}"
        peak = service.bench_peak_rss_mib if service.bench_peak_rss_mib is not None else service.rss_peak_mib
        targets.append(
            _target("memory_mb", "peak RSS (MiB)", scope, peak, "<", MAX_RSS_MIB, "MB", samples=service.samples)
        )
        judged = service.verdict in ("ok", "suspect", "leak")
        targets.append(
            _target("leak_slope", "RSS slope (MiB/min)", scope, service.slope_mib_per_min if judged else None, "<",
                    memory.threshold_mib_per_min, "MB", samples=service.samples,
                    severity="warning" if service.verdict != "leak" else "error", note=service.detail)
        )  # fmt: skip
    return targets


def _tool_stats(result: BenchResult) -> list[ToolStats]:
    stats: list[ToolStats] = []

    def add(tool: str, cache: Literal["all", "hit", "miss", "uncached"], s: LatencyStats) -> None:
        stats.append(
            ToolStats(tool=tool, cache=cache, count=s.count, errors=s.errors, p50_ms=s.p50_ms, p95_ms=s.p95_ms,
                      p99_ms=s.p99_ms, max_ms=s.max_ms, client_p95_ms=s.p95_ms)
        )  # fmt: skip

    load = result.phase("load")
    baseline = result.phase("baseline")
    for phase_tool in load.tools if load is not None else []:
        add(phase_tool.tool, "all", phase_tool.latency)
    classes: tuple[tuple[str, Literal["hit", "miss", "uncached"]], ...] = (
        ("hit", "hit"),
        ("miss", "miss"),
        ("none", "uncached"),
    )
    for phase_tool in baseline.tools if baseline is not None else []:
        for cache, name in classes:
            found = phase_tool.by_cache.get(cache)
            if found is not None:
                add(phase_tool.tool, name, found)
    return stats


def _phases(result: BenchResult) -> list[Phase]:
    origin = result.started_unix
    phases = [Phase(name=p.name, start_s=p.started_unix - origin, end_s=p.ended_unix - origin) for p in result.phases]
    capacity = [p.t_s for p in result.timeline if p.phase.startswith("capacity")]
    if capacity:
        phases.append(Phase(name="capacity", start_s=min(capacity) - 1.0, end_s=max(capacity)))
    return phases


def _quality(result: BenchResult) -> list[QualityGate]:
    gates = [
        QualityGate(
            name=f"generator_health:{phase.name}",
            ok=phase.generator_ok,
            severity="warning",
            detail="; ".join(phase.generator_notes) or "the load generator kept its schedule",
        )
        for phase in result.phases
        if not phase.excluded
    ]
    for improvement in result.cache:
        if improvement.server_hit_ratio is not None:
            gap = abs(improvement.server_hit_ratio - improvement.intended_hit_ratio)
            gates.append(
                QualityGate(
                    name=f"cache_intent:{improvement.tool}",
                    ok=gap <= 0.05,
                    severity="warning",
                    detail=(
                        f"the service counted a hit ratio of {improvement.server_hit_ratio:.2f} where the pairs "
                        f"intended {improvement.intended_hit_ratio:.2f}"
                    ),
                    value=improvement.server_hit_ratio,
                )
            )
    if result.aborted:
        gates.append(
            QualityGate(name="completed", ok=False, severity="error", detail=f"stopped early: {result.aborted}")
        )
    return gates


def _recommendations(result: BenchResult, failed: list[TargetResult]) -> list[str]:
    advice = [
        f"{t.scope}: {t.description} was {t.observed:.4g} {t.unit}, target {t.op} {t.bound:g}"
        for t in failed
        if t.observed is not None
    ]
    for phase in result.phases:
        if not phase.generator_ok and not phase.excluded:
            advice.append(f"{phase.name}: the load generator lagged; rerun with more --workers or on a quieter machine")
    if result.capacity is not None and result.capacity.limited_by in ("max_rate", "max_steps"):
        advice.append("capacity: no step broke; raise --capacity-max or the step count to find the knee")
    if result.memory is not None and result.memory.verdict == "insufficient":
        advice.append("memory: the phase was too short to judge a leak; run --memory-duration 5m")
    return advice


def bench_verdict(result: BenchResult) -> Verdict:
    """The benchmark's findings in the validator's report schema (``render_html`` draws it)."""
    targets: list[TargetResult] = []
    for phase in result.phases:
        if phase.name == "baseline":
            targets += _baseline_targets(phase)
        elif phase.name == "load":
            targets += _load_targets(phase, severity="error")
        elif phase.name == "stress":
            targets += _load_targets(phase, severity="warning")
    targets += _capacity_targets(result) + _memory_targets(result)
    failed = [t for t in targets if t.passed is False]
    errors = sum(1 for t in failed if t.severity == "error")
    grade = "A" if not failed else "B" if errors == 0 else "C" if errors == 1 else "D" if errors == 2 else "F"
    evaluated = any(t.passed is not None for t in targets)
    exit_code = 1 if errors else 0 if evaluated else 2
    return Verdict(
        run_id=result.bench_id,
        source="bench",
        window_start=_iso(result.started_unix),
        window_end=_iso(result.ended_unix),
        passed=exit_code == 0,
        exit_code=exit_code,
        grade=grade,
        grade_rule=GRADE_RULE,
        targets=targets,
        tools=_tool_stats(result),
        quality=_quality(result),
        disagreements=[],
        slowest_path=None,
        exemplars=[],
        recommendations=_recommendations(result, failed),
        timeseries=[TimeSeriesPoint(p.t_s, p.rps, p.errors, p.p50_ms, p.p95_ms, p.p99_ms) for p in result.timeline],
        phases=_phases(result),
        capacity=[
            CapacityPoint(
                offered_rps=s.offered_rps,
                achieved_rps=s.achieved_rps,
                p50_ms=s.p50_ms,
                p95_ms=s.p95_ms,
                p99_ms=s.p99_ms,
                error_rate=s.error_rate,
                ok=s.ok,
            )
            for s in (result.capacity.curve if result.capacity is not None else [])
        ],
    )
