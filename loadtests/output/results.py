"""The run's JSON summary (versioned, mergeable), the raw per-interval results, and ``merge``.

The summary carries every series' cumulative HDR histogram (standard encoding), so summaries from the shards of
one test (``--shard i/n`` on several machines) or from several runs merge losslessly: percentiles of the merge
are those of one histogram of all the samples, not an average of percentiles. The raw results are every worker's
interval reports as JSON lines (one line per series per second, with its histogram), which the HTML report and
the validator read for time series.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, TextIO

import msgspec

from loadtests.errors import THRESHOLDS_FAILED, ConfigError
from loadtests.metrics import Aggregate, AggregateSnapshot, evaluate, parse_thresholds

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from pathlib import Path

    from loadtests.engine.coordinator import RunOutcome
    from loadtests.engine.wire import Done, Interval
    from loadtests.metrics import ThresholdResult

__all__ = ("SCHEMA", "RawWriter", "Summary", "build_summary", "merge_files", "read_summary", "write_summary")

SCHEMA = "pp-loadtests/summary/v1"

TREND_STATS = ("avg", "min", "med", "max", "p(90)", "p(95)", "p(99)", "p(99.9)", "count")
PER_TOOL_METRICS = ("mcp_tool_duration", "http_req_duration", "http_req_duration_corrected", "mcp_tool_errors")
EXEMPLAR_METRIC = "http_req_duration"


class ThresholdOutcome(msgspec.Struct, kw_only=True):
    metric: str
    expression: str
    ok: bool
    observed: float | None
    no_data: bool = False
    abort_on_fail: bool = False


class MetricSummary(msgspec.Struct, kw_only=True):
    type: str
    contains: str
    values: dict[str, float]


class CheckSummary(msgspec.Struct, kw_only=True):
    name: str
    group: str
    passes: int
    fails: int


class ScenarioSummary(msgspec.Struct, kw_only=True):
    executor: str
    description: str
    interrupted: int = 0
    start_s: float = 0.0
    """When the scenario began scheduling iterations, in seconds from the test's start (after ``--duration``)."""
    end_s: float = 0.0
    """When it stopped scheduling them (in-flight iterations may run into ``gracefulStop`` after)."""
    tags: dict[str, str] = {}


class Health(msgspec.Struct, kw_only=True):
    """Whether the load generator kept its schedule: read this before any latency figure."""

    trustworthy: bool
    reasons: list[str]
    loop_lag_p99_ms: float | None
    iteration_lateness_p99_ms: float | None
    dropped_iterations: int


class Exemplar(msgspec.Struct, kw_only=True):
    trace_id: str
    value_ms: float
    time: float
    failed: bool
    tags: dict[str, str]


class Summary(msgspec.Struct, kw_only=True):
    schema: str = SCHEMA
    run_ids: list[str]
    script: str
    target: str
    started: str
    ended: str
    duration_s: float
    exit_code: int
    aborted: str | None
    options: dict[str, Any]
    overrides: dict[str, Any]
    targets: dict[str, float]
    thresholds: list[ThresholdOutcome]
    metrics: dict[str, MetricSummary]
    submetrics: dict[str, MetricSummary]
    """Per tool and per scenario (``mcp_tool_duration{tool:search_runbooks}``): what the validator and reports use."""
    checks: list[CheckSummary]
    scenarios: dict[str, ScenarioSummary]
    health: Health
    errors: dict[str, int]
    exemplars: list[Exemplar]
    aggregate: AggregateSnapshot


def _iso(unix: float) -> str:
    return dt.datetime.fromtimestamp(unix, tz=dt.UTC).isoformat(timespec="milliseconds")


def _metric(
    aggregate: Aggregate, name: str, tags: dict[str, str] | None = None, elapsed: float | None = None
) -> MetricSummary:
    values = aggregate.values(name, tags or {}, elapsed_s=elapsed)
    return MetricSummary(
        type=str(aggregate.metric_type(name)), contains=str(aggregate.metric_kind(name)), values=values
    )


def _thresholds(results: Sequence[ThresholdResult]) -> list[ThresholdOutcome]:
    return [
        ThresholdOutcome(
            metric=r.threshold.key,
            expression=r.threshold.expression,
            ok=r.ok,
            observed=r.observed,
            no_data=r.no_data,
            abort_on_fail=r.threshold.abort_on_fail,
        )
        for r in results
    ]


def _checks(aggregate: Aggregate) -> list[CheckSummary]:
    if aggregate.metric_type("checks") is None:
        return []
    found: dict[tuple[str, str], list[int]] = {}
    for tags in aggregate.series_tags("checks"):
        as_dict = dict(tags)
        key = (as_dict.get("check", ""), as_dict.get("group", ""))
        values = aggregate.values("checks", tags)
        counts = found.setdefault(key, [0, 0])
        counts[0] += int(values.get("passes", 0))
        counts[1] += int(values.get("fails", 0))
    return [CheckSummary(name=n, group=g, passes=p, fails=f) for (n, g), (p, f) in sorted(found.items())]


def _submetrics(aggregate: Aggregate, scenario_names: Iterable[str]) -> dict[str, MetricSummary]:
    out: dict[str, MetricSummary] = {}
    for name in PER_TOOL_METRICS:
        if aggregate.metric_type(name) is None:
            continue
        tools = sorted({tool for t in aggregate.series_tags(name) if (tool := dict(t).get("tool")) is not None})
        for tool in tools:
            out[f"{name}{{tool:{tool}}}"] = _metric(aggregate, name, {"tool": str(tool)})
        for scenario in scenario_names:
            out[f"{name}{{scenario:{scenario}}}"] = _metric(aggregate, name, {"scenario": scenario})
    return out


def _health(aggregate: Aggregate, reasons: list[str]) -> Health:
    def p99(name: str) -> float | None:
        return aggregate.percentile(name, (), 99.0) if aggregate.metric_type(name) is not None else None

    dropped = (
        aggregate.values("dropped_iterations", {}).get("count", 0.0)
        if aggregate.metric_type("dropped_iterations")
        else 0.0
    )
    return Health(
        trustworthy=not reasons,
        reasons=reasons,
        loop_lag_p99_ms=p99("loop_lag"),
        iteration_lateness_p99_ms=p99("iteration_lateness"),
        dropped_iterations=int(dropped),
    )


def _exemplars(aggregate: Aggregate, limit: int = 200) -> list[Exemplar]:
    if aggregate.metric_type(EXEMPLAR_METRIC) is None:
        return []
    return [
        Exemplar(trace_id=e.trace_id, value_ms=e.value, time=e.time, failed=e.failed, tags=dict(e.tags))
        for e in aggregate.exemplars(EXEMPLAR_METRIC, {}, above_percentile=95.0)[:limit]
    ]


def _compose(
    *,
    aggregate: Aggregate,
    results: Sequence[ThresholdResult],
    run_ids: list[str],
    script: str,
    target: str,
    started: float,
    ended: float,
    elapsed: float,
    aborted: str | None,
    exit_code: int,
    options: dict[str, Any],
    overrides: dict[str, Any],
    targets: dict[str, float],
    scenarios: dict[str, ScenarioSummary],
    reasons: list[str],
    errors: dict[str, int],
) -> Summary:
    return Summary(
        run_ids=run_ids,
        script=script,
        target=target,
        started=_iso(started),
        ended=_iso(ended),
        duration_s=round(elapsed, 3),
        exit_code=exit_code,
        aborted=aborted,
        options=options,
        overrides=overrides,
        targets=targets,
        thresholds=_thresholds(results),
        metrics={name: _metric(aggregate, name, elapsed=elapsed) for name in sorted(aggregate.names())},
        submetrics=_submetrics(aggregate, scenarios),
        checks=_checks(aggregate),
        scenarios=scenarios,
        health=_health(aggregate, reasons),
        errors=errors,
        exemplars=_exemplars(aggregate),
        aggregate=aggregate.to_struct(),
    )


def _jsonable(raw: Any) -> Any:
    """The script's options as JSON (a script may hold non-JSON values, e.g. callables, in its dict)."""
    return msgspec.json.decode(msgspec.json.encode(raw, enc_hook=repr))


def build_summary(outcome: RunOutcome) -> Summary:
    from loadtests.options import describe  # keeps this module importable without the engine
    from loadtests.schedules import end_offset

    return _compose(
        aggregate=outcome.aggregate,
        results=outcome.results,
        run_ids=[outcome.config.run_id],
        script=str(outcome.script.path),
        target=outcome.config.mcp_url,
        started=outcome.started_unix,
        ended=outcome.ended_unix,
        elapsed=outcome.elapsed_s,
        aborted=outcome.aborted,
        exit_code=outcome.exit_code,
        options=_jsonable(dict(outcome.script.raw_options)),
        overrides=msgspec.to_builtins(outcome.config.overrides),
        targets=outcome.targets,
        scenarios={
            name: ScenarioSummary(
                executor=scenario.executor,
                description=describe(scenario),
                interrupted=outcome.scenarios[name].interrupted if name in outcome.scenarios else 0,
                start_s=scenario.start_time,
                end_s=scenario.start_time + end_offset(scenario),
                tags=dict(scenario.tags),
            )
            for name, scenario in outcome.options.scenarios.items()
        },
        reasons=outcome.health_reasons,
        errors=outcome.errors,
    )


def write_summary(summary: Summary, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(msgspec.json.format(msgspec.json.encode(summary), indent=1))
    tmp.replace(path)


def read_summary(path: Path) -> Summary:
    try:
        summary = msgspec.json.decode(path.read_bytes(), type=Summary)
    except (OSError, msgspec.DecodeError) as error:
        raise ConfigError(f"cannot read a JSON summary from {path}: {error}") from None
    if summary.schema != SCHEMA:
        raise ConfigError(f"{path} is a {summary.schema!r} summary; this version reads {SCHEMA!r}")
    return summary


def merge_files(paths: Sequence[Path]) -> Summary:
    """One summary of several (shards of one test, or runs): histograms merged, thresholds evaluated anew."""
    summaries = [read_summary(p) for p in paths]
    first = summaries[0]
    aggregate = Aggregate.from_struct(first.aggregate)
    for other in summaries[1:]:
        aggregate = Aggregate.merged(aggregate, Aggregate.from_struct(other.aggregate))
    types = {name: aggregate.metric_type(name) for name in aggregate.names()}
    raw_thresholds = first.options.get("thresholds", {}) or {}
    thresholds = parse_thresholds(raw_thresholds, {k: v for k, v in types.items() if v is not None})
    started = min(dt.datetime.fromisoformat(s.started).timestamp() for s in summaries)
    ended = max(dt.datetime.fromisoformat(s.ended).timestamp() for s in summaries)
    elapsed = max(s.duration_s for s in summaries)
    results = evaluate(thresholds, aggregate, elapsed)
    failed = any(not r.ok for r in results)
    reasons = [f"{run}: {reason}" for s in summaries for run in s.run_ids for reason in s.health.reasons]
    errors: dict[str, int] = {}
    for s in summaries:
        for key, count in s.errors.items():
            errors[key] = errors.get(key, 0) + count
    return _compose(
        aggregate=aggregate,
        results=results,
        run_ids=[run for s in summaries for run in s.run_ids],
        script=first.script,
        target=first.target,
        started=started,
        ended=ended,
        elapsed=elapsed,
        aborted=next((s.aborted for s in summaries if s.aborted), None),
        exit_code=max((s.exit_code for s in summaries if s.exit_code not in (0, THRESHOLDS_FAILED)), default=0)
        or (THRESHOLDS_FAILED if failed else 0),
        options=first.options,
        overrides=first.overrides,
        targets=first.targets,
        scenarios=first.scenarios,
        reasons=reasons,
        errors=errors,
    )


class RawWriter:
    """``--out json=FILE``: each worker interval as JSON lines (one per series), flushed as they arrive."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO = path.open("w", encoding="utf-8")
        self._encode = msgspec.json.Encoder().encode

    def write(self, message: Interval | Done) -> None:
        report = message.report
        for delta in report.series:
            line = {"type": "Interval", "worker": message.worker, "time": report.time, **msgspec.to_builtins(delta)}
            self._file.write(self._encode(line).decode())
            self._file.write("\n")

    def close(self) -> None:
        self._file.close()
