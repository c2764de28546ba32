"""Comparison with a baseline run: per-tool percentile changes with 95 % bootstrap intervals, and a regression verdict.

**What a verdict keeps.** Each verdict stores the load phase's per-trace durations per tool (and for every tool
together), a seeded uniform subsample of at most ``baseline.max_samples`` each (``Verdict.durations``): a later run
resamples them. Percentiles are nearest-rank: the ⌈p·n⌉-th smallest duration.

**The interval without resampling loops.** Resampling n durations with replacement and taking the r-th smallest
gives x₍ⱼ₎ with j = ⌈n·U₍ᵣ₎⌉, where U₍ᵣ₎ is the r-th smallest of n uniforms — and U₍ᵣ₎ follows Beta(r, n − r + 1).
So one bootstrap replicate of a percentile is one ``betavariate`` draw and one index: the same distribution as
resampling and sorting n values, at O(1) instead of O(n log n). Each replicate draws the baseline's and the current
run's percentiles independently; their ratio minus one is the replicate's change. The interval is the replicates'
2.5th and 97.5th percentiles (``baseline.confidence``).

**Verdict.** A regression when the whole interval lies above ``+baseline.regression`` (default +10 %): the run is
slower beyond both the noise and the threshold. An improvement when it lies below the negative threshold. A
percentile is compared only when both runs have its minimum samples (``samples``).
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING

import msgspec

from loadtests.errors import ConfigError
from loadtests.validate.evaluate import ALL
from loadtests.validate.targets import BaselineRules, SampleMinimums
from loadtests.validate.verdict import BaselineChange, DurationSamples, Verdict

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from pathlib import Path

    from loadtests.validate.evaluate import Call

__all__ = ("bootstrap_change", "bootstrap_percentiles", "compare", "duration_samples", "load_baseline")


def duration_samples(calls: Iterable[Call], max_samples: int = 5000, seed: int = 1) -> list[DurationSamples]:
    """Per tool (and ``all``), the calls' durations in ms (µs precision), subsampled to ``max_samples``."""
    by_tool: dict[str, list[float]] = {}
    everything: list[float] = []
    for call in calls:
        by_tool.setdefault(call.tool, []).append(call.duration_ms)
        everything.append(call.duration_ms)
    if everything:
        by_tool[ALL] = everything
    out: list[DurationSamples] = []
    for tool in sorted(by_tool):
        values = by_tool[tool]
        kept = random.Random(f"{seed}:{tool}").sample(values, max_samples) if len(values) > max_samples else values
        out.append(DurationSamples(tool=tool, count=len(values), values_ms=sorted(round(v, 3) for v in kept)))
    return out


def _rank(p: float, n: int) -> int:
    return min(n, max(1, math.ceil(p * n / 100 - 1e-9)))


def bootstrap_percentiles(ordered: Sequence[float], p: float, resamples: int, rng: random.Random) -> list[float]:
    """``resamples`` bootstrap replicates of percentile ``p`` of ascending ``ordered`` (module docstring: Beta)."""
    n = len(ordered)
    r = _rank(p, n)
    beta = rng.betavariate
    return [ordered[min(n, max(1, math.ceil(n * beta(r, n - r + 1)))) - 1] for _ in range(resamples)]


def bootstrap_change(
    baseline: Sequence[float],
    current: Sequence[float],
    p: float,
    *,
    resamples: int = 2000,
    confidence: float = 0.95,
    rng: random.Random | None = None,
) -> tuple[float, float, float]:
    """``(change, low, high)`` of percentile ``p`` from ``baseline`` to ``current`` (relative: +0.25 = 25 % slower)."""
    if not baseline or not current:
        raise ValueError("both runs need durations")
    rng = rng or random.Random(0)
    b, c = sorted(baseline), sorted(current)
    floor = 1e-9
    change = c[_rank(p, len(c)) - 1] / max(b[_rank(p, len(b)) - 1], floor) - 1
    before = bootstrap_percentiles(b, p, resamples, rng)
    after = bootstrap_percentiles(c, p, resamples, rng)
    replicates = sorted(now / max(then, floor) - 1 for then, now in zip(before, after, strict=True))
    tail = (1 - confidence) / 2
    low = replicates[max(0, math.floor(tail * resamples))]
    high = replicates[min(resamples - 1, math.ceil((1 - tail) * resamples) - 1)]
    return change, low, high


def _minimum(stat: str, samples: SampleMinimums) -> int:
    p = float(stat[1:])
    if p >= 99:
        return samples.p99
    if p > 50:
        return samples.p95
    return samples.p50


def compare(
    baseline: Verdict | Sequence[DurationSamples],
    current: Sequence[DurationSamples],
    rules: BaselineRules | None = None,
    samples: SampleMinimums | None = None,
) -> list[BaselineChange]:
    """Every (tool, percentile) both runs can support, with its change, interval and verdict."""
    rules = rules or BaselineRules()
    samples = samples or SampleMinimums()
    before = {d.tool: d for d in (baseline.durations if isinstance(baseline, Verdict) else baseline)}
    out: list[BaselineChange] = []
    for now in sorted(current, key=lambda d: (d.tool == ALL, d.tool)):
        then = before.get(now.tool)
        if then is None or not then.values_ms or not now.values_ms:
            continue
        for stat in rules.stats:
            needed = _minimum(stat, samples)
            if min(len(then.values_ms), len(now.values_ms)) < needed:
                continue
            p = float(stat[1:])
            rng = random.Random(f"{rules.seed}:{now.tool}:{stat}")
            change, low, high = bootstrap_change(
                then.values_ms, now.values_ms, p, resamples=rules.resamples, confidence=rules.confidence, rng=rng
            )
            b, c = sorted(then.values_ms), sorted(now.values_ms)
            out.append(
                BaselineChange(
                    tool=now.tool,
                    stat=stat,
                    baseline_ms=b[_rank(p, len(b)) - 1],
                    current_ms=c[_rank(p, len(c)) - 1],
                    change=change,
                    ci_low=low,
                    ci_high=high,
                    regression=low > rules.regression,
                    improvement=high < -rules.regression,
                    baseline_samples=len(b),
                    current_samples=len(c),
                )
            )
    return out


def load_baseline(path: Path) -> Verdict:
    """A previous run's verdict JSON; ``ConfigError`` when unreadable or without the durations a comparison needs."""
    try:
        verdict = msgspec.json.decode(path.read_bytes(), type=Verdict)
    except (OSError, msgspec.DecodeError) as error:
        raise ConfigError(f"cannot read a baseline verdict: {error}", where=str(path)) from None
    if not verdict.durations:
        raise ConfigError(
            "the baseline verdict holds no per-tool durations (it was written by an older validator, or its run "
            "had no traced calls): validate the baseline run again",
            where=str(path),
        )
    return verdict
