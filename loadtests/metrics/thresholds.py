"""k6 thresholds: parse ``options["thresholds"]``, evaluate them against an :class:`Aggregate`, decide on aborting.

Syntax is k6's. Keys are ``metric`` or ``metric{tag:value,tag2:value}`` (a sub-metric: every series whose tags
include all the pairs; a value is split from its tag at the first colon, so ``group:::outer::inner`` works).
Expressions are ``<aggregation> <op> <number>`` with ops ``< <= > >= == !=`` and the aggregations of the metric's type:
counter ``count``/``rate``, gauge ``value``, rate ``rate``, trend ``avg``/``min``/``max``/``med``/``p(N)`` (N in
0..100, fractional allowed). Time values are milliseconds. An entry is a string or the long form
``{"threshold": "p(99)<10", "abortOnFail": True, "delayAbortEval": "10s"}``.

No samples: a (sub-)metric without any sample is reported ``no_data`` and does not fail. k6 differs here: since
v0.38 it evaluates thresholds over the empty sink, where every value is 0, so ``count>0`` fails and ``p(95)<200``
passes there (before v0.38 it skipped such thresholds, grafana/k6#1053, #1346). A check on data that never arrived
proves nothing either way; the summary shows ``no_data`` so the gap is visible instead of hidden in a pass or a fail.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

import msgspec

from loadtests.durations import parse_duration
from loadtests.errors import ConfigError
from loadtests.metrics.aggregate import trend_values
from loadtests.metrics.types import MetricType, TagSet

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from loadtests.metrics.aggregate import Aggregate
    from loadtests.metrics.hdr import Histogram

__all__ = (
    "AGGREGATIONS",
    "OPERATORS",
    "Threshold",
    "ThresholdResult",
    "abort_reasons",
    "evaluate",
    "parse_thresholds",
    "should_abort",
)

OPERATORS: Mapping[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}

AGGREGATIONS: Mapping[MetricType, tuple[str, ...]] = {
    MetricType.COUNTER: ("count", "rate"),
    MetricType.GAUGE: ("value",),
    MetricType.RATE: ("rate",),
    MetricType.TREND: ("avg", "min", "max", "med", "p(N)"),
}

_LONG_FORM_FIELDS = ("threshold", "abortOnFail", "delayAbortEval")
_KEY = re.compile(r"\s*(?P<metric>[^{}\s]+)\s*(?:\{(?P<filter>[^{}]*)\})?\s*", re.DOTALL)
_EXPRESSION = re.compile(r"\s*(?P<agg>[A-Za-z_]\w*(?:\s*\([^)]*\))?)\s*(?P<rest>.*?)\s*", re.DOTALL)
_OPERATOR = re.compile(r"(?P<op><=|>=|==|!=|<|>)\s*(?P<number>.*)", re.DOTALL)
_PERCENTILE = re.compile(r"p\s*\(\s*(?P<n>[^)]*?)\s*\)")


class Threshold(msgspec.Struct, frozen=True):
    """One parsed expression on one (sub-)metric."""

    key: str
    """The key as written (``http_req_duration{scenario:a}``)."""
    metric: str
    filter: TagSet
    type: MetricType
    expression: str
    """The expression as written, trimmed (``p(95) < 200``)."""
    aggregation: str
    """Normalised: ``avg``, ``count``, ``p(99.9)`` …"""
    op: str
    bound: float
    percentile: float | None = None
    abort_on_fail: bool = False
    delay_abort_s: float = 0.0

    def passes(self, observed: float) -> bool:
        return OPERATORS[self.op](observed, self.bound)


class ThresholdResult(msgspec.Struct, frozen=True):
    """A threshold's verdict: ``observed`` is the aggregation's value, None with ``no_data`` (which counts as ok)."""

    threshold: Threshold
    ok: bool
    observed: float | None
    no_data: bool = False


# -- parsing ------------------------------------------------------------------------------------------------------


def parse_thresholds(
    raw: Mapping[str, Sequence[str | Mapping[str, object]] | str],
    metric_types: Mapping[str, MetricType],
) -> list[Threshold]:
    """Every expression of every key, in order; any mistake is a :class:`ConfigError` saying where and what."""
    parsed: list[Threshold] = []
    for raw_key, entries in raw.items():
        key: object = raw_key
        if not isinstance(key, str):
            raise ConfigError(f"a threshold key must be a metric name string, got {key!r}", where="thresholds")
        where = f"thresholds[{key!r}]"
        metric, tag_filter = _parse_key(key, where)
        type_ = metric_types.get(metric)
        if type_ is None:
            raise ConfigError(f"unknown metric {metric!r}{_did_you_mean(metric, metric_types)}", where=where)
        items: object = entries
        if isinstance(items, str | Mapping):
            items = [items]  # one expression without the list: harmless to accept
        if not isinstance(items, list | tuple):
            raise ConfigError(f"expected a list of threshold expressions, got {type(items).__name__}", where=where)
        for entry in items:
            parsed.append(_parse_entry(key, metric, tag_filter, type_, entry, where))
    return parsed


def _parse_key(key: str, where: str) -> tuple[str, TagSet]:
    match = _KEY.fullmatch(key)
    if match is None:
        if key.count("{") != key.count("}") or ("{" in key and not key.rstrip().endswith("}")):
            raise ConfigError(f"unbalanced braces in {key!r}: write metric{{tag:value,other:value}}", where=where)
        raise ConfigError(f"{key!r} is not a metric name or metric{{tag:value,...}}", where=where)
    metric = match["metric"]
    body = match["filter"]
    if body is None:
        return metric, ()
    if not body.strip():
        raise ConfigError(f"empty tag filter in {key!r}: drop the braces or name a tag:value", where=where)
    pairs: dict[str, str] = {}
    for part in body.split(","):
        tag, colon, value = part.partition(":")
        tag = tag.strip()
        if not colon or not tag:
            raise ConfigError(f"tag filter {part.strip()!r} in {key!r} is not tag:value", where=where)
        if tag in pairs:
            raise ConfigError(f"tag {tag!r} appears twice in {key!r}", where=where)
        pairs[tag] = value.strip()
    return metric, tuple(sorted(pairs.items()))


def _did_you_mean(name: str, known: Mapping[str, MetricType]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _parse_entry(key: str, metric: str, tag_filter: TagSet, type_: MetricType, entry: object, where: str) -> Threshold:
    abort_on_fail = False
    delay = 0.0
    if isinstance(entry, Mapping):
        unknown = sorted(str(field) for field in entry if field not in _LONG_FORM_FIELDS)
        if unknown:
            raise ConfigError(
                f"unknown field(s) {', '.join(map(repr, unknown))} in a threshold; "
                f"known: {', '.join(_LONG_FORM_FIELDS)}",
                where=where,
            )
        expression = entry.get("threshold")
        if not isinstance(expression, str):
            raise ConfigError(f"a long-form threshold needs 'threshold': a string, got {expression!r}", where=where)
        abort = entry.get("abortOnFail", False)
        if not isinstance(abort, bool):
            raise ConfigError(f"'abortOnFail' of {expression!r} must be true or false, got {abort!r}", where=where)
        abort_on_fail = abort
        if "delayAbortEval" in entry:
            raw_delay = entry["delayAbortEval"]
            if isinstance(raw_delay, bool) or not isinstance(raw_delay, str | int | float):
                raise ConfigError(f"'delayAbortEval' of {expression!r} must be a duration like '10s'", where=where)
            delay = parse_duration(raw_delay, where=f"{where} delayAbortEval")
    elif isinstance(entry, str):
        expression = entry
    else:
        raise ConfigError(
            f"a threshold is a string like 'p(95)<200' or a mapping with 'threshold', got {entry!r}", where=where
        )
    aggregation, percentile, op, bound = _parse_expression(expression, type_, f"{where} {expression!r}")
    return Threshold(
        key=key,
        metric=metric,
        filter=tag_filter,
        type=type_,
        expression=expression.strip(),
        aggregation=aggregation,
        op=op,
        bound=bound,
        percentile=percentile,
        abort_on_fail=abort_on_fail,
        delay_abort_s=delay,
    )


def _parse_expression(expression: str, type_: MetricType, where: str) -> tuple[str, float | None, str, float]:
    match = _EXPRESSION.fullmatch(expression)
    if match is None or not expression.strip():
        raise ConfigError("expected '<aggregation> <op> <number>', like 'p(95)<200'", where=where)
    aggregation, rest = match["agg"], match["rest"]
    percentile: float | None = None
    p_match = _PERCENTILE.fullmatch(aggregation)
    if p_match is not None:
        percentile = _parse_percentile(p_match["n"], where)
        aggregation = f"p({percentile:g})"
        if type_ is not MetricType.TREND:
            raise ConfigError(_wrong_aggregation("p(N)", type_), where=where)
    elif aggregation not in AGGREGATIONS[type_]:
        raise ConfigError(_wrong_aggregation(aggregation, type_), where=where)
    if not rest:
        raise ConfigError(f"missing operator and number after {aggregation!r}", where=where)
    op_match = _OPERATOR.fullmatch(rest)
    if op_match is None:
        token = rest.split()[0] if rest.split() else rest
        raise ConfigError(f"bad operator {token[:3]!r}: use one of {' '.join(OPERATORS)}", where=where)
    number = op_match["number"].strip()
    try:
        bound = float(number)
    except ValueError:
        raise ConfigError(
            f"{number!r} is not a number (thresholds compare plain numbers; time metrics are in ms)", where=where
        ) from None
    if not math.isfinite(bound):
        raise ConfigError(f"{number!r} is not a finite number", where=where)
    return aggregation, percentile, op_match["op"], bound


def _parse_percentile(text: str, where: str) -> float:
    try:
        n = float(text)
    except ValueError:
        raise ConfigError(f"p(N) needs a number N within 0..100, got p({text})", where=where) from None
    if not 0.0 <= n <= 100.0:  # also rejects NaN
        raise ConfigError(f"p({text}) is out of range: N must be within 0..100", where=where)
    return n


def _wrong_aggregation(aggregation: str, type_: MetricType) -> str:
    valid = " or ".join(AGGREGATIONS[type_])
    return f"{aggregation!r} is not an aggregation of a {type_} metric: use {valid}"


# -- evaluating ---------------------------------------------------------------------------------------------------


def evaluate(thresholds: Sequence[Threshold], aggregate: Aggregate, elapsed_s: float) -> list[ThresholdResult]:
    """Each threshold against the run so far (or the whole run); ``elapsed_s`` is what counter ``rate`` divides by."""
    trend_cache: dict[tuple[str, TagSet], dict[str, float] | None] = {}
    hist_cache: dict[tuple[str, TagSet], Histogram | None] = {}
    results: list[ThresholdResult] = []
    for threshold in thresholds:
        observed = _observe(threshold, aggregate, elapsed_s, trend_cache, hist_cache)
        if observed is None:
            results.append(ThresholdResult(threshold, ok=True, observed=None, no_data=True))
        else:
            results.append(ThresholdResult(threshold, ok=threshold.passes(observed), observed=observed))
    return results


def _observe(
    threshold: Threshold,
    aggregate: Aggregate,
    elapsed_s: float,
    trend_cache: dict[tuple[str, TagSet], dict[str, float] | None],
    hist_cache: dict[tuple[str, TagSet], Histogram | None],
) -> float | None:
    key = (threshold.metric, threshold.filter)
    if threshold.type is MetricType.TREND:
        if key not in hist_cache:
            hist_cache[key] = aggregate.histogram(threshold.metric, threshold.filter)
        hist = hist_cache[key]
        if hist is None:
            return None
        if threshold.percentile is not None:
            return hist.percentile(threshold.percentile)
        if key not in trend_cache:
            trend_cache[key] = trend_values(hist)
        stats = trend_cache[key]
        assert stats is not None
        return stats[threshold.aggregation]
    values = aggregate.values(threshold.metric, threshold.filter, elapsed_s)
    return values.get(threshold.aggregation)


def abort_reasons(results: Sequence[ThresholdResult], elapsed_s: float) -> list[ThresholdResult]:
    """The failed thresholds that stop the run now: ``abortOnFail`` and past their ``delayAbortEval``."""
    return [r for r in results if not r.ok and r.threshold.abort_on_fail and elapsed_s >= r.threshold.delay_abort_s]


def should_abort(results: Sequence[ThresholdResult], elapsed_s: float) -> bool:
    """True when some failed threshold has ``abortOnFail`` and the run is past its ``delayAbortEval``."""
    return bool(abort_reasons(results, elapsed_s))
