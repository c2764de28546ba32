"""The built-in catalogue and k6's rules for custom metric names."""

from __future__ import annotations

import pytest

from loadtests.errors import ConfigError
from loadtests.metrics import BUILTIN_METRICS, MetricType, ValueKind, metric_types, validate_custom_metric


def test_catalogue_has_k6_names_and_types() -> None:
    assert BUILTIN_METRICS["http_req_duration"].type is MetricType.TREND
    assert BUILTIN_METRICS["http_req_duration"].kind is ValueKind.TIME
    assert BUILTIN_METRICS["data_sent"].kind is ValueKind.DATA
    assert BUILTIN_METRICS["vus"].type is MetricType.GAUGE
    assert BUILTIN_METRICS["checks"].type is MetricType.RATE
    assert BUILTIN_METRICS["dropped_iterations"].type is MetricType.COUNTER
    assert all(info.description for info in BUILTIN_METRICS.values())


@pytest.mark.parametrize("name", ["a", "_x", "My_Metric_2", "x" * 128])
def test_valid_custom_names(name: str) -> None:
    validate_custom_metric(name, MetricType.TREND)


@pytest.mark.parametrize("name", ["", "2fast", "with-dash", "with space", "x" * 129, "ünïcode"])
def test_invalid_custom_names(name: str) -> None:
    with pytest.raises(ConfigError, match="invalid metric name"):
        validate_custom_metric(name, MetricType.COUNTER)


def test_a_custom_metric_may_not_take_a_builtin_name_with_another_type() -> None:
    validate_custom_metric("http_reqs", MetricType.COUNTER)  # same type: fine
    with pytest.raises(ConfigError, match="'http_reqs' is a built-in counter; a custom trend"):
        validate_custom_metric("http_reqs", MetricType.TREND)
    with pytest.raises(ConfigError):
        metric_types({"checks": MetricType.COUNTER})
    assert metric_types({"mine": MetricType.GAUGE})["mine"] is MetricType.GAUGE
