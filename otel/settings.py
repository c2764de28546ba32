"""Telemetry settings: the standard ``OTEL_*`` variables plus our ``PP_*_PROVIDER`` choices and ``PP_SPAN_*``.

``otel`` imports nothing of ``services``, so it cannot use the services' ``PP_``-prefix loader; and the standard
variables share no prefix anyway. Each field therefore names its variable(s) in ``ENV_VARS``. Values are converted
with msgspec, so a bad value fails at start-up naming the variable, not deep inside an exporter thread.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Final, Literal
from urllib.parse import unquote, urlsplit

import msgspec

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ("ENV_VARS", "TelemetrySettings", "TelemetrySettingsError", "load_settings", "parse_key_values")

Sampler = Literal[
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
    "always_on",
    "always_off",
    "traceidratio",
]


class TelemetrySettings(msgspec.Struct, kw_only=True, frozen=True):
    """Everything ``setup_telemetry`` needs; build it with ``load_settings()`` or directly in tests."""

    service_name: str | None = None
    """``OTEL_SERVICE_NAME``: overrides the name the process passes to ``setup_telemetry``."""
    resource_attributes: str = ""
    """``OTEL_RESOURCE_ATTRIBUTES``: ``key=value,...`` (values percent-encoded)."""
    sdk_disabled: bool = False
    """``OTEL_SDK_DISABLED``: no providers at all; the API's no-ops stay in place."""
    traces_exporter: Literal["otlp", "none"] = "otlp"
    metrics_exporter: Literal["otlp", "none"] = "otlp"
    """``none`` still serves ``/metrics`` (Prometheus text): only the OTLP push is off."""
    otlp_endpoint: str = "http://127.0.0.1:4318"
    """Base URL; ``/v1/traces`` and ``/v1/metrics`` are appended."""
    otlp_traces_endpoint: str | None = None
    """Used as given (include the path), as the OTLP exporter specification says."""
    otlp_metrics_endpoint: str | None = None
    otlp_headers: str = ""
    """``OTEL_EXPORTER_OTLP_HEADERS``: ``key=value,...`` sent with every export."""
    otlp_traces_headers: str = ""
    otlp_timeout_ms: int = 10_000
    otlp_compression: Literal["none", "gzip"] = "none"
    traces_sampler: Sampler = "parentbased_always_on"
    traces_sampler_arg: float = 1.0
    """The ratio of the ``*traceidratio`` samplers."""
    metric_export_interval_ms: int = 60_000
    metric_export_timeout_ms: int = 30_000
    bsp_schedule_delay_ms: int = 5_000
    bsp_max_queue_size: int = 2_048
    bsp_max_export_batch_size: int = 512
    bsp_export_timeout_ms: int = 30_000
    span_attribute_count_limit: int = 128
    span_attribute_value_length_limit: int | None = None
    """Strings (and strings in sequences) longer than this are truncated; unset means no limit, as in the SDK."""
    span_event_count_limit: int = 128
    span_link_count_limit: int = 128
    event_attribute_count_limit: int = 128
    link_attribute_count_limit: int = 128
    tracer_provider: Literal["fast", "sdk"] = "fast"
    """``PP_TRACER_PROVIDER``: ``fast`` keeps SDK objects off the request path (reference/otel-cost.md)."""
    meter_provider: Literal["lean", "sdk"] = "lean"
    """``PP_METER_PROVIDER``: ``lean`` aggregates the contract's duration histograms off the SDK (otel/durations.py);
    ``sdk`` leaves every instrument to the SDK (the contract's bounds then come from Views)."""
    span_buffer: int = 65_536
    """``PP_SPAN_BUFFER``: spans held in process (and again in the exporter) before new ones are dropped."""
    span_batch: int = 512
    """``PP_SPAN_BATCH``: spans per frame to the exporter process; reaching it wakes the shipper early."""
    span_flush_interval_ms: int = 200
    """``PP_SPAN_FLUSH_INTERVAL_MS``: the longest a span waits in process before it is shipped."""
    shutdown_timeout_s: float = 10.0
    """``PP_TELEMETRY_SHUTDOWN_TIMEOUT_S``: how long ``shutdown()`` waits for the last export."""

    def validate(self) -> TelemetrySettings:
        """Raise ``TelemetrySettingsError`` for values msgspec cannot rule out; return the settings.

        A bad endpoint must stop start-up, not leave an exporter failing quietly for the life of the process.
        """
        for field in _MINIMUM_ONE:
            if getattr(self, field) < 1:
                raise TelemetrySettingsError(f"invalid telemetry setting: {_variable(field)} must be >= 1")
        if not 0.0 <= self.traces_sampler_arg <= 1.0:
            raise TelemetrySettingsError("invalid telemetry setting: OTEL_TRACES_SAMPLER_ARG must be within [0, 1]")
        for url, field in ((self.traces_url, "otlp_traces_endpoint"), (self.metrics_url, "otlp_metrics_endpoint")):
            parts = urlsplit(url)
            if parts.scheme not in {"http", "https"} or not parts.hostname:
                raise TelemetrySettingsError(
                    f"invalid telemetry setting: {url!r} (from {_variable(field)} or OTEL_EXPORTER_OTLP_ENDPOINT) "
                    "is not an http(s) URL"
                )
        return self

    @property
    def traces_url(self) -> str:
        return self.otlp_traces_endpoint or self.otlp_endpoint.rstrip("/") + "/v1/traces"

    @property
    def metrics_url(self) -> str:
        return self.otlp_metrics_endpoint or self.otlp_endpoint.rstrip("/") + "/v1/metrics"

    @property
    def traces_headers(self) -> dict[str, str]:
        return parse_key_values(self.otlp_headers) | parse_key_values(self.otlp_traces_headers)

    @property
    def metrics_headers(self) -> dict[str, str]:
        return parse_key_values(self.otlp_headers)


ENV_VARS: Final[Mapping[str, tuple[str, ...]]] = {
    "service_name": ("OTEL_SERVICE_NAME",),
    "resource_attributes": ("OTEL_RESOURCE_ATTRIBUTES",),
    "sdk_disabled": ("OTEL_SDK_DISABLED",),
    "traces_exporter": ("OTEL_TRACES_EXPORTER",),
    "metrics_exporter": ("OTEL_METRICS_EXPORTER",),
    "otlp_endpoint": ("OTEL_EXPORTER_OTLP_ENDPOINT",),
    "otlp_traces_endpoint": ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",),
    "otlp_metrics_endpoint": ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",),
    "otlp_headers": ("OTEL_EXPORTER_OTLP_HEADERS",),
    "otlp_traces_headers": ("OTEL_EXPORTER_OTLP_TRACES_HEADERS",),
    "otlp_timeout_ms": ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"),
    "otlp_compression": ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION"),
    "traces_sampler": ("OTEL_TRACES_SAMPLER",),
    "traces_sampler_arg": ("OTEL_TRACES_SAMPLER_ARG",),
    "metric_export_interval_ms": ("OTEL_METRIC_EXPORT_INTERVAL",),
    "metric_export_timeout_ms": ("OTEL_METRIC_EXPORT_TIMEOUT",),
    "bsp_schedule_delay_ms": ("OTEL_BSP_SCHEDULE_DELAY",),
    "bsp_max_queue_size": ("OTEL_BSP_MAX_QUEUE_SIZE",),
    "bsp_max_export_batch_size": ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE",),
    "bsp_export_timeout_ms": ("OTEL_BSP_EXPORT_TIMEOUT",),
    "span_attribute_count_limit": ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT"),
    "span_attribute_value_length_limit": (
        "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
        "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    ),
    "span_event_count_limit": ("OTEL_SPAN_EVENT_COUNT_LIMIT",),
    "span_link_count_limit": ("OTEL_SPAN_LINK_COUNT_LIMIT",),
    "event_attribute_count_limit": ("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",),
    "link_attribute_count_limit": ("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",),
    "tracer_provider": ("PP_TRACER_PROVIDER",),
    "meter_provider": ("PP_METER_PROVIDER",),
    "span_buffer": ("PP_SPAN_BUFFER",),
    "span_batch": ("PP_SPAN_BATCH",),
    "span_flush_interval_ms": ("PP_SPAN_FLUSH_INTERVAL_MS",),
    "shutdown_timeout_s": ("PP_TELEMETRY_SHUTDOWN_TIMEOUT_S",),
}
"""Field → variables, most specific first (a per-signal variable wins over the generic one)."""

_LOWERCASE: Final = frozenset({"traces_exporter", "metrics_exporter", "otlp_compression", "traces_sampler"})
"""Enumerations the specification treats case-insensitively."""
_MINIMUM_ONE: Final = ("span_buffer", "span_batch", "span_flush_interval_ms", "metric_export_interval_ms")


class TelemetrySettingsError(ValueError):
    """An ``OTEL_*``/``PP_*`` telemetry variable could not be converted to its field's type."""


def load_settings(environ: Mapping[str, str] | None = None) -> TelemetrySettings:
    """Read the settings from ``environ`` (default ``os.environ``); empty variables count as unset."""
    env = os.environ if environ is None else environ
    raw: dict[str, str] = {}
    source: dict[str, str] = {}
    for field, names in ENV_VARS.items():
        for name in names:
            value = env.get(name, "").strip()
            if value:
                raw[field] = value.lower() if field in _LOWERCASE else value
                source[field] = name
                break
    try:
        settings = msgspec.convert(raw, TelemetrySettings, strict=False)
    except msgspec.ValidationError as exc:
        message = str(exc)
        for field, name in source.items():
            message = message.replace(f"`$.{field}`", name)
        raise TelemetrySettingsError(f"invalid telemetry setting: {message}") from None
    return settings.validate()


def _variable(field: str) -> str:
    return ENV_VARS[field][0]


def parse_key_values(text: str) -> dict[str, str]:
    """Parse the ``key=value,key2=value2`` lists of ``OTEL_RESOURCE_ATTRIBUTES`` and ``OTEL_EXPORTER_OTLP_HEADERS``.

    Values are percent-decoded (the W3C baggage octet rules the specification refers to); members without ``=`` or
    with an empty key are skipped, as the SDK does, rather than failing start-up over a typo in a label.
    """
    pairs: dict[str, str] = {}
    for member in text.split(","):
        key, sep, value = member.partition("=")
        key = key.strip()
        if sep and key:
            pairs[key] = unquote(value.strip())
    return pairs
