"""The validator's targets and the rules it judges them by: the seed's defaults, a user's file over them, a scenario's.

**Defaults** are the seed's targets (``targets.default.toml`` next to this module lists them, and a test keeps the
two equal): cached tool calls p95 < 200 ms, uncached < 500 ms, cold < 2 s, overall p95 < 1000 ms, errors < 2 %,
availability ≥ 99 %, throughput ≥ 10 RPS (minimum, an error) and ≥ 25 RPS (a warning), memory < 2048 MB per
instance, CPU < 80 % of a core per instance, cache hit rate ≥ 70 % (≥ 85 %: a warning).

**A user's file** (TOML, or YAML for ``.yaml``/``.yml``) holds only what it changes, in the same sections; an
unknown key is an error (a typo must not silently keep a default).

**A scenario's own targets** (the load summary's ``targets``) can tighten the latency, error and availability
bounds but never loosen them (the seed's targets are floors). Its ``cache_hit_ratio`` is what its traffic model
*intended*: the measured hit rate must reach it less ``cache.hit_ratio_tolerance``, and the 70 %/85 % targets apply
only to scenarios that intend at least that much plus the tolerance (the storm intends 50 %: a 52 % hit rate there
is the test working, not the cache failing; the peak intends exactly 70 %, which would make the 70 % target a coin
toss on sampling noise, so its intended-ratio check judges it).

**Margins** say how much of a target's budget is left: ``(bound − observed) / bound`` for upper bounds (100 ms
against 200 ms: 0.5), ``(observed − bound) / (1 − bound)`` for lower bounds on a fraction (availability 0.999
against 0.99: 0.9 of the allowed shortfall unused), ``(observed − bound) / bound`` for other lower bounds (RPS).
"""

from __future__ import annotations

import tomllib
from typing import TYPE_CHECKING, Any, Literal

import msgspec
import yaml

from loadtests.errors import ConfigError
from loadtests.validate.verdict import TargetResult

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from loadtests.validate.verdict import Source

__all__ = (
    "DEFAULT_CACHED_TOOLS",
    "BaselineRules",
    "CacheRules",
    "Config",
    "DisagreementRules",
    "Effective",
    "Op",
    "QualityRules",
    "SampleMinimums",
    "Severity",
    "Targets",
    "ThroughputRules",
    "Unit",
    "check",
    "effective_targets",
    "load_config",
    "margin",
)

Op = Literal["<", "<=", ">", ">="]
Unit = Literal["ms", "ratio", "rps", "MB", "percent", "count"]
Severity = Literal["error", "warning"]

DEFAULT_CACHED_TOOLS: tuple[str, ...] = (
    "get_decision_tree",
    "get_procedure",
    "search_knowledge_base",
    "search_runbooks",
)
"""Tools whose answers go through retrieval's cache (``loadtests.scenarios.traffic.CACHED_TOOLS``; a test checks)."""


class _Section(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class Targets(_Section, frozen=True, kw_only=True):
    cached_p95_ms: float = 200.0
    """p95 of tool calls served from L1 or L2 (a ``cache.get`` span with ``cache.hit`` true)."""
    uncached_p95_ms: float = 500.0
    """p95 of cache misses and of calls to tools that are not cached."""
    cold_max_ms: float = 2000.0
    """Every cold call (per tool, its first call of the run not served from cache) — the slowest of them."""
    p95_ms: float = 1000.0
    error_rate: float = 0.02
    availability: float = 0.99
    throughput_min_rps: float = 10.0
    throughput_target_rps: float = 25.0
    """A warning-severity target: it fails a run only with ``--strict``."""
    memory_mb: float = 2048.0
    """Peak resident set size of each instance (MiB)."""
    cpu_percent: float = 80.0
    """Average CPU of each instance, in percent of one core (each service process runs one event loop)."""
    cache_hit_min: float = 0.70
    cache_hit_target: float = 0.85
    """A warning-severity target."""


class SampleMinimums(_Section, frozen=True, kw_only=True):
    """Below these, a percentile or a rate is not evaluable (a warning), never a silent pass.

    p95 from 20 samples is the 19th of 20: one sample either way moves it a whole rank. p99 needs 100 for its rank
    to be more than the maximum. A rate against a 2 % bound needs 50 calls before one failure is below it.
    """

    p50: int = 5
    p95: int = 20
    p99: int = 100
    rate: int = 50


class CacheRules(_Section, frozen=True, kw_only=True):
    tools: tuple[str, ...] = DEFAULT_CACHED_TOOLS
    """Tools that go through the cache: one without any ``cache.get`` span has an unknown outcome, not "uncached"."""
    hit_ratio_tolerance: float = 0.10
    """Absolute: a scenario intending 0.5 passes with a measured 0.4 or more."""


class ThroughputRules(_Section, frozen=True, kw_only=True):
    keep_up_tolerance: float = 0.05
    """The run must achieve at least (1 − this) of the load the scenario offered."""


class DisagreementRules(_Section, frozen=True, kw_only=True):
    ratio: float = 1.5
    """Two sources disagree when one figure exceeds the other by this factor..."""
    min_gap_ms: float = 10.0
    """...and by at least this much (a 2 ms vs 4 ms difference is not worth a sentence)."""
    rate_gap: float = 0.01
    """Hit and error rates from two sources disagree beyond this absolute difference."""


class QualityRules(_Section, frozen=True, kw_only=True):
    clock_skew_ms: float = 5.0
    """A cross-service child may start before its parent (or a server span leave its client span) by this much."""
    broken_share_error: float = 0.05
    """Broken traces above this share of traces make the data unfit for a verdict (below: a warning)."""
    orphan_share_error: float = 0.05
    dropped_share_error: float = 0.01
    """Spans dropped by exporters, as a share of the spans received, above which no verdict is given."""
    sampling_tolerance: float = 0.02
    """Traces within this relative distance of the client's request count count as unsampled."""
    min_traces: int = 1


class BaselineRules(_Section, frozen=True, kw_only=True):
    regression: float = 0.10
    """A percentile regressed when the lower bound of its change's confidence interval is above +10 %."""
    confidence: float = 0.95
    resamples: int = 2000
    max_samples: int = 5000
    """Per-tool durations kept in a verdict for later comparisons (a seeded uniform subsample above this)."""
    seed: int = 1
    stats: tuple[str, ...] = ("p50", "p95", "p99")


class Config(_Section, frozen=True, kw_only=True):
    targets: Targets = Targets()
    samples: SampleMinimums = SampleMinimums()
    cache: CacheRules = CacheRules()
    throughput: ThroughputRules = ThroughputRules()
    disagreement: DisagreementRules = DisagreementRules()
    quality: QualityRules = QualityRules()
    baseline: BaselineRules = BaselineRules()
    scenario_targets: bool = True
    """Apply the load summary's per-scenario targets (tighten only) and intended cache-hit ratio."""


def load_config(path: Path | None = None) -> Config:
    """The defaults, with ``path`` (TOML, or YAML for ``.yaml``/``.yml``) over them; ``ConfigError`` names the file."""
    if path is None:
        return Config()
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read the targets file: {error.strerror or error}", where=where) from None
    raw: Any
    try:
        raw = yaml.safe_load(text) if path.suffix.lower() in (".yaml", ".yml") else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as error:
        raise ConfigError(f"not a valid targets file: {error}", where=where) from None
    if raw is None:
        return Config()
    if not isinstance(raw, dict):
        raise ConfigError("a targets file is a table of sections ([targets], [samples], ...)", where=where)
    merged = _merge(msgspec.to_builtins(Config()), raw)
    try:
        config = msgspec.convert(merged, Config)
    except msgspec.ValidationError as error:
        raise ConfigError(str(error), where=where) from None
    _validate(config, where)
    return config


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _validate(config: Config, where: str) -> None:
    t = config.targets
    for name in ("cached_p95_ms", "uncached_p95_ms", "cold_max_ms", "p95_ms", "memory_mb", "cpu_percent"):
        if getattr(t, name) <= 0:
            raise ConfigError(f"targets.{name} must be positive", where=where)
    for name in ("error_rate", "availability", "cache_hit_min", "cache_hit_target"):
        if not 0 <= getattr(t, name) <= 1:
            raise ConfigError(f"targets.{name} is a fraction (0.02, not 2)", where=where)
    if not 0 < config.baseline.confidence < 1:
        raise ConfigError("baseline.confidence is a fraction such as 0.95", where=where)
    if config.baseline.resamples < 100 or config.baseline.max_samples < 1:
        raise ConfigError("baseline.resamples must be at least 100 and baseline.max_samples positive", where=where)
    unknown = set(config.baseline.stats) - {"p50", "p90", "p95", "p99"}
    if unknown:
        raise ConfigError(f"baseline.stats: unknown {sorted(unknown)}; use p50, p90, p95 or p99", where=where)


class Effective(msgspec.Struct, frozen=True, kw_only=True):
    """The targets for one run: the configured ones, tightened by the scenario's, plus what the scenario intended."""

    targets: Targets
    intended_hit_ratio: float | None
    notes: list[str]


def effective_targets(config: Config, scenario: Mapping[str, float] | None) -> Effective:
    """Apply a scenario's targets (the load summary's ``targets``): tighten only, never loosen."""
    t = config.targets
    if not config.scenario_targets or not scenario:
        return Effective(targets=t, intended_hit_ratio=None, notes=[])
    notes: list[str] = []
    changes: dict[str, float] = {}
    for ours, theirs, stricter in (
        ("p95_ms", "p95_ms", min),
        ("cached_p95_ms", "cached_p95_ms", min),
        ("error_rate", "error_rate", min),
        ("availability", "availability", max),
    ):
        value = scenario.get(theirs)
        if value is None:
            continue
        chosen = stricter(getattr(t, ours), float(value))
        if chosen != getattr(t, ours):
            notes.append(f"{ours} {getattr(t, ours):g} → {chosen:g} (the scenario's, stricter)")
            changes[ours] = chosen
    intended = scenario.get("cache_hit_ratio")
    return Effective(
        targets=msgspec.structs.replace(t, **changes) if changes else t,
        intended_hit_ratio=None if intended is None else float(intended),
        notes=notes,
    )


def margin(observed: float, op: Op, bound: float, unit: Unit) -> float:
    """The unused share of the target's budget: positive inside the bound, negative outside (module docstring)."""
    if op in ("<", "<="):
        scale = bound if bound > 0 else 1.0
        return (bound - observed) / scale
    if unit == "ratio" and bound < 1:
        return (observed - bound) / (1 - bound)
    return (observed - bound) / (bound if bound > 0 else 1.0)


def _passes(observed: float, op: Op, bound: float) -> bool:
    if op == "<":
        return observed < bound
    if op == "<=":
        return observed <= bound
    if op == ">":
        return observed > bound
    return observed >= bound


def check(
    *,
    id: str,  # noqa: A002 - the TargetResult field it fills
    description: str,
    scope: str,
    source: Source,
    observed: float | None,
    op: Op,
    bound: float,
    unit: Unit,
    samples: int = 0,
    needed: int = 0,
    severity: Severity = "error",
    note: str = "",
    inapplicable: str | None = None,
) -> TargetResult:
    """One target's result; ``observed`` None (no data) or fewer than ``needed`` samples: not evaluable (a warning).

    ``inapplicable`` says why this run cannot show the target at all (the scenario never offered it): the result is
    reported with that reason, marked ``applicable=False`` and ignored by the exit code.
    """
    shown = TargetResult(
        id=id,
        description=description,
        scope=scope,
        source=source,
        observed=observed,
        op=op,
        bound=bound,
        unit=unit,
        passed=None,
        samples=samples,
        severity=severity,
        note=note,
    )
    if inapplicable is not None:
        return msgspec.structs.replace(shown, note=f"not applicable: {inapplicable}", applicable=False)
    if observed is None or samples < needed:
        why = (
            "no data"
            if observed is None
            else f"{samples} samples, {needed} needed (the {samples} gave {observed:.4g} {unit})"
        )
        return msgspec.structs.replace(shown, observed=None, note=_join(f"not evaluable: {why}", note))
    return msgspec.structs.replace(shown, passed=_passes(observed, op, bound), margin=margin(observed, op, bound, unit))


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)
