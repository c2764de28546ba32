"""OpenTelemetry for every Personal Pipeline process: providers, the telemetry contract, the embedded receiver.

This package imports nothing of ours, so services and load tests can both depend on it.

The public names below load on first use: importing ``otel.contract`` (every service module does) or starting the
span exporter process (``python -m otel.tracing.exporter``) must not pay for the SDK, Prometheus and psutil.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from otel.propagation import extract_context, header_lines, inject_headers
    from otel.settings import TelemetrySettings, load_settings
    from otel.setup import Telemetry, setup_telemetry

__all__ = (
    "Telemetry",
    "TelemetrySettings",
    "extract_context",
    "header_lines",
    "inject_headers",
    "load_settings",
    "setup_telemetry",
)

_HOMES = {
    "Telemetry": "otel.setup",
    "TelemetrySettings": "otel.settings",
    "extract_context": "otel.propagation",
    "header_lines": "otel.propagation",
    "inject_headers": "otel.propagation",
    "load_settings": "otel.settings",
    "setup_telemetry": "otel.setup",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'otel' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted((*globals(), *__all__))
