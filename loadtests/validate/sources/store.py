"""The embedded receiver's SQLite store (``otel.receiver``): the default source, spans and metrics.

Spans come from ``otel.receiver.query`` (run membership by baggage run id, repeats of retried exports dropped) as
streamed ``LeanSpan`` batches, each turned into a ``SpanRecord`` as it arrives: building the full ``Span`` list
first held 1.7 GB at a million spans. Records share their repeated strings (trace ids, parent ids, names,
services) and, as the store's reader gives them, the attribute dicts of spans with the same attributes: read
them, do not change them.

Metrics are the stored OTLP points (cumulative, as the services export them), turned into window increases by
``_series``; points up to ``baseline_lookback_s`` before the window are read too, so the last point before the
window can serve as the baseline.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from loadtests.validate.formats import KINDS
from loadtests.validate.sources._series import (
    Point,
    PointMetrics,
    label_text,
)
from loadtests.validate.sources.base import SourceError
from loadtests.validate.spans import SpanRecord
from otel.receiver import query
from otel.receiver.settings import ReceiverSettings
from otel.receiver.store import StoreError

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterable


__all__ = ("StoreSource", "default_store_path")

_encode_sorted = msgspec.json.Encoder(order="sorted").encode
"""``SpanRecord.kind`` by OTLP kind number (``query.SpanKind``)."""


def default_store_path() -> Path:
    """Where ``python -m otel.receiver`` (and so ``just serve``) writes: ``PP_RECEIVER_STORE`` or its default."""
    return Path(os.environ.get("PP_RECEIVER_STORE") or ReceiverSettings().receiver_store)


class StoreSource(PointMetrics):
    """A read-only view of one store file; safe to use while a receiver still writes it."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, baseline_lookback_s: float = 300.0) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        self.name = f"store:{self.path}"
        self.baseline_lookback_ns = int(baseline_lookback_s * 1e9)
        self._queries: list[str] = []
        try:
            self._conn: sqlite3.Connection | None = query.connect(self.path)
        except StoreError as error:
            raise SourceError(f"{self.name}: {error}") from None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise SourceError(f"{self.name} is closed")
        return self._conn

    def _record(self, call: str, *args: Any, **kwargs: Any) -> None:
        parts = [repr(str(self.path)), *map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items() if v is not None)]
        self._queries.append(f"otel.receiver.query.{call}({', '.join(parts)})")

    # --- spans --------------------------------------------------------------------------------------------------

    def spans_of_run(self, run_id: str) -> list[SpanRecord]:
        self._record("iter_span_rows_of_run", run_id)
        return _records(query.iter_span_rows_of_run(self._connection(), run_id))

    def spans_in_window(self, start_ns: int, end_ns: int) -> list[SpanRecord]:
        self._record("iter_span_rows_in_window", start_ns, end_ns)
        return _records(query.iter_span_rows_in_window(self._connection(), start_ns, end_ns))

    # --- metrics ------------------------------------------------------------------------------------------------

    def _points(self, metric: str, start_ns: int, end_ns: int) -> list[Point]:
        first = start_ns - self.baseline_lookback_ns
        self._record("metric_points", metric, start_ns=first, end_ns=end_ns + 1)
        found = query.metric_points(self._connection(), metric, start_ns=first, end_ns=end_ns + 1)
        if found and all(p.type in ("exponential_histogram", "summary") for p in found):
            raise SourceError(f"{self.name}: {metric} is a {found[0].type}; only explicit-bucket histograms are read")
        resource_labels: dict[int, dict[str, str]] = {}
        points: list[Point] = []
        for raw in found:
            point = _point(raw, resource_labels)
            if point is not None:
                points.append(point)
        return points

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> StoreSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _records(batches: Iterable[list[query.LeanSpan]]) -> list[SpanRecord]:
    """The records of streamed store spans, in their order, with the cyclic GC paused while they are built.

    The GC would otherwise rescan the growing heap again and again (nothing here is cyclic). One string object per
    distinct trace id, span id (a child's parent id is its parent's), name and service: a run repeats them all.
    """
    out: list[SpanRecord] = []
    append = out.append
    traces: dict[str, str] = {}
    share_id: dict[str, str] = {}
    strings: dict[str, str] = {}
    share_trace, share = traces.setdefault, strings.setdefault
    kinds, error = KINDS, query.StatusCode.ERROR
    enabled = gc.isenabled()
    gc.disable()
    try:
        for batch in batches:
            for span in batch:
                span_id, parent, kind = span.span_id, span.parent_span_id, span.kind
                append(
                    SpanRecord(
                        trace_id=share_trace(span.trace_id, span.trace_id),
                        span_id=share_id.setdefault(span_id, span_id),
                        parent_id=share_id.setdefault(parent, parent) if parent else None,
                        name=share(span.name, span.name),
                        kind=kinds[kind] if 0 <= kind < len(kinds) else "unspecified",
                        service=share(span.service_name, span.service_name),
                        start_ns=span.start_ns,
                        end_ns=span.end_ns,
                        error=span.status_code == error,
                        attributes=span.attributes,
                    )
                )
    finally:
        if enabled:
            gc.enable()
    return out


def _point(raw: query.MetricPoint, resource_labels: dict[int, dict[str, str]]) -> Point | None:
    resource = resource_labels.get(id(raw.resource))
    if resource is None:
        resource = {key: label_text(value) for key, value in raw.resource.items()}
        resource_labels[id(raw.resource)] = resource
    labels = {**resource, **{key: label_text(value) for key, value in raw.attributes.items()}}
    labels["service.name"] = raw.service_name
    if raw.service_instance_id is not None:
        labels["service.instance.id"] = raw.service_instance_id
    series = "\x1f".join(
        (
            raw.service_name,
            raw.service_instance_id or "",
            raw.scope_name,
            _encode_sorted(raw.attributes).decode(),
            _encode_sorted(raw.resource).decode(),
        )
    )
    common: dict[str, Any] = {"series": series, "labels": labels, "time_ns": raw.time_ns, "start_ns": raw.start_ns}
    if raw.type == "histogram":
        if raw.bucket_bounds is None or raw.bucket_counts is None:
            return None
        return Point(
            kind="histogram",
            delta=raw.temporality == 1,
            bounds=tuple(raw.bucket_bounds),
            counts=tuple(raw.bucket_counts),
            count=raw.count if raw.count is not None else sum(raw.bucket_counts),
            sum=raw.sum or 0.0,
            **common,
        )
    if raw.type in ("sum", "gauge") and raw.value is not None:
        return Point(
            kind="sum" if raw.type == "sum" else "gauge",
            delta=raw.temporality == 1,
            monotonic=bool(raw.monotonic),
            value=float(raw.value),
            **common,
        )
    return None
