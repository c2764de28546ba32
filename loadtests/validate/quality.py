"""Data-quality gates: whether the spans and samples can support a verdict at all, checked before any verdict.

Each gate is a :class:`QualityGate`. A failed ``error`` gate means "could not validate" (exit 2): the targets may
have been evaluated, but on data that cannot be trusted. A failed ``warning`` gate is reported, and fails the run
only with ``--strict``. A passing gate carries the severity it would have had.

* ``traces``: the judged phase has traced tool calls (none: error).
* ``broken_traces``: a gateway call to retrieval that got an answer (its CLIENT span has a status code) without a
  retrieval SERVER span under it, or retrieval SERVER spans in a trace without any gateway span: propagation lost.
  A call that got no answer (refused, timed out, breaker open) is not broken. Above ``broken_share_error`` of the
  traces: error (cache outcomes and the critical path would be wrong), else a warning.
* ``orphan_spans``: spans whose parent is not in their trace, except the gateway SERVER span, whose parent is the
  load generator's own request span (never exported, by design).
* ``dropped_spans``: ``pp.telemetry.spans.dropped`` over the run; above ``dropped_share_error`` of the spans
  received: error (dropping happens under load, so what is left is biased towards the quiet moments).
* ``sample_size``: too few calls in the phase for a p95 (error), or per-tool/outcome figures not evaluable (warning).
* ``sampling``: traced calls against the client's tool calls. Fewer: sampled — the ratio is reported and counts are
  re-weighted (``ToolStats.count_estimated``); percentiles of a uniform sample stay unbiased. More: spans of other
  traffic carry the run id (warning).
* ``clock_skew``: a child span in another service starting before its parent, or ending after it (a retrieval
  SERVER span outside its gateway CLIENT span), by more than ``clock_skew_ms``. A warning: each duration comes from
  one process's clock, so the targets stand, but cross-service attribution of the critical path does not.
* ``generator``: the load generator's own health (loop lag, lateness, dropped iterations): untrustworthy is an
  error, as the design says — a run whose generator lagged is invalid, not blamed on the server.
* ``intended_hit_ratio``: the measured hit rate above the scenario's intended ratio plus the tolerance (a warning:
  the run tested a warmer cache than the scenario meant to; falling short is a target, not a gate).
* ``phase_selection``: how the judged phase was selected (informational).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Literal

from loadtests.validate.targets import Config
from loadtests.validate.verdict import QualityGate
from otel import contract

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from loadtests.output.results import Health, Summary
    from loadtests.validate.evaluate import Evaluation
    from loadtests.validate.spans import SpanRecord
    from loadtests.validate.targets import QualityRules, SampleMinimums

__all__ = (
    "broken_traces",
    "check_quality",
    "clock_skew",
    "orphan_spans",
)


def check_quality(
    spans: Sequence[SpanRecord],
    evaluation: Evaluation,
    *,
    config: Config | None = None,
    summary: Summary | None = None,
    spans_dropped: float | None = None,
) -> list[QualityGate]:
    """Every gate, in the order a reader should fix them (module docstring)."""
    config = config or Config()
    rules = config.quality
    traces = _by_trace(spans)  # once for the three structural gates: a run may hold millions of spans
    return [
        _generator(summary.health if summary is not None else None),
        _traces(evaluation, rules),
        _broken(traces, rules),
        _orphans(traces, len(spans), rules),
        _dropped(spans_dropped, len(spans), rules),
        _sample_size(evaluation, config.samples),
        _sampling(evaluation, rules),
        _skew(traces, rules),
        _intended(evaluation, config.cache.hit_ratio_tolerance),
        QualityGate(name="phase_selection", ok=True, severity="warning", detail=evaluation.selection.detail),
    ]


def _gate(name: str, bad: bool, share: float, limit: float, detail: str, value: float | None = None) -> QualityGate:
    severity: Literal["error", "warning"] = "error" if (not bad or share > limit) else "warning"
    return QualityGate(name=name, ok=not bad, severity=severity, detail=detail, value=value)


def _by_trace(spans: Iterable[SpanRecord]) -> dict[str, list[SpanRecord]]:
    traces: dict[str, list[SpanRecord]] = defaultdict(list)
    for span in spans:
        traces[span.trace_id].append(span)
    return traces


# -- structure ----------------------------------------------------------------------------------------------------


def broken_traces(spans: Iterable[SpanRecord]) -> tuple[list[str], int]:
    """Trace ids whose propagation broke between the services, and how many traces hold service spans."""
    return _broken_traces(_by_trace(spans))


def _broken_traces(traces: dict[str, list[SpanRecord]]) -> tuple[list[str], int]:
    broken: list[str] = []
    total = 0
    for trace_id, members in traces.items():
        services = {s.service for s in members}
        if not services & {contract.GATEWAY_SERVICE, contract.RETRIEVAL_SERVICE}:
            continue
        total += 1
        retrieval_servers = [s for s in members if s.service == contract.RETRIEVAL_SERVICE and s.kind == "server"]
        if contract.GATEWAY_SERVICE not in services:
            if retrieval_servers:
                broken.append(trace_id)
            continue
        children = {s.parent_id for s in retrieval_servers}
        answered = (
            s
            for s in members
            if s.service == contract.GATEWAY_SERVICE
            and s.kind == "client"
            and s.attributes.get(contract.HTTP_RESPONSE_STATUS_CODE) is not None
        )
        if any(client.span_id not in children for client in answered):
            broken.append(trace_id)
    return broken, total


def orphan_spans(spans: Iterable[SpanRecord]) -> list[SpanRecord]:
    """Spans whose parent is missing from their trace, except the gateway SERVER span (its parent is the client's)."""
    return _orphan_spans(_by_trace(spans))


def _orphan_spans(traces: dict[str, list[SpanRecord]]) -> list[SpanRecord]:
    orphans: list[SpanRecord] = []
    for members in traces.values():
        ids = {s.span_id for s in members}
        for span in members:
            if span.parent_id is None or span.parent_id in ids:
                continue
            if span.kind == "server" and span.service == contract.GATEWAY_SERVICE:
                continue
            orphans.append(span)
    return orphans


def clock_skew(spans: Iterable[SpanRecord], tolerance_ms: float) -> tuple[int, float]:
    """Cross-service parent/child pairs out of order by more than ``tolerance_ms``, and the worst offset (ms)."""
    return _clock_skew(_by_trace(spans), tolerance_ms)


def _clock_skew(traces: dict[str, list[SpanRecord]], tolerance_ms: float) -> tuple[int, float]:
    count, worst = 0, 0.0
    tolerance_ns = tolerance_ms * 1e6
    for members in traces.values():
        by_id = {s.span_id: s for s in members}
        for span in members:
            parent = by_id.get(span.parent_id) if span.parent_id else None
            if parent is None or parent.service == span.service:
                continue
            offset = max(parent.start_ns - span.start_ns, span.end_ns - parent.end_ns)
            if offset > tolerance_ns:
                count += 1
                worst = max(worst, offset / 1e6)
    return count, worst


def _broken(traces: dict[str, list[SpanRecord]], rules: QualityRules) -> QualityGate:
    broken, total = _broken_traces(traces)
    share = len(broken) / total if total else 0.0
    if not broken:
        detail = f"every one of {total} traces joins gateway and retrieval"
    else:
        detail = (
            f"{len(broken)} of {total} traces ({share:.1%}) lost propagation between gateway and retrieval "
            f"(e.g. {broken[0]}): their cache outcomes are unknown and their retrieval time is unattributed"
        )
    return _gate("broken_traces", bool(broken), share, rules.broken_share_error, detail, share)


def _orphans(traces: dict[str, list[SpanRecord]], spans: int, rules: QualityRules) -> QualityGate:
    orphans = _orphan_spans(traces)
    share = len(orphans) / spans if spans else 0.0
    if not orphans:
        detail = f"no span of {spans} misses its parent (the gateway server spans' parent is the client's)"
    else:
        names = sorted({f"{s.service} {s.name}" for s in orphans})[:3]
        detail = f"{len(orphans)} spans ({share:.1%}) whose parent is not in their trace: {', '.join(names)}"
    return _gate("orphan_spans", bool(orphans), share, rules.orphan_share_error, detail, float(len(orphans)))


def _dropped(dropped: float | None, received: int, rules: QualityRules) -> QualityGate:
    if dropped is None:
        return QualityGate(
            name="dropped_spans",
            ok=True,
            severity="error",
            detail=f"not measured: no {contract.SPANS_DROPPED} from the metrics source",
        )
    share = dropped / (dropped + received) if dropped + received else 0.0
    if dropped <= 0:
        detail = "no span was dropped by an exporter"
    else:
        detail = (
            f"{dropped:.0f} spans dropped by exporters ({share:.2%} of those produced): traced figures under-count "
            "the busiest moments"
        )
    return _gate("dropped_spans", dropped > 0, share, rules.dropped_share_error, detail, dropped)


# -- samples ------------------------------------------------------------------------------------------------------


def _traces(evaluation: Evaluation, rules: QualityRules) -> QualityGate:
    n, everything = len(evaluation.selected), len(evaluation.calls)
    ok = n >= rules.min_traces
    if ok:
        detail = f"{n} traced tool calls in the judged phase ({everything} in the run)"
    elif everything:
        detail = f"none of the run's {everything} traced calls is in the judged phase: {evaluation.selection.detail}"
    else:
        detail = "no traced tool call for this run: wrong run id, spans not flushed, or tracing off"
    return QualityGate(name="traces", ok=ok, severity="error", detail=detail, value=float(n))


def _sample_size(evaluation: Evaluation, samples: SampleMinimums) -> QualityGate:
    n = len(evaluation.selected)
    if n < samples.p95:
        return QualityGate(
            name="sample_size",
            ok=False,
            severity="error",
            detail=f"{n} calls in the judged phase; a p95 needs at least {samples.p95}",
            value=float(n),
        )
    short = [
        f"{t.id} {t.scope} ({t.samples})"
        for t in evaluation.targets
        if t.passed is None and t.applicable and t.samples > 0 and t.source == "server_spans"
    ]
    if not short:
        return QualityGate(
            name="sample_size", ok=True, severity="warning", detail=f"{n} calls: every figure had enough samples"
        )
    return QualityGate(
        name="sample_size",
        ok=False,
        severity="warning",
        detail=f"not evaluable for too few samples: {', '.join(short[:8])}{' …' if len(short) > 8 else ''}",
        value=float(len(short)),
    )


def _sampling(evaluation: Evaluation, rules: QualityRules) -> QualityGate:
    ratio, requests = evaluation.sampling_ratio, evaluation.client_requests
    if ratio is None or not requests:
        return QualityGate(name="sampling", ok=True, severity="warning", detail="no client request count to compare")
    traced = len(evaluation.selected)
    if ratio < 1 - rules.sampling_tolerance:
        detail = (
            f"{traced} traced calls for {requests:.0f} client requests: sampled at {ratio:.3f}; counts are "
            f"re-weighted by {1 / ratio:.3g}"
            if ratio > 0
            else f"no traced call for {requests:.0f} client requests"
        )
        return QualityGate(name="sampling", ok=False, severity="warning", detail=detail, value=ratio)
    if ratio > 1 + rules.sampling_tolerance:
        detail = (
            f"{traced} traced calls for {requests:.0f} client requests: spans of other traffic carry this run id, "
            "or calls were retried"
        )
        return QualityGate(name="sampling", ok=False, severity="warning", detail=detail, value=ratio)
    return QualityGate(
        name="sampling",
        ok=True,
        severity="warning",
        detail=f"{traced} traced calls for {requests:.0f} client requests: every request traced",
        value=ratio,
    )


def _skew(traces: dict[str, list[SpanRecord]], rules: QualityRules) -> QualityGate:
    count, worst = _clock_skew(traces, rules.clock_skew_ms)
    if not count:
        return QualityGate(
            name="clock_skew",
            ok=True,
            severity="warning",
            detail=f"every cross-service child lies within its parent (±{rules.clock_skew_ms:g} ms)",
            value=worst,
        )
    return QualityGate(
        name="clock_skew",
        ok=False,
        severity="warning",
        detail=(
            f"{count} cross-service spans lie outside their parent by up to {worst:.1f} ms: the hosts' clocks "
            "disagree, or (on one host) a server span outlived its caller's span; durations stand, cross-service "
            "attribution of the critical path is approximate"
        ),
        value=worst,
    )


def _generator(health: Health | None) -> QualityGate:
    if health is None:
        return QualityGate(name="generator", ok=True, severity="error", detail="no load summary: not checked")
    if health.trustworthy:
        lag = f"loop lag p99 {health.loop_lag_p99_ms:.1f} ms" if health.loop_lag_p99_ms is not None else "no lag data"
        return QualityGate(
            name="generator", ok=True, severity="error", detail=f"the generator kept its schedule ({lag})"
        )
    return QualityGate(
        name="generator",
        ok=False,
        severity="error",
        detail=f"the load generator did not keep its schedule: {'; '.join(health.reasons) or 'untrustworthy'}",
        value=float(health.dropped_iterations),
    )


def _intended(evaluation: Evaluation, tolerance: float) -> QualityGate:
    intended, measured = evaluation.effective.intended_hit_ratio, evaluation.hit_rate
    if intended is None or measured is None:
        return QualityGate(name="intended_hit_ratio", ok=True, severity="warning", detail="no intended ratio to check")
    if measured > intended + tolerance:
        return QualityGate(
            name="intended_hit_ratio",
            ok=False,
            severity="warning",
            detail=(
                f"hit rate {measured:.2f} against the scenario's intended {intended:g} (±{tolerance:g}): the run "
                "tested a warmer cache than it meant to, so its latencies are optimistic"
            ),
            value=measured,
        )
    return QualityGate(
        name="intended_hit_ratio",
        ok=True,
        severity="warning",
        detail=f"hit rate {measured:.2f}, intended {intended:g}",
        value=measured,
    )
