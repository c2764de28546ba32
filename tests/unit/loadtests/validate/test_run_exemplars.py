"""Which traces the verdict keeps as exemplars: p50, p95, p99 of the judged calls, and every failure."""

from __future__ import annotations

from loadtests.validate.evaluate import Call
from loadtests.validate.run import _exemplars


def _call(i: int, ms: float, *, error: bool = False) -> Call:
    return Call(
        trace_id=f"{i:032x}",
        tool="search_runbooks",
        start_ns=i,
        duration_ms=ms,
        outcome="failed" if error else "ok",
        error=error,
        unavailable=False,
        cache="hit",
    )


def test_percentile_exemplars_are_the_calls_at_those_ranks_and_every_failure_is_listed():
    calls = [_call(i, float(i + 1)) for i in range(100)] + [_call(1000 + i, 5.0, error=True) for i in range(30)]
    chosen = _exemplars(calls)
    by_label: dict[str, list[Call]] = {}
    for label, call in chosen:
        by_label.setdefault(label, []).append(call)
    ordered = sorted(c.duration_ms for c in calls)
    assert by_label["p50"][0].duration_ms == ordered[64]  # nearest rank: the 65th of 130
    assert by_label["p95"][0].duration_ms == ordered[123]
    assert by_label["p99"][0].duration_ms == ordered[128]
    assert len(by_label["failure"]) == 30
    assert all(c.error for c in by_label["failure"])


def test_no_calls_no_exemplars():
    assert _exemplars([]) == []
