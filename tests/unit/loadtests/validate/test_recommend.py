"""Recommendations: each triggered by crafted findings, naming its evidence; none for a clean run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from loadtests.validate.evaluate import Call, Evaluation, PhaseSelection
from loadtests.validate.recommend import recommend
from loadtests.validate.targets import Effective, Targets, check
from loadtests.validate.verdict import Disagreement, PathReport, PathShare, QualityGate, TargetResult
from tests.unit.loadtests.validate.helpers import summary

if TYPE_CHECKING:
    from collections.abc import Sequence


def evaluation(
    targets: Sequence[TargetResult] = (),
    *,
    errors_by_tool: dict[str, dict[str, int]] | None = None,
    hit_rate: float | None = None,
    hit_rate_by_tool: dict[str, float] | None = None,
    disagreements: Sequence[Disagreement] = (),
    cold: Sequence[Call] = (),
    duration_s: float | None = None,
) -> Evaluation:
    return Evaluation(
        targets=list(targets),
        tools=[],
        disagreements=list(disagreements),
        selection=PhaseSelection(method="none", duration_s=duration_s),
        effective=Effective(targets=Targets(), intended_hit_ratio=None, notes=[]),
        calls=[],
        selected=[],
        cold=list(cold),
        client_requests=None,
        sampling_ratio=None,
        achieved_rps=None,
        offered_rps=None,
        hit_rate=hit_rate,
        hit_rate_by_tool=hit_rate_by_tool or {},
        errors_by_tool=errors_by_tool or {},
        notes=[],
    )


def target(id_: str, observed: float, bound: float, *, op: str = "<", unit: str = "ms", scope: str = "overall",
           samples: int = 500, needed: int = 20, severity: str = "error") -> TargetResult:  # fmt: skip
    return check(id=id_, description="d", scope=scope, source="server_spans", observed=observed, op=op, bound=bound,  # type: ignore[arg-type]
                 unit=unit, samples=samples, needed=needed, severity=severity)  # type: ignore[arg-type]  # fmt: skip


def share(service: str, operation: str, slow: float, self_p95: float = 12.0) -> PathShare:
    return PathShare(service=service, operation=operation, share_all=slow / 2, share_slow=slow, share_median=slow / 3,
                     self_ms_mean=self_p95 / 2, self_ms_p50=self_p95 / 3, self_ms_p95=self_p95, traces_on_path=40,
                     share_mean=slow, share_p50=slow, share_p95=slow, exemplar_trace_id="cd" * 16)  # fmt: skip


def path(*shares: PathShare) -> PathReport:
    return PathReport(traces=1000, slow_traces=50, median_traces=500, p95_root_ms=300.0, shares=list(shares),
                      sentence="s")  # fmt: skip


def test_a_clean_run_gets_no_advice() -> None:
    clean = evaluation([target("p95", 50, 1000), target("error_rate", 0.0, 0.02, unit="ratio")], hit_rate=0.9)
    assert recommend(clean, [QualityGate(name="traces", ok=True, severity="error", detail="d")]) == []


def test_a_low_hit_rate_with_searches_on_the_critical_path_names_the_tool() -> None:
    found = evaluation(
        [target("cache_hit_min", 0.55, 0.70, op=">=", unit="ratio")],
        hit_rate=0.55,
        hit_rate_by_tool={"search_runbooks": 0.6, "get_decision_tree": 0.3},
    )
    (advice,) = recommend(found, [], path(share("pp-retrieval", "search runbooks", 0.4), share("pp-gateway", "x", 0.1)))
    assert advice.startswith("Caching: the hit rate was 0.55 against 0.70 (cache_hit_min)")
    assert "get_decision_tree hit least (0.30)" in advice
    assert "`search runbooks` holds 40%" in advice
    without_path = recommend(found, [])[0]
    assert "search runbooks" not in without_path and "get_decision_tree" in without_path


def test_redis_dominating_the_critical_path() -> None:
    found = evaluation([target("p95", 50, 1000)])
    advice = recommend(found, [], path(share("pp-retrieval", "GET", 0.2), share("pp-retrieval", "SETEX", 0.1)))
    assert len(advice) == 1 and "Redis dominates the critical path: 30%" in advice[0]
    assert "connection pool" in advice[0] and "pipeline" in advice[0]
    assert recommend(found, [], path(share("pp-retrieval", "GET", 0.1))) == []


def test_errors_concentrated_in_one_tool_name_it_and_its_outcome() -> None:
    found = evaluation(
        [target("error_rate", 0.05, 0.02, unit="ratio")],
        errors_by_tool={"get_escalation_path": {"unavailable": 40, "failed": 5}, "search_runbooks": {"failed": 5}},
    )
    (advice,) = recommend(found, [])
    assert "concentrated in get_escalation_path: 45 of the 50 failed calls (90%)" in advice
    assert "mostly `unavailable` (40)" in advice and "retrieval did not answer" in advice
    spread = evaluation(
        [target("error_rate", 0.05, 0.02, unit="ratio")],
        errors_by_tool={"a": {"failed": 5}, "b": {"failed": 4}, "c": {"invalid_arguments": 4}},
    )
    assert "spread across tools" in recommend(spread, [])[0]
    passing = evaluation([target("error_rate", 0.01, 0.02, unit="ratio")], errors_by_tool={"a": {"failed": 9}})
    assert recommend(passing, []) == []


def test_corrected_far_above_uncorrected_points_at_stalls_or_vus() -> None:
    d = Disagreement(what="overall p99: corrected vs uncorrected client latency",
                     values={"client_corrected_ms": 900.0, "client_ms": 40.0}, explanation="e")  # fmt: skip
    (advice,) = recommend(evaluation(disagreements=[d]), [], summary=summary())
    assert "corrected 900 ms against 40 ms uncorrected" in advice and "raise maxVUs" in advice


def test_an_untrustworthy_generator_comes_first() -> None:
    gates = [
        QualityGate(name="generator", ok=False, severity="error", detail="loop lag p99 80 ms"),
        QualityGate(name="dropped_spans", ok=False, severity="warning", detail="12 spans dropped"),
    ]
    advice = recommend(evaluation([target("p95", 1500, 1000)]), gates)
    assert advice[0].startswith("Fix the load generator first — loop lag p99 80 ms")
    assert "more worker processes" in advice[0]
    assert any("OTEL_BSP_MAX_QUEUE_SIZE" in a for a in advice)


def test_a_latency_failure_points_at_the_slowest_path() -> None:
    found = evaluation([target("uncached_p95", 900, 500, scope="tool:search_knowledge_base/cache:miss")])
    (advice,) = recommend(found, [], path(share("pp-retrieval", "search knowledge_base", 0.7, 400.0)))
    assert "uncached_p95 for tool:search_knowledge_base/cache:miss (server_spans) was 900 ms" in advice
    assert "`search knowledge_base` (pp-retrieval) holds 70%" in advice and "self time p95 400.0 ms" in advice
    assert "exemplar trace " + "cd" * 16 in advice


def test_too_few_samples_suggest_a_longer_run() -> None:
    found = evaluation([target("uncached_p95", 300, 500, scope="tool:x/cache:miss", samples=5)], duration_s=60)
    (advice,) = recommend(found, [])
    assert "had 5 of 20 needed; at this phase's rate that takes about 240 s" in advice


def test_resources_and_cold_starts() -> None:
    cold = Call(trace_id="ab" * 16, tool="search_runbooks", start_ns=0, duration_ms=3200.0, outcome="ok",
                error=False, unavailable=False, cache="miss")  # fmt: skip
    found = evaluation(
        [
            target("memory", 3000, 2048, unit="MB", scope="instance:pp-retrieval/1"),
            target("cpu", 95, 80, unit="percent", scope="instance:pp-gateway/1"),
            target("cold_max", 3200, 2000, scope="cold", needed=1),
        ],
        cold=[cold],
    )
    advice = recommend(found, [])
    assert any(a.startswith("Memory: instance:pp-retrieval/1 peaked at 3000 MB") for a in advice)
    assert any(a.startswith("CPU: instance:pp-gateway/1 averaged 95 %") for a in advice)
    assert any("search_runbooks's first uncached call took 3200 ms" in a and "abab" in a for a in advice)
