"""The grade, the exit code, and ``judge``: evaluation, gates, grade, recommendations and baseline in one call.

**Grade** (``GRADE_RULE``, printed by every report). The original graded by counting issues (0 → A, ≤ 2 → B, ≤ 4 →
C, else F, no D) or by subtracting points unrelated to the targets, so a run could fail a target and still get a
B, and no grade said how close to a bound a run was. Here the grade is about the targets only: any failed
error-severity target is an F; otherwise the grade is the *headroom* of the tightest headroom target — latency,
cold start, errors, availability, memory, CPU, the quantities the service controls — measured as its margin
(:func:`~loadtests.validate.targets.margin`: the unused share of the target's budget). Throughput and cache-hit
targets are met or not, with no headroom grade: in an open-model run the traffic, not the service, sets how far
above their bounds they land.

**Exit code** (:func:`decide`): 2 when a failed error gate or the lack of any evaluable error target leaves nothing
to judge ("could not validate"); 1 when an applicable error-severity target failed or a baseline comparison found a
regression; with ``strict``, also 1 for a failed warning target, a target that could not be evaluated, or a failed
warning gate; otherwise 0. Targets that do not apply to the scenario (``applicable=False``) never count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import msgspec

from loadtests.validate.baseline import compare, duration_samples
from loadtests.validate.evaluate import Evaluation, MetricInputs, evaluate
from loadtests.validate.quality import check_quality
from loadtests.validate.recommend import recommend
from loadtests.validate.targets import Config
from loadtests.validate.verdict import BaselineChange, DurationSamples, QualityGate, TargetResult, Verdict

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from loadtests.output.results import Summary
    from loadtests.validate.spans import SpanRecord
    from loadtests.validate.verdict import PathReport

__all__ = (
    "GRADE_RULE",
    "GRADE_STEPS",
    "HEADROOM_TARGETS",
    "NO_GRADE",
    "Grade",
    "Judgement",
    "decide",
    "grade",
    "judge",
)

HEADROOM_TARGETS = frozenset(
    {"p95", "cached_p95", "uncached_p95", "cold_max", "error_rate", "availability", "memory", "cpu"}
)
GRADE_STEPS: tuple[tuple[float, str], ...] = ((0.50, "A"), (0.25, "B"), (0.10, "C"))
NO_GRADE = "N/A"
_LOWER = {"A": "B", "B": "C", "C": "D", "D": "D"}

GRADE_RULE = (
    "F if any error-severity target failed. Otherwise the smallest margin m among the evaluated error-severity "
    "latency, cold-start, error-rate, availability, memory and CPU targets (m = the unused share of the target's "
    "budget, e.g. p95 150 ms against 200 ms is 0.25) sets the grade: A if m ≥ 0.50, B if m ≥ 0.25, C if m ≥ 0.10, "
    "D below. A failed warning-severity target lowers it one letter (never below D). Throughput and cache-hit "
    "targets are pass/fail only. N/A when an error quality gate failed or no error-severity target was evaluated."
)


class Grade(NamedTuple):
    letter: str
    reason: str


def _error_gate(gates: Iterable[QualityGate]) -> QualityGate | None:
    return next((g for g in gates if not g.ok and g.severity == "error"), None)


def _describe(t: TargetResult) -> str:
    observed = "—" if t.observed is None else f"{t.observed:.4g}"
    return f"{t.id} {t.scope} ({t.source}): {observed} {t.unit}, bound {t.op} {t.bound:g}"


def grade(targets: Sequence[TargetResult], gates: Sequence[QualityGate] = ()) -> Grade:
    """The letter and the target that set it (``GRADE_RULE``)."""
    gate = _error_gate(gates)
    if gate is not None:
        return Grade(NO_GRADE, f"could not validate: {gate.name} — {gate.detail}")
    judged = [t for t in targets if t.applicable and t.passed is not None]
    errors = [t for t in judged if t.severity == "error"]
    if not errors:
        return Grade(NO_GRADE, "no error-severity target could be evaluated")
    failed = [t for t in errors if t.passed is False]
    if failed:
        worst = min(failed, key=lambda t: t.margin if t.margin is not None else 0.0)
        more = f" and {len(failed) - 1} more" if len(failed) > 1 else ""
        return Grade("F", f"failed: {_describe(worst)}{more}")
    headroom = [t for t in errors if t.id in HEADROOM_TARGETS and t.margin is not None]
    if not headroom:
        return Grade(NO_GRADE, "no latency, error, availability or resource target could be evaluated")
    tightest = min(headroom, key=lambda t: t.margin if t.margin is not None else 0.0)
    m = tightest.margin if tightest.margin is not None else 0.0
    letter = next((letter for floor, letter in GRADE_STEPS if m >= floor), "D")
    reason = f"tightest margin {m:.2f}: {_describe(tightest)}"
    warnings = [t for t in judged if t.severity == "warning" and t.passed is False]
    if warnings:
        lowered = _LOWER[letter]
        reason += f"; {letter} → {lowered} for a failed warning target: {_describe(warnings[0])}"
        letter = lowered
    return Grade(letter, reason)


def decide(
    targets: Sequence[TargetResult],
    gates: Sequence[QualityGate] = (),
    strict: bool = False,
    baseline: Sequence[BaselineChange] | None = None,
) -> tuple[bool, int]:
    """``(passed, exit_code)``: 0 pass, 1 a target failed (or a regression), 2 could not validate (module docs)."""
    if _error_gate(gates) is not None:
        return False, 2
    applicable = [t for t in targets if t.applicable]
    if not any(t.passed is not None and t.severity == "error" for t in applicable):
        return False, 2
    if any(t.passed is False and t.severity == "error" for t in applicable):
        return False, 1
    if baseline and any(change.regression for change in baseline):
        return False, 1
    if strict and (any(t.passed is not True for t in applicable) or any(not g.ok for g in gates)):
        return False, 1
    return True, 0


class Judgement(msgspec.Struct, kw_only=True):
    """Everything a :class:`Verdict` needs from the judgement (the orchestrator adds sources, path, exemplars)."""

    evaluation: Evaluation
    quality: list[QualityGate]
    grade: str
    grade_rule: str
    grade_reason: str
    recommendations: list[str]
    baseline: list[BaselineChange] | None
    durations: list[DurationSamples]
    passed: bool
    exit_code: int


def judge(
    spans: Sequence[SpanRecord],
    *,
    config: Config | None = None,
    summary: Summary | None = None,
    metrics: MetricInputs | None = None,
    path: PathReport | None = None,
    baseline: Verdict | Sequence[DurationSamples] | None = None,
    strict: bool = False,
) -> Judgement:
    """Evaluate the targets, check the data, grade, recommend and compare: in that order, on one run's data."""
    config = config or Config()
    metrics = metrics or MetricInputs()
    evaluation = evaluate(spans, config=config, summary=summary, metrics=metrics)
    gates = check_quality(spans, evaluation, config=config, summary=summary, spans_dropped=metrics.spans_dropped)
    durations = duration_samples(evaluation.selected, config.baseline.max_samples, config.baseline.seed)
    changes = compare(baseline, durations, config.baseline, config.samples) if baseline is not None else None
    letter, reason = grade(evaluation.targets, gates)
    passed, exit_code = decide(evaluation.targets, gates, strict, changes)
    return Judgement(
        evaluation=evaluation,
        quality=gates,
        grade=letter,
        grade_rule=GRADE_RULE,
        grade_reason=reason,
        recommendations=recommend(evaluation, gates, path, summary, config),
        baseline=changes,
        durations=durations,
        passed=passed,
        exit_code=exit_code,
    )
