"""The capacity search: the highest arrival rate at which cached calls still meet their p99 target — the knee.

**Model.** Each step is an open-model run (constant arrival rate) of cached calls, judged on the latency measured
from each call's *intended* start (``http_req_duration_corrected``): past the knee the server cannot keep up, calls
queue, and that queueing is exactly what a closed model (or the uncorrected latency) would hide.

**Broken step.** A step fails when any of these holds: the corrected p99 is above the target; fewer than 95 % of
the offered requests completed (the rest were dropped or are still queued); more than 2 % of calls failed; or the
load generator's own health check says its figures cannot be trusted (its event loop lagged). In the last case the
knee found is the generator's, not the server's, and the result says so (``limited_by="generator"``).

**Search.** Geometric steps from ``start`` (× ``factor``) until one breaks — or, when the very first breaks,
geometric steps down until one holds — then bisection (at the geometric mean, as rates are a scale) between the
last good and the first bad rate, ``bisect`` times or until they are within ``resolution`` of each other. The knee
is the last good rate: within one bisection interval of the true knee, below it, if latency grows monotonically
with the rate (a noisy step can only make the answer more conservative, never higher than a rate that held).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

import msgspec

from loadtests.bench.result import CapacityResult, CapacityStep

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ("Observation", "SearchConfig", "judge", "search_capacity")

StepKind = Literal["geometric", "descend", "bisect"]


class Observation(msgspec.Struct, kw_only=True):
    """What one step measured (a probe's answer)."""

    offered_rps: float
    achieved_rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    p99_uncorrected_ms: float | None = None
    error_rate: float = 0.0
    requests: int = 0
    dropped: int = 0
    generator_notes: list[str] = []
    """The generator's health reasons; any makes the step untrustworthy."""
    interrupted: bool = False


class SearchConfig(msgspec.Struct, frozen=True, kw_only=True):
    target_p99_ms: float = 200.0
    start_rps: float = 25.0
    factor: float = 2.0
    max_rps: float = 20_000.0
    min_rps: float = 1.0
    bisect: int = 3
    resolution: float = 0.05
    """Stop bisecting once first_bad / last_good <= 1 + resolution."""
    max_steps: int = 16
    """Geometric (and descending) steps at most; bisection steps come on top."""
    min_achieved_ratio: float = 0.95
    max_error_rate: float = 0.02
    step_duration_s: float = 10.0


def judge(observation: Observation, config: SearchConfig, kind: StepKind) -> CapacityStep:
    """The step as recorded: its figures and, when broken, every reason."""
    reasons: list[str] = []
    p99 = observation.p99_ms
    if p99 is None:
        reasons.append("no successful call to measure")
    elif p99 > config.target_p99_ms:
        reasons.append(f"p99 {p99:.1f} ms > {config.target_p99_ms:g} ms")
    wanted = config.min_achieved_ratio * observation.offered_rps
    if observation.achieved_rps < wanted:
        reasons.append(
            f"achieved {observation.achieved_rps:.1f}/s < {config.min_achieved_ratio:.0%} of "
            f"{observation.offered_rps:g}/s offered"
        )
    if observation.error_rate > config.max_error_rate:
        reasons.append(f"errors {observation.error_rate:.2%} > {config.max_error_rate:.0%}")
    if observation.generator_notes:
        reasons.append("the load generator was overloaded (its figures cannot be trusted)")
    return CapacityStep(
        kind=kind,
        offered_rps=observation.offered_rps,
        achieved_rps=observation.achieved_rps,
        p50_ms=observation.p50_ms,
        p95_ms=observation.p95_ms,
        p99_ms=observation.p99_ms,
        p99_uncorrected_ms=observation.p99_uncorrected_ms,
        error_rate=observation.error_rate,
        requests=observation.requests,
        dropped=observation.dropped,
        generator_ok=not observation.generator_notes,
        ok=not reasons,
        reasons=reasons,
        generator_notes=list(observation.generator_notes),
    )


def _rate(value: float) -> float:
    """Whole requests per second (k6 rates are integers per time unit), at least 1."""
    return float(max(1, round(value)))


class _Search:
    """The search's state: the steps run, the last good and first bad rate, and the bad step's reasons."""

    def __init__(self, probe: Callable[[float], Observation], config: SearchConfig) -> None:
        self.probe = probe
        self.config = config
        self.steps: list[CapacityStep] = []
        self.good: float | None = None
        self.bad: float | None = None
        self.bad_step: CapacityStep | None = None
        self.interrupted = False

    def run(self, rate: float, kind: StepKind) -> bool | None:
        """Probe ``rate``; whether it held (None: interrupted)."""
        observation = self.probe(rate)
        if observation.interrupted:
            self.interrupted = True
            return None
        step = judge(observation, self.config, kind)
        self.steps.append(step)
        if step.ok:
            self.good = rate if self.good is None else max(self.good, rate)
        elif self.bad is None or rate <= self.bad:
            self.bad, self.bad_step = rate, step
        return step.ok

    def climb(self) -> None:
        """Up by ``factor`` until a step breaks; if the first breaks, down by ``factor`` until one holds."""
        config = self.config
        rate = _rate(config.start_rps)
        kind: StepKind = "geometric"
        while len(self.steps) < config.max_steps:
            held = self.run(rate, kind)
            if held is None:
                return
            if held:
                if self.bad is not None or rate >= config.max_rps:
                    return  # descending found a rate that holds, or the ceiling holds
                higher = _rate(min(rate * config.factor, config.max_rps))
                if higher <= rate:
                    return
                rate = higher
            else:
                lower = max(_rate(rate / config.factor), _rate(config.min_rps))
                if self.good is not None or lower >= rate:
                    return
                rate, kind = lower, "descend"

    def bisect(self) -> None:
        """Between the last good and the first bad rate, at their geometric mean."""
        for _ in range(self.config.bisect):
            good, bad = self.good, self.bad
            if self.interrupted or good is None or bad is None or bad / good <= 1.0 + self.config.resolution:
                return
            middle = _rate(math.sqrt(good * bad))
            if middle <= good or middle >= bad or self.run(middle, "bisect") is None:
                return


def search_capacity(probe: Callable[[float], Observation], config: SearchConfig) -> CapacityResult:
    """Run the search with ``probe(offered_rps)`` as the step (a real run, or a model in tests)."""
    search = _Search(probe, config)
    search.climb()
    search.bisect()
    good, bad, bad_step, interrupted = search.good, search.bad, search.bad_step, search.interrupted
    return CapacityResult(
        target_p99_ms=config.target_p99_ms,
        min_achieved_ratio=config.min_achieved_ratio,
        max_error_rate=config.max_error_rate,
        step_duration_s=config.step_duration_s,
        knee_rps=good,
        first_bad_rps=bad,
        limited_by=_limited_by(good, bad_step, config, interrupted=interrupted),
        steps=search.steps,
        note=_note(good, bad, bad_step, interrupted=interrupted),
    )


def _limited_by(
    good: float | None, bad_step: CapacityStep | None, config: SearchConfig, *, interrupted: bool
) -> Literal["server", "generator", "max_rate", "max_steps", "interrupted", "none"]:
    if bad_step is not None:
        return "generator" if not bad_step.generator_ok else "server"
    if interrupted:
        return "interrupted"
    if good is not None and good >= config.max_rps:
        return "max_rate"
    if good is not None:
        return "max_steps"
    return "none"


def _note(good: float | None, bad: float | None, bad_step: CapacityStep | None, *, interrupted: bool) -> str:
    if interrupted and bad is None:
        return "interrupted before a step broke: the knee is at least the last good rate"
    if bad_step is None:
        if good is None:
            return "no step ran"
        return f"no step broke up to {good:g}/s: the knee is higher (a lower bound, not a measurement)"
    why = "; ".join(bad_step.reasons)
    if good is None:
        return f"even {bad:g}/s broke ({why}): the knee is below the lowest rate tried"
    if not bad_step.generator_ok:
        return (
            f"knee ~{good:g}/s, but the step at {bad:g}/s broke because the load generator could not keep up: "
            "this is the generator's limit — use more workers or machines to find the server's"
        )
    return f"knee ~{good:g}/s (holds); {bad:g}/s breaks: {why}"
