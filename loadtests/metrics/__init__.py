"""Metrics: HDR-backed series on the workers, lossless aggregation on the coordinator, k6 thresholds.

Workers record into :class:`Registry` series and send :class:`IntervalReport` every second; the coordinator folds
them into an :class:`Aggregate` and evaluates :func:`evaluate` over :func:`parse_thresholds`' result.
"""

from __future__ import annotations

from loadtests.metrics.aggregate import Aggregate, AggregateSnapshot, SeriesSnapshot, TimeSeries, trend_values
from loadtests.metrics.builtin import (
    ADDITIVE_GAUGES,
    BUILTIN_METRICS,
    METRIC_NAME,
    BuiltinMetric,
    metric_types,
    validate_custom_metric,
)
from loadtests.metrics.hdr import EncodedHistogram, Histogram, SparseHistogram, SpectrumPoint
from loadtests.metrics.series import (
    CounterSeries,
    Exemplar,
    GaugeSeries,
    IntervalReport,
    RateSeries,
    Registry,
    SeriesDelta,
    TrendSeries,
)
from loadtests.metrics.thresholds import (
    Threshold,
    ThresholdResult,
    abort_reasons,
    evaluate,
    parse_thresholds,
    should_abort,
)
from loadtests.metrics.types import MetricType, TagSet, ValueKind, tagset

__all__ = (
    "ADDITIVE_GAUGES",
    "BUILTIN_METRICS",
    "METRIC_NAME",
    "Aggregate",
    "AggregateSnapshot",
    "BuiltinMetric",
    "CounterSeries",
    "EncodedHistogram",
    "Exemplar",
    "GaugeSeries",
    "Histogram",
    "IntervalReport",
    "MetricType",
    "RateSeries",
    "Registry",
    "SeriesDelta",
    "SeriesSnapshot",
    "SparseHistogram",
    "SpectrumPoint",
    "TagSet",
    "Threshold",
    "ThresholdResult",
    "TimeSeries",
    "TrendSeries",
    "ValueKind",
    "abort_reasons",
    "evaluate",
    "metric_types",
    "parse_thresholds",
    "should_abort",
    "tagset",
    "trend_values",
    "validate_custom_metric",
)
