"""OTLP JSON-lines files, as the Collector's file exporter (and ``otel.receiver --jsonl``) writes them.

Each line is one export request: ``{"resourceSpans": ...}`` or ``{"resourceMetrics": ...}``. A path is one file or
a directory of them (``*.json``, ``*.jsonl``, ``*.ndjson``, optionally ``.gz``); a trace may be split over several
lines and files, in any order.

Files can be large, so they are streamed a line at a time and never held whole, and a line is decoded only when a
cheap byte test says it may matter: a run is found in two passes, the first decoding only the lines that contain
the run id (to learn the run's trace ids), the second only the lines that mention one of those traces. Both decode
into typed structs rather than dicts (``_otlp``): a million spans are read in ~10 s, not ~60 s. Run
membership is the store's rule: a trace belongs to the run when any of its spans carries ``pp.run.id`` (as a span
attribute, else on its resource), and then all its spans do, except any that carries a different run id. A span
exported twice (a retried export) is kept once.
"""

from __future__ import annotations

import gzip
import re
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from loadtests.validate.formats import SpanFormatError
from loadtests.validate.sources._otlp import (
    attributes,
    get,
    hex_id,
    items,
    spans_with_run_json,
    traces_carrying,
)
from loadtests.validate.sources._series import (
    Point,
    PointKind,
    PointMetrics,
    label_text,
)
from loadtests.validate.sources.base import SourceError
from otel.contract import RUN_ID

if TYPE_CHECKING:
    from collections.abc import Iterator

    from loadtests.validate.spans import SpanRecord

__all__ = ("OtlpFileSource",)

_SUFFIXES = (".json", ".jsonl", ".ndjson")
_TRACE_ID = re.compile(rb'"trace_?[iI]d"\s*:\s*"([^"]*)"')
_PLAIN = re.compile(r"[A-Za-z0-9._:~+-]+")
_BUFFER = 4 << 20
"""Bytes read at a time: with the default 8 kB, splitting a 500 MB file into lines took 1 s instead of 0.2 s."""
_decode = msgspec.json.Decoder().decode
_START_ORDER = attrgetter("start_ns", "trace_id", "span_id")
_METRICS, _METRICS_SNAKE = b'"resourceMetrics"', b'"resource_metrics"'
_encode_sorted = msgspec.json.Encoder(order="sorted").encode
_CUMULATIVE_NAMES = {"AGGREGATION_TEMPORALITY_DELTA": 1, "AGGREGATION_TEMPORALITY_CUMULATIVE": 2}


def _read_lines(file: Path) -> Iterator[bytes]:
    if file.suffix == ".gz":
        with gzip.open(file, "rb") as stream:
            yield from stream
    else:
        with file.open("rb", buffering=_BUFFER) as stream:  # lines of 512 spans are ~250 kB: read them whole
            yield from stream


def _int(value: Any) -> int | None:
    if value is None:
        return None
    return int(value)


class _FirstCopies:
    """The first copy of each span (a retried export repeats it: same trace, same span id).

    Keyed by span id alone, so a million spans need no million key tuples; a span id two traces share is kept apart.
    """

    def __init__(self) -> None:
        self.by_span: dict[str, SpanRecord] = {}
        self.shared: dict[tuple[str, str], SpanRecord] = {}

    def add(self, record: SpanRecord) -> None:
        first = self.by_span.setdefault(record.span_id, record)
        if first.trace_id != record.trace_id:
            self.shared.setdefault((record.trace_id, record.span_id), record)

    def in_start_order(self) -> list[SpanRecord]:
        return sorted((*self.by_span.values(), *self.shared.values()), key=_START_ORDER)


class OtlpFileSource(PointMetrics):
    """Spans and metrics of OTLP JSON-lines files; every call re-reads the files (they may still grow).

    Metric queries re-read only the metric lines of a file that has not changed since the last one.
    """

    def __init__(self, path: str | Path, *, baseline_lookback_s: float = 300.0) -> None:
        self.path = Path(path)
        self.name = f"otlp:{self.path}"
        self.baseline_lookback_ns = int(baseline_lookback_s * 1e9)
        self._queries: list[str] = []
        self._metric_index: dict[Path, tuple[tuple[int, int, int], list[tuple[int, int]]]] = {}
        """Per plain file: its (inode, size, mtime) when read, and the line numbers and offsets of its metric lines."""
        if not self.path.exists():
            raise SourceError(f"{self.name}: no such file or directory")
        if self.path.is_dir() and not self._files():
            raise SourceError(f"{self.name}: no *.json, *.jsonl or *.ndjson files in the directory")

    def _files(self) -> list[Path]:
        if self.path.is_file():
            return [self.path]
        return sorted(
            p
            for p in self.path.iterdir()
            if p.is_file() and p.name.removesuffix(".gz").endswith(_SUFFIXES) and not p.name.startswith(".")
        )

    def _lines(self) -> Iterator[tuple[str, int, bytes]]:
        """``(file, line number, line)`` for every non-blank line of every file, one line in memory at a time."""
        for file in self._files():
            try:
                for number, line in enumerate(_read_lines(file), 1):
                    if line and not line.isspace():  # (``strip`` would copy every 250 kB line to test it)
                        yield file.name, number, line
            except (OSError, EOFError) as error:
                reason = getattr(error, "strerror", None) or error
                raise SourceError(f"{self.name}: cannot read {file}: {reason}") from None

    def _metric_lines(self) -> Iterator[tuple[str, int, bytes]]:
        """The lines that may hold metrics, like ``_lines``, without reading an unchanged file whole every time.

        A plain file is read whole once; then, while it stays as it was (same inode, size and mtime), only at its
        metric lines: a run's metric queries come one per metric, and its spans may fill most of the file.
        """
        for file in self._files():
            try:
                if file.suffix == ".gz":
                    for number, line in enumerate(_read_lines(file), 1):
                        if _METRICS in line or _METRICS_SNAKE in line:
                            yield file.name, number, line
                    continue
                stat = file.stat()
                stamp = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
                known = self._metric_index.get(file)
                with file.open("rb", buffering=_BUFFER) as stream:
                    if known is not None and known[0] == stamp:
                        for number, offset in known[1]:
                            stream.seek(offset)
                            yield file.name, number, stream.readline()
                        continue
                    found: list[tuple[int, int]] = []
                    offset = 0
                    for number, line in enumerate(stream, 1):
                        if _METRICS in line or _METRICS_SNAKE in line:
                            found.append((number, offset))
                            yield file.name, number, line
                        offset += len(line)
                    self._metric_index[file] = (stamp, found)  # (stamped before reading: growth shows next time)
            except (OSError, EOFError) as error:
                reason = getattr(error, "strerror", None) or error
                raise SourceError(f"{self.name}: cannot read {file}: {reason}") from None

    def _decode(self, file: str, number: int, line: bytes) -> Any:
        try:
            return _decode(line)
        except msgspec.DecodeError as error:
            raise SourceError(f"{self.name}: {file} line {number} is not JSON ({error})") from None

    def _spans(self, file: str, number: int, line: bytes) -> list[tuple[SpanRecord, str | None]]:
        """The spans of one line, each with the run id it carries."""
        try:
            return spans_with_run_json(line)
        except msgspec.DecodeError as error:
            raise SourceError(f"{self.name}: {file} line {number} is not JSON ({error})") from None
        except SpanFormatError as error:
            raise SourceError(f"{self.name}: {file} line {number}: {error}") from None

    # --- spans --------------------------------------------------------------------------------------------------

    def spans_of_run(self, run_id: str) -> list[SpanRecord]:
        self._queries.append(f"spans of the traces with {RUN_ID}={run_id!r} in {self.path}")
        traces = self._run_traces(run_id)
        if not traces:
            return []
        out = _FirstCopies()
        for file, number, line in self._lines():
            if any(hex_id(found[1]) in traces for found in _TRACE_ID.finditer(line)):
                for record, carried in self._spans(file, number, line):
                    if record.trace_id in traces and (carried is None or carried == run_id):
                        out.add(record)
        return out.in_start_order()

    def _run_traces(self, run_id: str) -> set[str]:
        """The first pass: ids of the traces with a span carrying the run id (only lines naming it are decoded)."""
        needle = msgspec.json.encode(run_id) if _PLAIN.fullmatch(run_id) else None  # bytes only for unescaped text
        traces: set[str] = set()
        for file, number, line in self._lines():
            if needle is not None and needle not in line:
                continue
            try:
                traces |= traces_carrying(line, run_id)
            except msgspec.DecodeError as error:
                raise SourceError(f"{self.name}: {file} line {number} is not JSON ({error})") from None
        return traces

    def spans_in_window(self, start_ns: int, end_ns: int) -> list[SpanRecord]:
        self._queries.append(f"spans starting in [{start_ns}, {end_ns}) ns in {self.path}")
        out = _FirstCopies()
        for file, number, line in self._lines():
            if b"resourceSpans" not in line and b"resource_spans" not in line:
                continue
            for record, _ in self._spans(file, number, line):
                if start_ns <= record.start_ns < end_ns:
                    out.add(record)
        return out.in_start_order()

    # --- metrics ------------------------------------------------------------------------------------------------

    def _points(self, metric: str, start_ns: int, end_ns: int) -> list[Point]:
        first = start_ns - self.baseline_lookback_ns
        self._queries.append(f"points of {metric} stamped in [{first}, {end_ns}] ns in {self.path}")
        needle = msgspec.json.encode(metric)
        seen: set[tuple[str, int, int | None]] = set()
        points: list[Point] = []
        for file, number, line in self._metric_lines():
            if needle not in line:
                continue
            for resource_metrics in items(self._decode(file, number, line), "resourceMetrics", "resource_metrics"):
                resource = attributes(items(get(resource_metrics, "resource", "resource"), "attributes", "attributes"))
                resource_labels = {key: label_text(value) for key, value in resource.items()}
                resource_key = _encode_sorted(resource).decode()
                for scope in items(resource_metrics, "scopeMetrics", "scope_metrics"):
                    scope_name = str(get(get(scope, "scope", "scope"), "name", "name") or "")
                    for found in items(scope, "metrics", "metrics"):
                        if isinstance(found, dict) and found.get("name") == metric:
                            for point in self._metric_points(found, resource_labels, resource_key, scope_name):
                                identity = (point.series, point.time_ns, point.start_ns)
                                if first <= point.time_ns <= end_ns and identity not in seen:
                                    seen.add(identity)
                                    points.append(point)
        return points

    def _metric_points(
        self, metric: dict[str, Any], resource_labels: dict[str, str], resource_key: str, scope_name: str
    ) -> Iterator[Point]:
        kinds: dict[str, PointKind] = {"histogram": "histogram", "sum": "sum", "gauge": "gauge"}
        key = next((key for key in kinds if isinstance(metric.get(key), dict)), None)
        if key is None:
            if isinstance(metric.get("exponentialHistogram") or metric.get("exponential_histogram"), dict):
                raise SourceError(f"{self.name}: {metric['name']} is an exponential histogram; only explicit buckets")
            return
        kind, data = kinds[key], metric[key]
        temporality = get(data, "aggregationTemporality", "aggregation_temporality")
        temporality = _CUMULATIVE_NAMES.get(temporality, temporality) if isinstance(temporality, str) else temporality
        monotonic = bool(get(data, "isMonotonic", "is_monotonic"))
        for raw in items(data, "dataPoints", "data_points"):
            point_attributes = attributes(items(raw, "attributes", "attributes"))
            labels = {**resource_labels, **{name: label_text(value) for name, value in point_attributes.items()}}
            series = "\x1f".join((scope_name, _encode_sorted(point_attributes).decode(), resource_key))
            time_ns = _int(get(raw, "timeUnixNano", "time_unix_nano")) or 0
            start_ns = _int(get(raw, "startTimeUnixNano", "start_time_unix_nano")) or None
            if kind == "histogram":
                counts = tuple(int(c) for c in items(raw, "bucketCounts", "bucket_counts"))
                bounds = tuple(float(b) for b in items(raw, "explicitBounds", "explicit_bounds"))
                if len(counts) != len(bounds) + 1:
                    continue  # a point without buckets (count and sum only) says nothing about the distribution
                count = _int(raw.get("count"))
                yield Point(
                    series=series,
                    labels=labels,
                    kind=kind,
                    time_ns=time_ns,
                    start_ns=start_ns,
                    delta=temporality == 1,
                    bounds=bounds,
                    counts=counts,
                    count=sum(counts) if count is None else count,
                    sum=float(raw.get("sum") or 0.0),
                )
                continue
            value = get(raw, "asDouble", "as_double")
            if value is None:
                value = get(raw, "asInt", "as_int")
            yield Point(
                series=series,
                labels=labels,
                kind=kind,
                time_ns=time_ns,
                start_ns=start_ns,
                delta=temporality == 1,
                monotonic=monotonic,
                value=float(value or 0),
            )

    def close(self) -> None:
        """Nothing is held open between calls."""

    def __enter__(self) -> OtlpFileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
