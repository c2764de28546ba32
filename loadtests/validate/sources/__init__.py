"""The validator's data sources: where one run's spans and metrics are read from, named by a spec string.

- ``store`` or ``store:PATH``: the embedded receiver's SQLite store (default ``PP_RECEIVER_STORE``, else
  ``.pp-data/telemetry.sqlite3``): spans and metrics.
- ``otlp:PATH``: OTLP JSON-lines files (the Collector's file exporter, ``otel.receiver --jsonl``), a file or a
  directory: spans and metrics.
- ``jaeger:URL`` (``http://127.0.0.1:16686``): spans only.
- ``prometheus:URL`` (``http://127.0.0.1:9090``): metrics only.

Give two specs to take spans from one and metrics from the other (``jaeger:... prometheus:...``), or build a
``CompositeSource`` directly.
"""

from __future__ import annotations

from pathlib import Path

from loadtests.validate.sources.base import (
    BucketHistogram,
    CompositeSource,
    GaugeSamples,
    GroupKey,
    QuantileEstimate,
    Source,
    SourceError,
    SourceUnsupported,
)
from loadtests.validate.sources.jaeger import JaegerSource
from loadtests.validate.sources.otlp_files import OtlpFileSource
from loadtests.validate.sources.prometheus import PrometheusSource
from loadtests.validate.sources.store import StoreSource, default_store_path

__all__ = (
    "SPEC_HELP",
    "BucketHistogram",
    "CompositeSource",
    "GaugeSamples",
    "GroupKey",
    "JaegerSource",
    "OtlpFileSource",
    "PrometheusSource",
    "QuantileEstimate",
    "Source",
    "SourceError",
    "SourceUnsupported",
    "StoreSource",
    "default_store_path",
    "open_source",
)

SPEC_HELP = "store[:PATH], otlp:PATH, jaeger:URL or prometheus:URL"
_SPANS_ONLY = "jaeger"
_METRICS_ONLY = "prometheus"


def _split(spec: str) -> tuple[str, str]:
    kind, colon, rest = spec.strip().partition(":")
    kind = kind.lower()
    if kind not in ("store", "otlp", _SPANS_ONLY, _METRICS_ONLY):
        hint = ""
        if Path(spec).exists():
            hint = f" (for that file, write store:{spec} or otlp:{spec})"
        elif "://" in spec:
            hint = f" (for that URL, write jaeger:{spec} or prometheus:{spec})"
        raise SourceError(f"unknown source {spec!r}: expected {SPEC_HELP}{hint}")
    if not colon and kind != "store":
        raise SourceError(f"source {spec!r} needs a {'path' if kind == 'otlp' else 'URL'}: expected {SPEC_HELP}")
    return kind, rest.strip()


def _url(kind: str, rest: str, example: str) -> str:
    if not rest:
        raise SourceError(f"source {kind}: needs a URL, e.g. {kind}:{example}")
    return rest if "://" in rest else f"http://{rest}"


def _open_one(spec: str) -> Source:
    kind, rest = _split(spec)
    if kind == "store":
        return StoreSource(rest or None)
    if kind == "otlp":
        if not rest:
            raise SourceError("source otlp: needs a path to a JSON-lines file or a directory of them")
        return OtlpFileSource(rest)
    if kind == _SPANS_ONLY:
        return JaegerSource(_url(kind, rest, "http://127.0.0.1:16686"))
    return PrometheusSource(_url(kind, rest, "http://127.0.0.1:9090"))


def open_source(*specs: str) -> Source:
    """The source a spec names; with two specs, spans from the one that has them and metrics from the other.

    Raises ``SourceError`` for a malformed spec, a missing store or file, or two sources of the same single kind.
    """
    if not specs:
        return StoreSource()
    if len(specs) > 2:
        raise SourceError(f"at most two sources (one for spans, one for metrics), got {len(specs)}: {list(specs)}")
    kinds = [_split(spec)[0] for spec in specs]
    if len(specs) == 2:
        if kinds[0] == kinds[1] and kinds[0] in (_SPANS_ONLY, _METRICS_ONLY):
            raise SourceError(f"two {kinds[0]} sources: give one source of spans and one of metrics")
        if kinds[0] == _METRICS_ONLY or kinds[1] == _SPANS_ONLY:  # the order the user gave is only a preference
            specs = (specs[1], specs[0])
    opened: list[Source] = []
    try:
        for spec in specs:
            opened.append(_open_one(spec))
    except SourceError:
        for source in opened:
            source.close()
        raise
    if len(opened) == 1:
        return opened[0]
    return CompositeSource(spans=opened[0], metrics=opened[1])
