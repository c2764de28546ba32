"""Baseline comparison: kept durations, the O(1) bootstrap checked exactly, regressions with and without a change."""

from __future__ import annotations

import math
import random
from collections import Counter
from typing import TYPE_CHECKING

import msgspec
import pytest

from loadtests.errors import ConfigError
from loadtests.validate.baseline import (
    bootstrap_change,
    bootstrap_percentiles,
    compare,
    duration_samples,
    load_baseline,
)
from loadtests.validate.evaluate import ALL, extract_calls
from loadtests.validate.targets import BaselineRules
from loadtests.validate.verdict import DurationSamples, Verdict
from tests.unit.loadtests.validate.helpers import flatten, trace

if TYPE_CHECKING:
    from pathlib import Path


def lognormal(n: int, seed: int, scale: float = 1.0) -> list[float]:
    rng = random.Random(seed)
    return [scale * rng.lognormvariate(math.log(20), 0.5) for _ in range(n)]


def samples(values: list[float], tool: str = "search_runbooks") -> list[DurationSamples]:
    return [DurationSamples(tool=tool, count=len(values), values_ms=sorted(values))]


def test_duration_samples_per_tool_and_all_with_a_seeded_cap() -> None:
    calls = extract_calls(
        flatten([trace(duration_ms=float(i)) for i in range(1, 31)] + [trace("list_sources", cache="none")])
    )
    kept = {d.tool: d for d in duration_samples(calls, max_samples=10, seed=3)}
    assert set(kept) == {ALL, "list_sources", "search_runbooks"}
    assert kept["search_runbooks"].count == 30 and len(kept["search_runbooks"].values_ms) == 10
    assert kept["list_sources"].values_ms == [10.0]
    assert kept[ALL].count == 31
    again = {d.tool: d for d in duration_samples(calls, max_samples=10, seed=3)}
    assert again == kept, "seeded: the same run keeps the same samples"
    assert kept["search_runbooks"].values_ms == sorted(kept["search_runbooks"].values_ms)


def exact_order_statistic(n: int, r: int) -> list[float]:
    """P(the r-th smallest of n draws from x₁..xₙ is xⱼ), j = 1..n: P(Bin(n, j/n) ≥ r) − P(Bin(n, (j−1)/n) ≥ r)."""

    def at_least(q: float) -> float:
        return sum(math.comb(n, k) * q**k * (1 - q) ** (n - k) for k in range(r, n + 1))

    return [at_least(j / n) - at_least((j - 1) / n) for j in range(1, n + 1)]


@pytest.mark.parametrize(("n", "p"), [(40, 95), (40, 50), (120, 99)])
def test_the_beta_shortcut_has_the_exact_bootstrap_distribution(n: int, p: float) -> None:
    ordered = [float(v) for v in range(1, n + 1)]  # the value names its rank
    draws = bootstrap_percentiles(ordered, p, 20_000, random.Random(7))
    seen = Counter(int(v) for v in draws)
    exact = exact_order_statistic(n, math.ceil(p * n / 100))
    distance = sum(abs(seen[j] / len(draws) - exact[j - 1]) for j in range(1, n + 1)) / 2
    assert distance < 0.02, "total variation from the exact distribution"
    brute = random.Random(8)
    rank = math.ceil(p * n / 100)
    resorted = Counter(int(sorted(brute.choices(ordered, k=n))[rank - 1]) for _ in range(4000))
    assert sum(abs(resorted[j] / 4000 - exact[j - 1]) for j in range(1, n + 1)) / 2 < 0.05, "and so does resampling"


def test_no_real_change_is_not_a_regression() -> None:
    for seed in range(5):
        base, current = lognormal(2000, seed), lognormal(2000, seed + 100)
        change, low, high = bootstrap_change(base, current, 95, rng=random.Random(seed))
        assert low < change < high
        assert low < 0.10, "the interval of a null change does not clear +10 %"
        assert high > -0.10


def test_a_real_slowdown_is_a_regression_and_a_speedup_an_improvement() -> None:
    base = lognormal(2000, 1)
    (slower,) = [c for c in compare(samples(base), samples(lognormal(2000, 2, 1.3))) if c.stat == "p95"]
    assert slower.regression and not slower.improvement
    assert slower.ci_low > 0.10 and slower.change == pytest.approx(0.3, abs=0.12)
    assert (slower.baseline_samples, slower.current_samples) == (2000, 2000)
    (faster,) = [c for c in compare(samples(base), samples(lognormal(2000, 2, 0.6))) if c.stat == "p95"]
    assert faster.improvement and not faster.regression
    same = compare(samples(base), samples(lognormal(2000, 3)))
    assert [c.stat for c in same] == ["p50", "p95", "p99"]
    assert not any(c.regression or c.improvement for c in same)


def test_a_small_real_change_below_the_threshold_is_not_a_regression() -> None:
    base = lognormal(3000, 1)
    (p50,) = [c for c in compare(samples(base), samples(lognormal(3000, 2, 1.04))) if c.stat == "p50"]
    assert p50.ci_low > 0 and not p50.regression, "faster than noise but within the +10 % threshold"
    strict = compare(samples(base), samples(lognormal(3000, 2, 1.04)), BaselineRules(regression=0.0))
    assert [c.regression for c in strict if c.stat == "p50"] == [True]


def test_compare_skips_what_either_run_cannot_support() -> None:
    few = compare(samples(lognormal(50, 1)), samples(lognormal(50, 2)))
    assert [c.stat for c in few] == ["p50", "p95"], "p99 needs 100 samples in both runs"
    assert compare(samples(lognormal(500, 1), "a"), samples(lognormal(500, 2), "b")) == []
    assert compare(samples(lognormal(30, 1)), samples(lognormal(5, 2))) != []


def test_compare_is_deterministic() -> None:
    base, current = samples(lognormal(500, 1)), samples(lognormal(500, 2))
    assert compare(base, current) == compare(base, current)


def _verdict(durations: list[DurationSamples]) -> Verdict:
    return Verdict(run_id="r", source="embedded", window_start="", window_end="", passed=True, exit_code=0,
                   grade="A", grade_rule="", targets=[], tools=[], quality=[], disagreements=[], slowest_path=None,
                   exemplars=[], recommendations=[], durations=durations)  # fmt: skip


def test_a_baseline_verdict_round_trips_and_compares(tmp_path: Path) -> None:
    path = tmp_path / "verdict.json"
    path.write_bytes(msgspec.json.encode(_verdict(samples(lognormal(500, 1)))))
    baseline = load_baseline(path)
    changes = compare(baseline, samples(lognormal(500, 1, 2.0)))
    assert changes and all(c.regression for c in changes)


def test_a_baseline_without_durations_or_unreadable_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "verdict.json"
    path.write_bytes(msgspec.json.encode(_verdict([])))
    with pytest.raises(ConfigError, match="no per-tool durations"):
        load_baseline(path)
    path.write_text("{")
    with pytest.raises(ConfigError, match="cannot read"):
        load_baseline(path)
