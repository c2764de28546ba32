"""From one phase's ``Aggregate`` to the benchmark's figures: per tool, per cache class, per phase.

Latency is ``bench_call_duration`` unless asked otherwise (the capacity search asks for the engine's
``http_req_duration_corrected``); calls and failures are counted from the engine's ``mcp_tool_errors``.

Latency is taken over successful calls only (``outcome=ok``): a fast failure — a refused connection, a 503 — would
otherwise make a broken service look quick. Failures are counted beside it, by error code. Percentiles come from the
merged HDR histogram of the selection (never an average of percentiles).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from loadtests.bench.result import CacheImprovement, LatencyStats, TimelinePoint, ToolPhaseStats

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from loadtests.metrics import Aggregate

__all__ = (
    "TOOL_METRIC",
    "cache_improvement",
    "error_counts",
    "latency",
    "no_latency",
    "timeline",
    "tool_stats",
)

TOOL_METRIC = "bench_call_duration"
"""The phase script's wall-clock time of each call (see ``scripts/phase.py`` for why not ``mcp_tool_duration``)."""
ERROR_METRIC = "mcp_tool_errors"
_ORDER = ("cold", "miss", "hit", "none")


def error_counts(aggregate: Aggregate, selection: Mapping[str, str]) -> tuple[int, int, dict[str, int]]:
    """(calls, failed calls, failures by error code) of the tool calls matching ``selection``."""
    calls = failed = 0
    by_code: dict[str, int] = {}
    wanted = set(selection.items())
    for tags in aggregate.series_tags(ERROR_METRIC):
        if not wanted <= set(tags):
            continue
        values = aggregate.values(ERROR_METRIC, tags)
        errors = int(values.get("passes", 0.0))  # a "pass" of mcp_tool_errors is a failed call
        calls += errors + int(values.get("fails", 0.0))
        if errors:
            failed += errors
            code = dict(tags).get("outcome", "failed")
            by_code[code] = by_code.get(code, 0) + errors
    return calls, failed, by_code


def no_latency() -> LatencyStats:
    """The stats of a selection with no call at all."""
    return LatencyStats(
        count=0, errors=0, mean_ms=None, p50_ms=None, p90_ms=None, p95_ms=None, p99_ms=None, max_ms=None
    )


def latency(aggregate: Aggregate, selection: Mapping[str, str], *, metric: str = TOOL_METRIC) -> LatencyStats:
    """Latency of the successful calls matching ``selection``; counts of all of them."""
    calls, failed, _ = error_counts(aggregate, selection)
    hist = aggregate.histogram(metric, {**selection, "outcome": "ok"})
    if hist is None or hist.count == 0:
        return msgspec.structs.replace(no_latency(), count=calls, errors=failed)
    p50, p90, p95, p99 = hist.percentiles((50.0, 90.0, 95.0, 99.0))
    return LatencyStats(
        count=max(calls, int(hist.count)),
        errors=failed,
        mean_ms=hist.mean,
        p50_ms=p50,
        p90_ms=p90,
        p95_ms=p95,
        p99_ms=p99,
        max_ms=hist.max,
    )


def _classes(aggregate: Aggregate, selection: Mapping[str, str]) -> list[str]:
    wanted = set(selection.items())
    found = {dict(tags).get("cache", "") for tags in aggregate.series_tags(ERROR_METRIC) if wanted <= set(tags)}
    return [c for c in _ORDER if c in found] + sorted(c for c in found - set(_ORDER) if c)


def tool_stats(
    aggregate: Aggregate, selection: Mapping[str, str], *, tool: str, vus: int, duration_s: float
) -> ToolPhaseStats:
    """One tool's calls in one phase (``selection`` picks them, e.g. its scenario), split by cache class."""
    chosen = {**selection, "tool": tool}
    overall = latency(aggregate, chosen)
    _, _, by_code = error_counts(aggregate, chosen)
    by_cache = {cache: latency(aggregate, {**chosen, "cache": cache}) for cache in _classes(aggregate, chosen)}
    return ToolPhaseStats(
        tool=tool,
        vus=vus,
        duration_s=duration_s,
        throughput_rps=overall.count / duration_s if duration_s > 0 else 0.0,
        error_rate=overall.errors / overall.count if overall.count else 0.0,
        latency=overall,
        by_cache=by_cache,
        errors_by_code=by_code,
    )


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _saving(a: float | None, b: float | None) -> float | None:
    return a - b if a is not None and b is not None else None


def cache_improvement(
    tool: str, miss: LatencyStats, hit: LatencyStats, repeats: int, server: Mapping[str, float] | None = None
) -> CacheImprovement:
    """Miss against hit: the saving in ms and the ratio (how many times faster), at p50 and p95."""
    counted = dict(server or {})
    lookups = counted.get("l1_hit", 0.0) + counted.get("l1_miss", 0.0)
    hits = counted.get("l1_hit", 0.0) + counted.get("l2_hit", 0.0)
    return CacheImprovement(
        tool=tool,
        miss=miss,
        hit=hit,
        p50_saving_ms=_saving(miss.p50_ms, hit.p50_ms),
        p50_ratio=_ratio(miss.p50_ms, hit.p50_ms),
        p95_saving_ms=_saving(miss.p95_ms, hit.p95_ms),
        p95_ratio=_ratio(miss.p95_ms, hit.p95_ms),
        intended_hit_ratio=repeats / (repeats + 1),
        server=counted,
        server_hit_ratio=hits / lookups if server is not None and lookups else None,
    )


def timeline(aggregate: Aggregate, phase: str, origin_unix: float) -> list[TimelinePoint]:
    """Per second of the phase: calls/s, failed calls/s and latency percentiles of every tool call."""
    durations = aggregate.timeseries(TOOL_METRIC)
    if durations is None:
        return []
    errors = aggregate.timeseries(ERROR_METRIC)
    failed: dict[int, float] = {}
    if errors is not None:
        failed = dict(zip(errors.time, errors.columns.get("passes", []), strict=False))
    cols = durations.columns

    def column(name: str) -> Iterable[float | None]:
        values = cols.get(name)
        return values if values is not None else [None] * len(durations.time)

    return [
        TimelinePoint(
            t_s=t - origin_unix,
            phase=phase,
            rps=count,
            errors=failed.get(t, 0.0),
            p50_ms=p50,
            p95_ms=p95,
            p99_ms=p99,
        )
        for t, count, p50, p95, p99 in zip(
            durations.time, cols.get("count", []), column("p50"), column("p95"), column("p99"), strict=False
        )
    ]
