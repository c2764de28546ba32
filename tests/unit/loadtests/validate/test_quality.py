"""Data-quality gates: each one firing on crafted spans and staying quiet on clean ones."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from loadtests.validate.evaluate import evaluate
from loadtests.validate.quality import broken_traces, check_quality, clock_skew, orphan_spans
from loadtests.validate.targets import Config
from otel import contract
from tests.unit.loadtests.validate.helpers import flatten, summary, trace

if TYPE_CHECKING:
    from loadtests.validate.spans import SpanRecord
    from loadtests.validate.verdict import QualityGate


def gates(spans: list[SpanRecord], **kwargs: Any) -> dict[str, QualityGate]:
    s = kwargs.pop("summary", None)
    dropped = kwargs.pop("spans_dropped", None)
    config = kwargs.pop("config", None) or Config()
    evaluation = evaluate(spans, config=config, summary=s)
    found = check_quality(spans, evaluation, config=config, summary=s, spans_dropped=dropped)
    return {g.name: g for g in found}


def clean(n: int = 40) -> list[SpanRecord]:
    return flatten([trace() for _ in range(n)])


def test_clean_spans_pass_every_gate() -> None:
    found = gates(clean(60), summary=summary(durations={"search_runbooks": [5.0] * 60}), spans_dropped=0.0)
    assert {name: g.ok for name, g in found.items()} == dict.fromkeys(found, True)
    assert set(found) == {
        "generator", "traces", "broken_traces", "orphan_spans", "dropped_spans", "sample_size", "sampling",
        "clock_skew", "intended_hit_ratio", "phase_selection",
    }  # fmt: skip


def test_no_traced_call_cannot_be_validated() -> None:
    gate = gates([])["traces"]
    assert not gate.ok and gate.severity == "error"
    outside = gates(flatten([trace(scenario="warmup", at_s=1)]), summary=summary())["traces"]
    assert not outside.ok and "none of the run's 1 traced calls" in outside.detail


def _without_retrieval_server(spans: list[SpanRecord]) -> list[SpanRecord]:
    return [s for s in spans if s.service != contract.RETRIEVAL_SERVICE]


def test_a_gateway_call_answered_without_a_retrieval_server_span_is_broken() -> None:
    broken = _without_retrieval_server(trace())
    ids, total = broken_traces(clean(10) + broken)
    assert ids == [broken[0].trace_id] and total == 11


def test_a_call_that_got_no_answer_is_not_broken() -> None:
    refused = _without_retrieval_server(trace(outcome="unavailable", client_status=None))
    assert broken_traces(refused) == ([], 1)


def test_retrieval_spans_in_a_trace_without_gateway_spans_are_broken() -> None:
    lonely = [s for s in trace() if s.service == contract.RETRIEVAL_SERVICE]
    assert broken_traces(lonely)[0] == [lonely[0].trace_id]


def test_broken_traces_warn_below_the_share_and_stop_the_verdict_above_it() -> None:
    few = gates(clean(99) + _without_retrieval_server(trace()))["broken_traces"]
    assert not few.ok and few.severity == "warning" and few.value == pytest.approx(0.01)
    many = gates(clean(90) + flatten([_without_retrieval_server(trace()) for _ in range(10)]))["broken_traces"]
    assert not many.ok and many.severity == "error"
    assert gates(clean())["broken_traces"].ok


def test_the_gateway_server_span_missing_its_parent_is_expected_others_are_orphans() -> None:
    assert orphan_spans(clean(3)) == [], "the generator's request span is never exported"
    spans = [s for s in trace() if not s.name.startswith("tools/call")]
    orphans = orphan_spans(spans)
    assert [s.kind for s in orphans] == ["client"]
    gate = gates(spans)["orphan_spans"]
    assert not gate.ok and gate.severity == "error", "1 of 6 spans is above 5 %"
    small = gates(clean(40) + spans)["orphan_spans"]
    assert not small.ok and small.severity == "warning"


@pytest.mark.parametrize(
    ("dropped", "ok", "severity"), [(None, True, "error"), (0.0, True, "error"), (1.0, False, "warning"),
                                    (100.0, False, "error")],
)  # fmt: skip
def test_dropped_spans(dropped: float | None, ok: bool, severity: str) -> None:
    gate = gates(clean(), spans_dropped=dropped)["dropped_spans"]
    assert (gate.ok, gate.severity) == (ok, severity)
    if dropped is None:
        assert "not measured" in gate.detail


def test_too_few_samples_for_the_overall_p95_stop_the_verdict() -> None:
    gate = gates(clean(19))["sample_size"]
    assert not gate.ok and gate.severity == "error"
    per_tool = gates(clean(30) + flatten([trace("get_procedure", cache="miss") for _ in range(3)]))["sample_size"]
    assert not per_tool.ok and per_tool.severity == "warning"
    assert "tool:get_procedure" in per_tool.detail


def test_sampling_is_reported_and_counts_reweighted() -> None:
    s = summary(durations={"search_runbooks": [5.0] * 40}, requests=80)
    spans = clean(40)
    gate = gates(spans, summary=s)["sampling"]
    assert not gate.ok and gate.severity == "warning" and gate.value == pytest.approx(0.5)
    assert "re-weighted by 2" in gate.detail
    stats = {(t.tool, t.cache): t for t in evaluate(spans, summary=s).tools}
    assert stats[("search_runbooks", "all")].count_estimated == pytest.approx(80)
    more = gates(spans, summary=summary(durations={"search_runbooks": [5.0] * 20}))["sampling"]
    assert not more.ok and "other traffic" in more.detail
    same = gates(spans, summary=summary(durations={"search_runbooks": [5.0] * 40}))["sampling"]
    assert same.ok and same.value == pytest.approx(1.0)
    assert gates(spans)["sampling"].ok, "no client count: nothing to compare"


def _shift_retrieval(spans: list[SpanRecord], ms: float) -> list[SpanRecord]:
    delta = int(ms * 1e6)
    return [
        msgspec.structs.replace(s, start_ns=s.start_ns + delta, end_ns=s.end_ns + delta)
        if s.service == contract.RETRIEVAL_SERVICE
        else s
        for s in spans
    ]


def test_clock_skew_across_services() -> None:
    assert clock_skew(clean(3), 5.0) == (0, 0.0)
    skewed = _shift_retrieval(trace(duration_ms=10), -8.0)  # retrieval starts 7.8 ms before its client span
    count, worst = clock_skew(skewed, 5.0)
    assert count == 1 and worst == pytest.approx(7.9)
    gate = gates(skewed + clean())["clock_skew"]
    assert not gate.ok and gate.severity == "warning"
    late = _shift_retrieval(trace(duration_ms=10), 9.0)  # the server span ends after its client span
    assert clock_skew(late, 5.0)[0] == 1
    assert clock_skew(_shift_retrieval(trace(duration_ms=10), 3.0), 5.0)[0] == 0, "within the tolerance"


def test_an_untrustworthy_generator_invalidates_the_run() -> None:
    s = summary(durations={"search_runbooks": [5.0] * 40}, trustworthy=False, reasons=["loop lag p99 80 ms"])
    gate = gates(clean(), summary=s)["generator"]
    assert not gate.ok and gate.severity == "error" and "loop lag p99 80 ms" in gate.detail


def test_a_warmer_cache_than_intended_is_a_warning() -> None:
    s = summary(durations={"search_runbooks": [5.0] * 60}, targets={"cache_hit_ratio": 0.5})
    warm = gates(clean(60), summary=s)["intended_hit_ratio"]
    assert not warm.ok and warm.severity == "warning" and warm.value == 1.0
    mixed = flatten([trace() for _ in range(30)] + [trace(cache="miss") for _ in range(30)])
    assert gates(mixed, summary=s)["intended_hit_ratio"].ok
