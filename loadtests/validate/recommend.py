"""Recommendations derived from the findings: each one sentence that names its evidence, most urgent first.

Order: the generator (nothing else means anything if it lagged), telemetry (the evidence itself), then the service —
errors, coordinated omission, time outside the services, latency with its slowest path, caching, Redis, capacity,
resources, cold starts — and last, how to make the next run conclusive (too few samples, a warmer cache than
intended). A finding without a failed target or a failed gate recommends nothing: a passing run gets no advice.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from loadtests.validate.targets import Config
from otel import contract

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from loadtests.output.results import Summary
    from loadtests.validate.evaluate import Evaluation
    from loadtests.validate.targets import SampleMinimums
    from loadtests.validate.verdict import PathReport, PathShare, QualityGate, TargetResult

__all__ = ("ERROR_ADVICE", "REDIS_COMMANDS", "recommend")

REDIS_COMMANDS = frozenset(
    {"GET", "SET", "SETEX", "MGET", "MSET", "DEL", "EXPIRE", "TTL", "PTTL", "EVALSHA", "EVAL", "PIPELINE", "MULTI"}
)
"""Span names of the Redis client instrumentation (the command), which mark Redis time on the critical path."""

ERROR_ADVICE = {
    "unavailable": "retrieval did not answer (refused, timed out, or the breaker was open): check its health and "
    "the gateway's timeout and pool",
    "failed": "retrieval answered with errors: read its error spans (exemplar traces) for the exception",
    "invalid_arguments": "the client sent arguments the tool rejects: a script or traffic-model bug, not the service",
    "unknown_tool": "the client called a tool the gateway does not have: a script bug",
    "not_found": "the corpus lacks what the calls ask for: check the traffic model's ids against the corpus",
}

CONCENTRATED = 0.6
"""One tool holding this share of the failures is "concentrated" in it."""
MIN_ERRORS = 5
SLOW_SHARE = 0.25
"""An operation holding this share of the slow traces' critical path dominates it."""


def recommend(
    evaluation: Evaluation,
    gates: Sequence[QualityGate],
    path: PathReport | None = None,
    summary: Summary | None = None,
    config: Config | None = None,
) -> list[str]:
    """The recommendations for these findings (module docstring)."""
    failed = {g.name: g for g in gates if not g.ok}
    out: list[str] = []
    generator = failed.get("generator")
    if generator is not None:
        out.append(
            f"Fix the load generator first — {generator.detail}. Its latency figures measure itself: give it more "
            "worker processes (--workers) or machines (--shard i/n), or lower the rate."
        )
    out.extend(_telemetry(failed))
    targets = [t for t in evaluation.targets if t.applicable]
    out.extend(_errors(evaluation, targets))
    out.extend(_disagreements(evaluation, summary))
    out.extend(_latency(targets, path))
    out.extend(_caching(evaluation, targets, path))
    out.extend(_redis(path))
    out.extend(_capacity(targets, summary))
    out.extend(_resources(targets))
    out.extend(_cold(evaluation, targets))
    out.extend(_next_run(evaluation, failed, (config or Config()).samples))
    return out


def _failed(targets: Iterable[TargetResult], *ids: str) -> list[TargetResult]:
    return [t for t in targets if t.id in ids and t.passed is False]


def _telemetry(failed: dict[str, QualityGate]) -> list[str]:
    out: list[str] = []
    if "broken_traces" in failed:
        out.append(
            f"Fix trace propagation between gateway and retrieval ({failed['broken_traces'].detail}): the gateway's "
            "retrieval client must send traceparent and baggage on every call."
        )
    if "dropped_spans" in failed:
        out.append(
            f"Stop dropping spans ({failed['dropped_spans'].detail}): raise the exporter queue "
            "(OTEL_BSP_MAX_QUEUE_SIZE), export in larger batches, or check that the collector accepts them."
        )
    if "orphan_spans" in failed:
        out.append(f"Find the missing parents ({failed['orphan_spans'].detail}): a service drops or re-roots spans.")
    if "clock_skew" in failed:
        out.append(
            f"Check clock sync (chrony/NTP) across hosts before reading the cross-service critical path: "
            f"{failed['clock_skew'].detail}."
        )
    return out


def _errors(evaluation: Evaluation, targets: Sequence[TargetResult]) -> list[str]:
    if not _failed(targets, "error_rate", "availability"):
        return []
    by_tool = {tool: sum(outcomes.values()) for tool, outcomes in evaluation.errors_by_tool.items()}
    total = sum(by_tool.values())
    if total < MIN_ERRORS:
        return []
    tool, count = max(by_tool.items(), key=lambda kv: (kv[1], kv[0]))
    outcome, outcome_count = max(evaluation.errors_by_tool[tool].items(), key=lambda kv: (kv[1], kv[0]))
    advice = ERROR_ADVICE.get(outcome, "read its error spans for the cause")
    if count / total >= CONCENTRATED:
        return [
            f"Errors are concentrated in {tool}: {count} of the {total} failed calls ({count / total:.0%}), mostly "
            f"`{outcome}` ({outcome_count}) — {advice}."
        ]
    outcomes: Counter[str] = Counter()
    for per_tool in evaluation.errors_by_tool.values():
        outcomes.update(per_tool)
    top, top_count = outcomes.most_common(1)[0]
    return [
        f"Errors are spread across tools ({total} failed calls; {tool} has the most, {count}); the commonest "
        f"outcome is `{top}` ({top_count}) — {ERROR_ADVICE.get(top, 'read the error spans for the cause')}."
    ]


def _disagreements(evaluation: Evaluation, summary: Summary | None) -> list[str]:
    out: list[str] = []
    for d in evaluation.disagreements:
        if "corrected" in d.what and d.what.startswith("overall"):
            dropped = summary.health.dropped_iterations if summary is not None else 0
            vus = f"; {dropped} iterations were dropped for want of a VU" if dropped else ""
            out.append(
                f"Requests queued before they were sent ({d.what}: corrected {d.values['client_corrected_ms']:.0f} ms "
                f"against {d.values['client_ms']:.0f} ms uncorrected{vus}): the service stalled or the scenario ran "
                "out of VUs — raise maxVUs/preAllocatedVUs, or the service's capacity (more instances)."
            )
        elif d.what.startswith("overall") and "client vs server" in d.what:
            out.append(
                f"Time is spent outside the services ({d.what}: client {d.values['client_ms']:.0f} ms against "
                f"{d.values['server_spans_ms']:.0f} ms in the spans): check the network path, connection reuse "
                "(keep-alive) and the generator's loop lag."
            )
    return out


def _top(path: PathReport | None, exclude_services: Iterable[str] = ()) -> PathShare | None:
    if path is None or not path.shares:
        return None
    excluded = set(exclude_services)
    candidates = [s for s in path.shares if s.service not in excluded]
    return max(candidates, key=lambda s: s.share_slow, default=None)


def _latency(targets: Sequence[TargetResult], path: PathReport | None) -> list[str]:
    failing = _failed(targets, "p95", "cached_p95", "uncached_p95")
    if not failing:
        return []
    worst = min(failing, key=lambda t: t.margin if t.margin is not None else 0.0)
    head = (
        f"Latency: {worst.id} for {worst.scope} ({worst.source}) was {worst.observed:.0f} ms against "
        f"{worst.op} {worst.bound:g} ms"
    )
    top = _top(path)
    if top is None or path is None:
        return [f"{head}; the slowest path was not analysed — open its exemplar traces."]
    return [
        f"{head}; in the {path.slow_traces} slowest traces `{top.operation}` ({top.service}) holds "
        f"{top.share_slow:.0%} of the critical path (self time p95 {top.self_ms_p95:.1f} ms{_exemplar(top)}) — "
        "start there."
    ]


def _exemplar(share: PathShare) -> str:
    return f"; exemplar trace {share.exemplar_trace_id}" if share.exemplar_trace_id else ""


def _search_share(path: PathReport | None) -> PathShare | None:
    if path is None:
        return None
    prefix = contract.SEARCH_SPAN.split("{", 1)[0]
    searches = [s for s in path.shares if s.operation.startswith(prefix)]
    return max(searches, key=lambda s: s.share_slow, default=None)


def _caching(evaluation: Evaluation, targets: Sequence[TargetResult], path: PathReport | None) -> list[str]:
    failing = _failed(targets, "cache_hit_intended", "cache_hit_min", "cache_hit_target")
    if not failing or evaluation.hit_rate is None:
        return []
    worst = max(failing, key=lambda t: (t.severity == "error", t.bound))
    sentence = f"Caching: the hit rate was {evaluation.hit_rate:.2f} against {worst.bound:.2f} ({worst.id})"
    if evaluation.hit_rate_by_tool:
        tool, rate = min(evaluation.hit_rate_by_tool.items(), key=lambda kv: (kv[1], kv[0]))
        sentence += f"; {tool} hit least ({rate:.2f})"
    else:
        tool = "the cached tools"
    search = _search_share(path)
    if search is not None and search.share_slow > 0:
        sentence += (
            f", and misses reach the index: `{search.operation}` holds {search.share_slow:.0%} of the slowest "
            "traces' critical path"
        )
    return [
        f"{sentence} — check {tool}'s TTL and key normalisation (equal arguments must give one key), that L1 is "
        "large enough for the working set, and that Redis was reachable."
    ]


def _is_redis(share: PathShare) -> bool:
    first = share.operation.split(" ", 1)[0].upper()
    return first in REDIS_COMMANDS or "redis" in share.operation.lower() or "redis" in share.service.lower()


def _redis(path: PathReport | None) -> list[str]:
    if path is None:
        return []
    redis = [s for s in path.shares if _is_redis(s)]
    share = sum(s.share_slow for s in redis)
    if share < SLOW_SHARE:
        return []
    top = max(redis, key=lambda s: s.share_slow)
    return [
        f"Redis dominates the critical path: {share:.0%} of the slowest traces' time (`{top.operation}`, self time "
        f"p95 {top.self_ms_p95:.1f} ms{_exemplar(top)}) — size the Redis connection pool to the concurrency, "
        "pipeline GET/SET, or serve more from L1."
    ]


def _capacity(targets: Sequence[TargetResult], summary: Summary | None) -> list[str]:
    out: list[str] = []
    for t in _failed(targets, "throughput_offered"):
        dropped = summary.health.dropped_iterations if summary is not None else 0
        vus = f" ({dropped} iterations dropped for want of a VU: raise maxVUs)" if dropped else ""
        out.append(
            f"Throughput: {t.observed:.1f}/s served against the {t.bound:.1f}/s floor of what was offered{vus}: "
            "the service could not keep up — add instances or find the bottleneck on the slowest path."
        )
    for t in _failed(targets, "throughput_min", "throughput_target"):
        out.append(
            f"Throughput: {t.observed:.1f} RPS against {t.id}'s {t.bound:g} RPS although the scenario offered enough: "
            "scale out (the services are stateless behind Redis) or remove the bottleneck."
        )
    return out


def _resources(targets: Sequence[TargetResult]) -> list[str]:
    out: list[str] = []
    for t in _failed(targets, "memory"):
        out.append(
            f"Memory: {t.scope} peaked at {t.observed:.0f} MB against {t.bound:g} MB — bound L1's size "
            "(entries × answer size) and look for answers held after their request."
        )
    for t in _failed(targets, "cpu"):
        out.append(
            f"CPU: {t.scope} averaged {t.observed:.0f} % of its core against {t.bound:g} % — one event loop per "
            "process is saturated: run more instances, or cut per-request work (cache hits, fewer spans)."
        )
    return out


def _cold(evaluation: Evaluation, targets: Sequence[TargetResult]) -> list[str]:
    if not _failed(targets, "cold_max") or not evaluation.cold:
        return []
    slowest = max(evaluation.cold, key=lambda c: c.duration_ms)
    return [
        f"Cold start: {slowest.tool}'s first uncached call took {slowest.duration_ms:.0f} ms (trace "
        f"{slowest.trace_id}) — load the index and open connections at start-up, and let readiness wait for them."
    ]


def _next_run(evaluation: Evaluation, failed: dict[str, QualityGate], samples: SampleMinimums) -> list[str]:
    out: list[str] = []
    duration = evaluation.selection.duration_s
    short = [
        t
        for t in evaluation.targets
        if t.passed is None and t.applicable and t.samples > 0 and t.source == "server_spans"
    ]
    if short:
        scarcest = min(short, key=lambda t: t.samples)
        needed = _needed(scarcest, samples)
        longer = (
            f"; at this phase's rate that takes about {duration * needed / scarcest.samples:.0f} s" if duration else ""
        )
        out.append(
            f"Run longer: {len(short)} figures had too few samples to judge — the scarcest, {scarcest.id} for "
            f"{scarcest.scope}, had {scarcest.samples} of {needed} needed{longer}."
        )
    if "intended_hit_ratio" in failed:
        out.append(
            f"The traffic did not test the cache it meant to ({failed['intended_hit_ratio'].detail}): check the "
            "traffic model's cold keys and that the services started with an empty cache."
        )
    return out


def _needed(target: TargetResult, samples: SampleMinimums) -> int:
    return samples.p95 if target.unit == "ms" else samples.rate
