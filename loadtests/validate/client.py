"""What the load generator saw: phases, per-second time series and per-tool latency from its JSON summary.

The validator judges from the servers' spans, but the client's view is the one users feel, and the only one that
knows the run's phases and its offered load; both go into the verdict side by side.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from loadtests.metrics import Aggregate
from loadtests.validate.verdict import Phase, TimeSeriesPoint

if TYPE_CHECKING:
    from loadtests.output.results import Summary

__all__ = ("client_aggregate", "phases", "run_window_ns", "timeseries")


def client_aggregate(summary: Summary) -> Aggregate:
    return Aggregate.from_struct(summary.aggregate)


def run_window_ns(summary: Summary) -> tuple[int, int]:
    start = dt.datetime.fromisoformat(summary.started).timestamp()
    end = dt.datetime.fromisoformat(summary.ended).timestamp()
    return int(start * 1e9), int(end * 1e9)


def phases(summary: Summary) -> list[Phase]:
    """The run's scenarios as phases, by the ``phase`` tag when the script sets one (the seed's scenarios do)."""
    spans: dict[str, tuple[float, float]] = {}
    for name, scenario in summary.scenarios.items():
        label = scenario.tags.get("phase", name)
        stage = scenario.tags.get("stage")
        if stage:
            label = f"{label}:{stage}"
        start, end = spans.get(label, (scenario.start_s, scenario.end_s))
        spans[label] = (min(start, scenario.start_s), max(end, scenario.end_s))
    return [Phase(name=n, start_s=s, end_s=e) for n, (s, e) in sorted(spans.items(), key=lambda kv: kv[1][0])]


def timeseries(aggregate: Aggregate, start_unix: float, metric: str = "mcp_tool_duration") -> list[TimeSeriesPoint]:
    """Requests/s, errors/s and p50/p95/p99 per second of the run (tool calls when there are any, else all requests).

    Seconds before ``start_unix`` (``setup()``'s calls) are not part of the run's time series.
    """
    if aggregate.metric_type(metric) is None:
        metric = "http_req_duration"
    durations = aggregate.timeseries(metric)
    if durations is None:
        return []
    failed = aggregate.timeseries("http_req_failed")
    errors_at: dict[int, float] = {}
    if failed is not None:
        errors_at = dict(zip(failed.time, failed.columns.get("passes", []), strict=False))
    cols = durations.columns
    points = []
    for i, second in enumerate(durations.time):
        count = cols["count"][i]
        if second < start_unix - 0.5:
            continue

        def col(name: str, i: int = i, count: float = count) -> float | None:
            return cols[name][i] if count else None

        points.append(
            TimeSeriesPoint(
                t=round(second - start_unix, 3),
                rps=count,
                errors=errors_at.get(second, 0.0),
                p50_ms=col("p50"),
                p95_ms=col("p95"),
                p99_ms=col("p99"),
            )
        )
    return points
