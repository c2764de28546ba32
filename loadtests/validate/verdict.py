"""What a validation concludes: the JSON report's schema, read by the HTML and JUnit writers and by ``--baseline``.

One Struct per part, so every writer renders the same facts and a later run can compare itself with this one.
Durations are milliseconds, rates are fractions (0.02, not 2 %), throughput is requests per second.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from loadtests.validate.critical_path import PathReport, PathShare

__all__ = (
    "SCHEMA",
    "BaselineChange",
    "CapacityPoint",
    "Disagreement",
    "DurationSamples",
    "Exemplar",
    "PathReport",
    "PathShare",
    "Phase",
    "QualityGate",
    "TargetResult",
    "TimeSeriesPoint",
    "ToolStats",
    "Verdict",
)

SCHEMA = "pp-validate/v1"

Source = Literal["server_spans", "client", "client_corrected", "metrics"]


class TargetResult(msgspec.Struct, kw_only=True):
    """One target checked from one source for one scope (a test case in JUnit)."""

    id: str
    """Stable name, e.g. ``cached_p95`` or ``error_rate``."""
    description: str
    scope: str
    """``overall``, ``tool:search_runbooks``, ``tool:search_runbooks/cache:hit``, ``scenario:load``..."""
    source: Source
    observed: float | None
    """``None`` when it could not be evaluated (see ``note``)."""
    op: Literal["<", "<=", ">", ">="]
    bound: float
    unit: Literal["ms", "ratio", "rps", "MB", "percent", "count"]
    passed: bool | None
    """``None``: not evaluable (too few samples, no data) — a warning, not a pass."""
    margin: float | None = None
    """How far inside (+) or outside (−) the bound, relative to it: (bound − observed) / bound for ``<``."""
    samples: int = 0
    severity: Literal["error", "warning"] = "error"
    """A failed ``warning`` target (e.g. the 85 % hit-rate aspiration) fails the run only with ``--strict``."""
    note: str = ""
    applicable: bool = True
    """``False``: the run could not show this (a 5 RPS scenario against a 25 RPS target); ignored by the exit code."""


class ToolStats(msgspec.Struct, kw_only=True):
    tool: str
    cache: Literal["all", "hit", "miss", "uncached"]
    count: int
    errors: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    client_p95_ms: float | None = None
    client_corrected_p95_ms: float | None = None
    count_estimated: float | None = None
    """``count`` re-weighted by the trace sampling ratio (traces / client requests), when sampled."""


class Disagreement(msgspec.Struct, kw_only=True):
    """Where two sources disagree about the same quantity, and what that usually means."""

    what: str
    values: dict[str, float]
    explanation: str


class QualityGate(msgspec.Struct, kw_only=True):
    name: str
    ok: bool
    severity: Literal["error", "warning"]
    """A failed ``error`` gate means the data cannot support a verdict (exit 2)."""
    detail: str
    value: float | None = None


class Exemplar(msgspec.Struct, kw_only=True):
    label: str
    """``p50``, ``p95``, ``p99`` or ``failure``."""
    trace_id: str
    duration_ms: float
    tool: str | None = None
    file: str | None = None
    """An OTLP JSON file of the whole trace, which Jaeger UI's "JSON File" upload opens."""


class TimeSeriesPoint(msgspec.Struct, array_like=True):
    t: float
    """Seconds since the run's start."""
    rps: float
    errors: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


class Phase(msgspec.Struct, kw_only=True):
    name: str
    start_s: float
    end_s: float


class CapacityPoint(msgspec.Struct, kw_only=True):
    """One step of the capacity search: an offered rate and what came of it."""

    offered_rps: float
    achieved_rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    error_rate: float
    ok: bool


class BaselineChange(msgspec.Struct, kw_only=True):
    tool: str
    stat: str
    """``p50``, ``p95`` or ``p99``."""
    baseline_ms: float
    current_ms: float
    change: float
    """Relative: +0.25 is 25 % slower."""
    ci_low: float
    ci_high: float
    """A 95 % bootstrap interval of ``change``."""
    regression: bool
    improvement: bool = False
    """The interval's upper bound is below minus the regression threshold: faster, beyond the noise."""
    baseline_samples: int = 0
    current_samples: int = 0


class DurationSamples(msgspec.Struct, kw_only=True):
    """Per-trace durations of one tool (``all``: every tool) in the load phase, kept for a later ``--baseline``.

    A uniform random subsample (seeded) when the run had more than the cap: percentiles and their bootstrap
    intervals need the samples, not a summary of them.
    """

    tool: str
    count: int
    """Calls before subsampling."""
    values_ms: list[float]


class Verdict(msgspec.Struct, kw_only=True):
    schema: str = SCHEMA
    run_id: str | None
    source: str
    window_start: str
    window_end: str
    passed: bool
    exit_code: int
    """0 pass, 1 a target failed, 2 the data could not support a verdict."""
    grade: str
    grade_rule: str
    grade_reason: str = ""
    """Which target set the grade (the worst margin) and why."""
    targets: list[TargetResult]
    tools: list[ToolStats]
    quality: list[QualityGate]
    disagreements: list[Disagreement]
    slowest_path: PathReport | None
    exemplars: list[Exemplar]
    recommendations: list[str]
    timeseries: list[TimeSeriesPoint] = []
    phases: list[Phase] = []
    capacity: list[CapacityPoint] = []
    baseline: list[BaselineChange] | None = None
    queries: list[str] = []
    """The exact queries the sources ran (SQL, PromQL, URLs): the evidence behind every number."""
    durations: list[DurationSamples] = []
    """What a later run's ``--baseline`` comparison resamples."""
