"""The grade's boundaries, the exit-code rule with --strict, and judge() end to end on a synthetic run."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from loadtests.validate.baseline import duration_samples
from loadtests.validate.evaluate import extract_calls
from loadtests.validate.grading import GRADE_RULE, NO_GRADE, decide, grade, judge
from loadtests.validate.targets import check
from loadtests.validate.verdict import BaselineChange, QualityGate, TargetResult
from tests.unit.loadtests.validate.helpers import flatten, options, summary, trace

if TYPE_CHECKING:
    from loadtests.validate.spans import SpanRecord


def latency(observed: float, *, id_: str = "p95", severity: str = "error", samples: int = 100) -> TargetResult:
    """A latency target against 100 ms: observed 75 is a margin of 0.25."""
    return check(id=id_, description="d", scope="overall", source="server_spans", observed=observed, op="<",
                 bound=100.0, unit="ms", samples=samples, needed=20, severity=severity)  # type: ignore[arg-type]  # fmt: skip


def gate(ok: bool, severity: str = "error") -> QualityGate:
    return QualityGate(name="g", ok=ok, severity=severity, detail="d")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("observed", "letter"),
    [(10.0, "A"), (50.0, "A"), (50.01, "B"), (75.0, "B"), (75.01, "C"), (90.0, "C"), (90.01, "D"), (99.9, "D"),
     (100.0, "F"), (150.0, "F")],
)  # fmt: skip
def test_grade_boundaries_follow_the_tightest_margin(observed: float, letter: str) -> None:
    found = grade([latency(1.0, id_="cached_p95"), latency(observed)])
    assert found.letter == letter
    assert "p95 overall" in found.reason


def test_a_failed_warning_target_lowers_the_grade_one_letter_never_below_d() -> None:
    warning = latency(120.0, id_="p95", severity="warning")
    assert grade([latency(10.0), warning]).letter == "B"
    assert grade([latency(95.0), warning]).letter == "D"
    assert "A → B" in grade([latency(10.0), warning]).reason


def test_pass_fail_only_targets_do_not_set_the_grade() -> None:
    throughput = check(id="throughput_offered", description="d", scope="phase:load", source="client", observed=29.0,
                       op=">=", bound=28.5, unit="rps", samples=600, needed=1)  # fmt: skip
    assert throughput.margin is not None and throughput.margin < 0.1
    assert grade([latency(10.0), throughput]).letter == "A"
    failed = check(id="throughput_offered", description="d", scope="phase:load", source="client", observed=20.0,
                   op=">=", bound=28.5, unit="rps", samples=600, needed=1)  # fmt: skip
    assert grade([latency(10.0), failed]).letter == "F"


def test_no_grade_without_data_or_with_a_failed_error_gate() -> None:
    assert grade([latency(10.0)], [gate(False)]).letter == NO_GRADE
    assert grade([latency(10.0, samples=3)]).letter == NO_GRADE, "not evaluable"
    assert grade([latency(10.0)], [gate(False, "warning")]).letter == "A"
    na = check(id="p95", description="d", scope="s", source="client", observed=500.0, op="<", bound=100, unit="ms",
               inapplicable="w")  # fmt: skip
    assert grade([latency(10.0), na]).letter == "A"
    assert "F if any error-severity target failed" in GRADE_RULE


def test_exit_codes() -> None:
    assert decide([latency(10.0)]) == (True, 0)
    assert decide([latency(150.0)]) == (False, 1)
    assert decide([latency(10.0)], [gate(False)]) == (False, 2)
    assert decide([latency(150.0)], [gate(False)]) == (False, 2), "bad data: no verdict at all"
    assert decide([latency(10.0, samples=3)]) == (False, 2), "nothing evaluable"
    assert decide([]) == (False, 2)


def test_strict_fails_on_warnings_unevaluable_targets_and_warning_gates() -> None:
    warning = latency(120.0, severity="warning")
    assert decide([latency(10.0), warning]) == (True, 0)
    assert decide([latency(10.0), warning], strict=True) == (False, 1)
    unevaluable = latency(10.0, samples=3)
    assert decide([latency(10.0), unevaluable]) == (True, 0)
    assert decide([latency(10.0), unevaluable], strict=True) == (False, 1)
    assert decide([latency(10.0)], [gate(False, "warning")], strict=True) == (False, 1)
    assert decide([latency(10.0)], [gate(True)], strict=True) == (True, 0)


def test_targets_that_do_not_apply_never_fail_even_strictly() -> None:
    na = check(id="throughput_min", description="d", scope="phase:load", source="client", observed=5.0, op=">=",
               bound=10, unit="rps", inapplicable="the scenario offered 5 RPS")  # fmt: skip
    assert decide([latency(10.0), na], strict=True) == (True, 0)


def test_a_baseline_regression_fails_the_run() -> None:
    change = BaselineChange(tool="all", stat="p95", baseline_ms=10, current_ms=20, change=1.0, ci_low=0.8,
                            ci_high=1.2, regression=True)  # fmt: skip
    assert decide([latency(10.0)], baseline=[change]) == (False, 1)
    calm = BaselineChange(tool="all", stat="p95", baseline_ms=10, current_ms=10.1, change=0.01, ci_low=-0.05,
                          ci_high=0.06, regression=False)  # fmt: skip
    assert decide([latency(10.0)], baseline=[calm]) == (True, 0)


def _run(n: int, ms: float) -> list[SpanRecord]:
    return flatten([trace(cache="l1", duration_ms=ms) for _ in range(n)])


def test_judge_end_to_end() -> None:
    spans = _run(120, 20.0)
    s = summary(
        options_=options(rps=6.0), durations={"search_runbooks": [21.0] * 120}, targets={"cache_hit_ratio": 0.95}
    )
    result = judge(spans, summary=s)
    failing = [(t.id, t.scope, t.source, t.note) for t in result.evaluation.targets if t.passed is False]
    assert failing == []
    errors = [g for g in result.quality if not g.ok and g.severity == "error"]
    assert errors == []
    assert (result.passed, result.exit_code) == (True, 0)
    assert result.grade == "A" and result.grade_rule == GRADE_RULE
    assert [d.tool for d in result.durations] == ["all", "search_runbooks"]
    assert result.baseline is None
    assert result.recommendations == [], "a passing run gets no advice"
    assert [t.applicable for t in result.evaluation.targets if t.id == "throughput_min"] == [False], "6 RPS offered"
    strict = judge(spans, summary=s, strict=True)
    assert strict.exit_code == 1, "memory and CPU could not be evaluated without metrics"


def test_judge_compares_with_a_baseline() -> None:
    before = duration_samples(extract_calls(_run(150, 20.0)))
    slower = judge(_run(150, 30.0), baseline=before)
    assert slower.baseline and all(c.regression for c in slower.baseline)
    assert slower.exit_code == 1
    same = judge(_run(150, 20.0), baseline=before)
    assert same.baseline and not any(c.regression for c in same.baseline)
