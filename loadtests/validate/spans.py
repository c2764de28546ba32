"""The validator's own view of a span: one neutral shape, whatever store the spans came from.

The embedded store, OTLP JSON files (the collector's file exporter) and Jaeger (v1 JSON or api_v3 OTLP JSON) each
describe spans their own way; every source converts to ``SpanRecord`` so the critical path, the targets and the
data-quality gates are written once. Times are Unix nanoseconds (OTLP's unit; Jaeger's microseconds are scaled).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

__all__ = ("SpanKind", "SpanRecord")

SpanKind = Literal["internal", "server", "client", "producer", "consumer", "unspecified"]


class SpanRecord(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """``gc=False``: a run holds up to millions of these and none can reference itself, so the collector skips them."""

    trace_id: str
    """32 lowercase hex digits."""
    span_id: str
    """16 lowercase hex digits."""
    parent_id: str | None
    name: str
    kind: SpanKind
    service: str
    start_ns: int
    end_ns: int
    error: bool = False
    """Status ERROR (OTLP) or ``error=true`` / ``otel.status_code=ERROR`` (Jaeger)."""
    attributes: dict[str, Any] = {}

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns
