"""The engine's built-in metrics (k6's names where k6 has one) and the rules for custom metric names."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, NamedTuple

from loadtests.errors import ConfigError
from loadtests.metrics.types import MetricType, ValueKind

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = (
    "ADDITIVE_GAUGES",
    "BUILTIN_METRICS",
    "METRIC_NAME",
    "BuiltinMetric",
    "metric_types",
    "validate_custom_metric",
)


class BuiltinMetric(NamedTuple):
    type: MetricType
    kind: ValueKind
    description: str


_C, _G, _R, _T = MetricType.COUNTER, MetricType.GAUGE, MetricType.RATE, MetricType.TREND
_TIME, _DATA, _DEFAULT = ValueKind.TIME, ValueKind.DATA, ValueKind.DEFAULT

BUILTIN_METRICS: Mapping[str, BuiltinMetric] = {
    "vus": BuiltinMetric(_G, _DEFAULT, "virtual users running an iteration or waiting for one, all workers"),
    "vus_max": BuiltinMetric(_G, _DEFAULT, "virtual users allocated (pre-allocated plus those started mid-test)"),
    "iterations": BuiltinMetric(_C, _DEFAULT, "iterations completed"),
    "dropped_iterations": BuiltinMetric(
        _C, _DEFAULT, "iterations due but never started (no free VU, or maxDuration reached)"
    ),
    "iteration_duration": BuiltinMetric(_T, _TIME, "time to run one full iteration"),
    "iteration_lateness": BuiltinMetric(
        _T, _TIME, "actual minus intended start of an iteration (arrival-rate executors): waiting for a VU included"
    ),
    "scheduler_lateness": BuiltinMetric(
        _T, _TIME, "how late the scheduler handed out an arrival-rate iteration: the generator's own delay"
    ),
    "http_reqs": BuiltinMetric(_C, _DEFAULT, "HTTP requests sent"),
    "http_req_duration": BuiltinMetric(
        _T, _TIME, "from the actual send to the last byte of the response (uncorrected: service time only)"
    ),
    "http_req_duration_corrected": BuiltinMetric(
        _T,
        _TIME,
        "from the iteration's intended start to the last byte (coordinated-omission corrected, as wrk2)",
    ),
    "http_req_waiting": BuiltinMetric(_T, _TIME, "from the send to the first byte of the response (TTFB)"),
    "http_req_failed": BuiltinMetric(_R, _DEFAULT, "share of HTTP requests that failed (no response or not 2xx/3xx)"),
    "data_sent": BuiltinMetric(_C, _DATA, "bytes sent"),
    "data_received": BuiltinMetric(_C, _DATA, "bytes received"),
    "mcp_tool_calls": BuiltinMetric(_C, _DEFAULT, "MCP tools/call requests sent"),
    "mcp_tool_errors": BuiltinMetric(_R, _DEFAULT, "share of MCP tool calls that failed (isError, or any failure)"),
    "mcp_tool_duration": BuiltinMetric(_T, _TIME, "MCP tools/call round trip"),
    "checks": BuiltinMetric(_R, _DEFAULT, "share of check() predicates that passed"),
    "group_duration": BuiltinMetric(_T, _TIME, "time to run one group() block"),
    "loop_lag": BuiltinMetric(
        _T, _TIME, "a worker event loop's lag: a lagging generator measures itself, not the server"
    ),
}

ADDITIVE_GAUGES: frozenset[str] = frozenset({"vus", "vus_max"})
"""Gauges whose workers' values add up to the run's (each worker reports its own VUs)."""

METRIC_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
"""k6's rule for metric names (also valid for OpenTelemetry and Prometheus)."""


def validate_custom_metric(name: str, type_: MetricType) -> None:
    """Raise ConfigError for a name k6 would reject or one that is a built-in of another type."""
    if not METRIC_NAME.match(name):
        raise ConfigError(
            f"invalid metric name {name!r}: use 1 to 128 characters of [A-Za-z0-9_], not starting with a digit",
            where=f"metric {name!r}",
        )
    builtin = BUILTIN_METRICS.get(name)
    if builtin is not None and builtin.type is not type_:
        raise ConfigError(
            f"metric {name!r} is a built-in {builtin.type}; a custom {type_} cannot use its name",
            where=f"metric {name!r}",
        )


def metric_types(custom: Mapping[str, MetricType] | None = None) -> dict[str, MetricType]:
    """Every metric a threshold may name: the built-ins plus the script's custom metrics (validated)."""
    types = {name: info.type for name, info in BUILTIN_METRICS.items()}
    for name, type_ in (custom or {}).items():
        validate_custom_metric(name, type_)
        types[name] = type_
    return types
