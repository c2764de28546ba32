"""``python -m loadtests validate``: one run's spans and metrics from a source, judged, explained and reported.

The order matters and is the whole design: select exactly the run (its baggage run id, not a time window, when
there is one); gather spans and the metrics the targets need; check the data can carry a verdict; evaluate the
targets per tool and cache outcome from server spans, client samples and metrics; find the slowest path over every
trace; grade, recommend, compare with a baseline; keep exemplar traces as files Jaeger UI opens; write JSON, JUnit
and HTML.
"""

from __future__ import annotations

import datetime as dt
import gc
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import msgspec

from loadtests.errors import ConfigError
from loadtests.output.results import read_summary
from loadtests.report import write_html, write_json, write_junit
from loadtests.report.files import write_atomic
from loadtests.validate.baseline import load_baseline
from loadtests.validate.client import client_aggregate, phases, run_window_ns, timeseries
from loadtests.validate.critical_path import aggregate_paths, group_by_trace
from loadtests.validate.evaluate import MetricInputs, nearest_rank
from loadtests.validate.formats import to_otlp_json
from loadtests.validate.grading import judge
from loadtests.validate.sources import open_source
from loadtests.validate.sources.base import BucketHistogram, SourceError, SourceUnsupported
from loadtests.validate.targets import load_config
from loadtests.validate.verdict import Exemplar, Verdict
from otel.contract import GATEWAY_SERVICE

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from loadtests.output.results import Summary
    from loadtests.validate.evaluate import Call
    from loadtests.validate.sources.base import Source
    from loadtests.validate.spans import SpanRecord

_T = TypeVar("_T")

__all__ = ("DEFAULT_STORE", "ValidateOptions", "Validation", "validate")

DEFAULT_STORE = ".pp-data/telemetry.sqlite3"
"""Where ``just serve``'s embedded receiver keeps its store (``just load`` keeps each run's in its report folder)."""

_FAILURE_FILES = 20
"""Failures whose whole trace is written out (and drawn in the report); every failure's trace id is listed."""
_FAILURE_IDS = 10_000
METRIC_GRACE_NS = 30 * 10**9


@dataclass
class ValidateOptions:
    run_id: str | None = None
    window_ns: tuple[int, int] | None = None
    sources: Sequence[str] = ()
    """Source specs (``store:PATH``, ``otlp:PATH``, ``jaeger:URL``, ``prometheus:URL``); default: the store."""
    summary: Path | Summary | None = None
    """The load generator's JSON summary of the run: client latency, phases, the scenario's targets."""
    targets: Path | None = None
    baseline: Path | None = None
    strict: bool = False
    out_dir: Path | None = None


@dataclass
class Validation:
    verdict: Verdict
    traces: dict[str, list[SpanRecord]] = field(default_factory=dict)
    """The exemplar traces' spans, for the HTML waterfalls."""
    files: dict[str, Path] = field(default_factory=dict)


def _metrics(source: Source, start_ns: int, end_ns: int) -> MetricInputs:
    """What the targets need from metrics; a source without metrics (Jaeger, OTLP span files) gives nothing."""

    def attempt(fetch: Callable[[], _T]) -> _T | None:
        try:
            return fetch()
        except SourceUnsupported:
            return None

    by_tool = attempt(
        lambda: source.histogram(
            "mcp.server.operation.duration", by=("gen_ai.tool.name",), start_ns=start_ns, end_ns=end_ns
        )
    )
    inputs = MetricInputs()
    if by_tool:
        inputs.mcp_duration_by_tool = {key[0]: hist for key, hist in by_tool.items()}
        first = next(iter(by_tool.values()))
        total = BucketHistogram.empty(first.bounds)
        for hist in by_tool.values():
            if hist.bounds == first.bounds:
                total.add(hist)
        inputs.mcp_duration = total
    by_instance = ("service.name", "service.instance.id")
    memory = attempt(lambda: source.gauge("process.memory.usage", by=by_instance, start_ns=start_ns, end_ns=end_ns))
    if memory:
        inputs.memory_bytes = {"/".join(k): [v for _, v in samples] for k, samples in memory.items()}
    cpu = attempt(lambda: source.gauge("process.cpu.utilization", by=by_instance, start_ns=start_ns, end_ns=end_ns))
    if cpu:
        inputs.cpu_utilization = {"/".join(k): [v for _, v in samples] for k, samples in cpu.items()}
    dropped = attempt(lambda: source.counter("pp.telemetry.spans.dropped", by=(), start_ns=start_ns, end_ns=end_ns))
    if dropped is not None:
        inputs.spans_dropped = sum(dropped.values())
    cache = attempt(
        lambda: source.counter(
            "pp.cache.requests", by=("cache.tier", "pp.cache.result"), start_ns=start_ns, end_ns=end_ns
        )
    )
    if cache:
        inputs.cache_hits = sum(v for (_, result), v in cache.items() if result == "hit")
        inputs.cache_lookups = sum(v for (tier, _), v in cache.items() if tier == "l1")
    return inputs


def _exemplars(calls: Sequence[Call]) -> list[tuple[str, Call]]:
    """The traces at p50, p95 and p99 of the judged calls, and every failure (up to ``_FAILURE_IDS``)."""
    if not calls:
        return []
    ordered = sorted(calls, key=lambda c: c.duration_ms)
    durations = [c.duration_ms for c in ordered]
    chosen: list[tuple[str, Call]] = []
    for label, p in (("p50", 50.0), ("p95", 95.0), ("p99", 99.0)):
        value = nearest_rank(durations, p)
        call = next(c for c in ordered if c.duration_ms >= value)
        chosen.append((label, call))
    chosen += [("failure", c) for c in calls if c.error][:_FAILURE_IDS]
    return chosen


def _reroot(trace: list[SpanRecord]) -> list[SpanRecord]:
    """Make the gateway's server span the trace's root.

    Its parent is the load generator's request, which the generator does not export: for the critical path it is
    the root (the data-quality gates know to expect it, and still count every other orphan).
    """
    ids = {span.span_id for span in trace}
    return [
        msgspec.structs.replace(span, parent_id=None)
        if span.parent_id is not None
        and span.parent_id not in ids
        and span.kind == "server"
        and span.service == GATEWAY_SERVICE
        else span
        for span in trace
    ]


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic GC while a run's spans are built and analysed: it would rescan the growing heap again and again.

    Reading 300k spans from the store took 5.2 s with the collector running, 2.7 s without. Nothing built here is
    cyclic, so reference counting frees it all the same.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _iso(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC).isoformat(timespec="milliseconds")


def validate(options: ValidateOptions) -> Validation:
    summary = options.summary
    if isinstance(summary, Path):
        summary = read_summary(summary)
    run_id = options.run_id or (summary.run_ids[0] if summary is not None and len(summary.run_ids) == 1 else None)
    window = options.window_ns or (run_window_ns(summary) if summary is not None else None)
    if run_id is None and window is None:
        raise ConfigError("say which run: --run-id, --summary (the load run's summary.json) or --since/--until")
    config = load_config(options.targets)
    baseline = load_baseline(options.baseline) if options.baseline is not None else None
    try:
        source = open_source(*options.sources) if options.sources else open_source(f"store:{DEFAULT_STORE}")
    except SourceError as error:
        raise ConfigError(str(error)) from None
    try:
        try:
            with _gc_paused():
                spans = source.spans_of_run(run_id) if run_id is not None else source.spans_in_window(*window)  # type: ignore[misc]
        except SourceError as error:
            raise ConfigError(str(error)) from None
        if window is None and spans:
            window = (min(s.start_ns for s in spans), max(s.end_ns for s in spans))
        # the services' last metric export happens as the stack stops, just after the run: let the window take it
        metrics = _metrics(source, window[0], window[1] + METRIC_GRACE_NS) if window is not None else MetricInputs()
        queries = source.queries()
        source_name = source.name
    finally:
        source.close()
    with _gc_paused():  # per-trace lists and dicts by the hundred thousand, none of them cyclic
        traces = [_reroot(trace) for trace in group_by_trace(spans)]
        path = aggregate_paths(traces) if traces else None
        judgement = judge(spans, config=config, summary=summary, metrics=metrics, path=path, baseline=baseline,
                          strict=options.strict)  # fmt: skip
    by_id = {trace[0].trace_id: trace for trace in traces}
    exemplars: list[Exemplar] = []
    kept: dict[str, list[SpanRecord]] = {}
    files: dict[str, Path] = {}
    failures_drawn = 0
    for label, call in _exemplars(judgement.evaluation.selected):
        spans_of = by_id.get(call.trace_id)
        file = None
        if label == "failure":
            failures_drawn += 1
            if failures_drawn > _FAILURE_FILES:
                spans_of = None  # listed by id only: the first ones show what the failures look like
        if spans_of is not None:
            kept[call.trace_id] = list(spans_of)
            if options.out_dir is not None:
                file = options.out_dir / "traces" / f"{label}-{call.trace_id}.json"
                file.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(file, _encode_json(to_otlp_json(spans_of)))
                files[f"{label}-{call.trace_id}"] = file
        exemplars.append(
            Exemplar(
                label=label,
                trace_id=call.trace_id,
                duration_ms=call.duration_ms,
                tool=call.tool,
                file=str(file.relative_to(options.out_dir)) if file is not None and options.out_dir else None,
            )
        )
    start_ns, end_ns = window if window is not None else (0, 0)
    verdict = Verdict(
        run_id=run_id,
        source=source_name,
        window_start=_iso(start_ns),
        window_end=_iso(end_ns),
        passed=judgement.passed,
        exit_code=judgement.exit_code,
        grade=judgement.grade,
        grade_rule=judgement.grade_rule,
        grade_reason=judgement.grade_reason,
        targets=judgement.evaluation.targets,
        tools=judgement.evaluation.tools,
        quality=judgement.quality,
        disagreements=judgement.evaluation.disagreements,
        slowest_path=path,
        exemplars=exemplars,
        recommendations=judgement.recommendations,
        timeseries=timeseries(client_aggregate(summary), start_ns / 1e9) if summary is not None else [],
        phases=phases(summary) if summary is not None else [],
        baseline=judgement.baseline,
        durations=judgement.durations,
        queries=queries,
    )
    validation = Validation(verdict, kept, files)
    if options.out_dir is not None:
        write_reports(validation, options.out_dir, strict=options.strict)
    return validation


def _encode_json(doc: object) -> bytes:

    return msgspec.json.format(msgspec.json.encode(doc), indent=1)


def write_reports(validation: Validation, out_dir: Path, *, strict: bool) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(validation.verdict, out_dir / "verdict.json")
    write_junit(validation.verdict, out_dir / "junit.xml", strict=strict)
    write_html(validation.verdict, out_dir / "report.html", validation.traces)
    validation.files.update(verdict=out_dir / "verdict.json", junit=out_dir / "junit.xml", html=out_dir / "report.html")
