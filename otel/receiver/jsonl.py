"""``--jsonl DIR``: a copy of every accepted request as OTLP/JSON lines, as the Collector's file exporter writes.

``DIR/traces.jsonl`` and ``DIR/metrics.jsonl`` get one ``Export*ServiceRequest`` object per line (the same shape as
``TracesData``/``MetricsData``), so Jaeger UI's "JSON File" upload, the Collector's ``otlpjsonfile`` receiver and the
validator's OTLP-file reader all open them. Rejected items are left out (a line with a bad span id would make Jaeger
refuse the whole file). Files are appended to, never truncated: several runs accumulate, as with the Collector.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel.receiver.otlp_json import metrics_to_json, traces_to_json

if TYPE_CHECKING:
    from collections.abc import Sequence

    from otel.receiver.decode import Batch

__all__ = ("METRICS_FILE", "TRACES_FILE", "JsonlSink")

TRACES_FILE = "traces.jsonl"
METRICS_FILE = "metrics.jsonl"


class JsonlSink:
    """Appends lines for each batch; used by the writer thread only, after the store has committed."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._traces: BinaryIO = (self.directory / TRACES_FILE).open("ab")
        self._metrics: BinaryIO = (self.directory / METRICS_FILE).open("ab")

    def write(self, batches: Sequence[Batch]) -> None:
        """One line per request that kept anything; flushed, so a reader sees whole lines once this returns."""
        wrote_traces = wrote_metrics = False
        for batch in batches:
            request = batch.request
            if not batch.rows or request is None:
                continue
            if isinstance(request, ExportTraceServiceRequest):
                self._traces.write(traces_to_json(request) + b"\n")
                wrote_traces = True
            elif isinstance(request, ExportMetricsServiceRequest):
                self._metrics.write(metrics_to_json(request) + b"\n")
                wrote_metrics = True
        if wrote_traces:
            self._traces.flush()
        if wrote_metrics:
            self._metrics.flush()

    def close(self) -> None:
        self._traces.close()
        self._metrics.close()
