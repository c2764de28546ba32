"""Prometheus' HTTP API (``/api/v1/query``): the services' metrics as scraped from their ``/metrics``. No spans.

**Names.** Metrics and groups are asked for by their OpenTelemetry names and translated the way the OpenTelemetry
Prometheus exporter and the Collector name them: dots (any character Prometheus does not allow) become ``_``, the
unit becomes a suffix (``s`` → ``_seconds``, ``By`` → ``_bytes``; ``{request}``-style units none), counters end in
``_total``, histograms are ``_bucket``/``_sum``/``_count`` series with an ``le`` label. Since exporter versions
disagree on some suffixes (``_ratio`` for unit ``1``), the name is checked against Prometheus' list of metric names
(fetched once) and the first spelling that exists is used. ``service.name`` is the scrape job (``job``, as
``otel/config/prometheus.yml`` names the jobs after the services), or ``service_name`` when the Collector promoted
resource attributes, or ``"target_info"``: joined from the ``target_info`` series every OTel exporter serves;
``service.instance.id`` is ``instance``. ``matchers`` (by default ``job!~"otel-collector.*"``) keep out the copies
the compose Collector re-exports, which would otherwise be counted twice.

**Windows, two ways.**

- ``method="samples"`` (the default, exact): the raw samples of every series over the window and up to
  ``baseline_lookback_s`` before it (``x_bucket{...}[<range>ms]`` evaluated at the window's end), turned into
  increases exactly as the store's points are (``_series``): the same answer as the store and the OTLP files for the
  same data, with counter resets handled and no extrapolation.
- ``method="increase"``: ``sum by (le, ...) (increase(x_bucket{...}[<window>ms]))`` at the window's end, aggregated
  by Prometheus (less data moved for very many series), but ``increase`` extrapolates to the window's edges, so
  counts come out a few percent off and are rounded; gauges then come from ``query_range``.

Every PromQL expression is recorded, with its evaluation time, in ``queries()``.
"""

from __future__ import annotations

import itertools
import math
import re
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from loadtests.validate.sources._http import JsonHttp, check_base_url
from loadtests.validate.sources._series import (
    Point,
    counter_increase,
    gauge_samples,
    histogram_increase,
)
from loadtests.validate.sources.base import BucketHistogram, SourceError, SourceUnsupported
from otel import contract

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from loadtests.validate.sources.base import GaugeSamples, GroupKey
    from loadtests.validate.spans import SpanRecord

__all__ = ("KNOWN_UNITS", "PrometheusSource", "label_name", "metric_base")

Method = Literal["samples", "increase"]
Kind = Literal["histogram", "counter", "gauge"]

KNOWN_UNITS: dict[str, str] = {
    contract.HTTP_SERVER_DURATION: "s",
    contract.HTTP_CLIENT_DURATION: "s",
    contract.MCP_SERVER_DURATION: "s",
    contract.CACHE_REQUESTS: "{request}",
    contract.PROCESS_MEMORY: "By",
    contract.PROCESS_CPU_UTILIZATION: "1",
    contract.PROCESS_OPEN_FILES: "{file_descriptor}",
    contract.SPANS_DROPPED: "{span}",
}
"""The units of the contract's metrics, which decide their Prometheus suffixes."""

_UNIT_SUFFIXES = {
    "s": ("seconds",),
    "ms": ("milliseconds",),
    "By": ("bytes",),
    "1": ("", "ratio"),
    "%": ("percent",),
}
_INVALID = re.compile(r"[^a-zA-Z0-9_]")
_INVALID_METRIC = re.compile(r"[^a-zA-Z0-9_:]")
_NO_SPANS = "Prometheus holds metrics only; combine it with a span source (store:PATH, otlp:PATH or jaeger:URL)"
_HISTOGRAM_PARTS = ("_bucket", "_sum", "_count")
_TARGET_INFO = "target_info"
_SERVICE_NAME = "service_name"


def metric_base(metric: str) -> str:
    """An OpenTelemetry metric name in Prometheus, before suffixes (``pp.cache.requests`` → ``pp_cache_requests``)."""
    name = _INVALID_METRIC.sub("_", metric)
    return f"_{name}" if name[:1].isdigit() else name


def label_name(attribute: str) -> str:
    """An attribute name as a Prometheus label name (``gen_ai.tool.name`` → ``gen_ai_tool_name``)."""
    name = _INVALID.sub("_", attribute)
    return f"key_{name}" if name[:1].isdigit() else name


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _seconds(ns: int) -> str:
    """Unix ns as the seconds Prometheus takes, exactly, rounded up to its millisecond resolution."""
    ms = -(-ns // 1_000_000)
    return f"{ms // 1000}.{ms % 1000:03d}"


def _ns(at: Any) -> int:
    """A sample's timestamp (seconds, millisecond resolution) as Unix ns, without float rounding at the edges."""
    return round(float(at) * 1000) * 1_000_000


def _value(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


class PrometheusSource:
    """Metrics from a Prometheus server; spans raise ``SourceUnsupported``."""

    def __init__(
        self,
        url: str,
        *,
        method: Method = "samples",
        service_label: str = "job",
        matchers: str = 'job!~"otel-collector.*"',
        names: Mapping[str, str] | None = None,
        baseline_lookback_s: float = 300.0,
        step_s: float | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        """``names`` maps an OpenTelemetry metric name to its Prometheus base name when the rules above miss."""
        if method not in ("samples", "increase"):
            raise SourceError(f"prometheus: method must be 'samples' or 'increase', not {method!r}")
        self.url = check_base_url(url, "Prometheus")
        self.name = f"prometheus:{self.url}"
        self.method = method
        self.service_label = service_label
        self.matchers = matchers.strip().strip(",")
        self.names = dict(names or {})
        self.baseline_lookback_ns = int(baseline_lookback_s * 1e9)
        self.step_s = step_s
        self._http = JsonHttp(self.url, service="Prometheus", timeout_s=timeout_s)
        self._queries: list[str] = []
        self._known_names: set[str] | None = None

    # --- HTTP ---------------------------------------------------------------------------------------------------

    def _api(self, path: str, params: dict[str, str], record: str) -> Any:
        self._queries.append(record)
        reply = self._http.get(path, params)
        try:
            body = reply.json()
        except msgspec.DecodeError:
            body = None
        if not isinstance(body, dict):
            text = reply.body[:300].decode("utf-8", "replace").strip()
            raise SourceError(f"{self.name}: {path} answered HTTP {reply.status}, not Prometheus JSON: {text}")
        if body.get("status") != "success":
            raise SourceError(
                f"{self.name}: {record} failed (HTTP {reply.status}, {body.get('errorType', 'error')}): "
                f"{body.get('error', 'no reason given')}"
            )
        return body.get("data")

    def instant(self, promql: str, at_ns: int) -> Any:
        """``/api/v1/query`` at ``at_ns``: the ``data`` object (``resultType`` and ``result``)."""
        at = _seconds(at_ns)
        return self._api("/api/v1/query", {"query": promql, "time": at}, f"{promql}  [instant at {at}]")

    def range_query(self, promql: str, start_ns: int, end_ns: int, step_s: float) -> Any:
        start, end = _seconds(start_ns), _seconds(end_ns)
        params = {"query": promql, "start": start, "end": end, "step": f"{step_s:g}"}
        return self._api("/api/v1/query_range", params, f"{promql}  [range {start}..{end} step {step_s:g}s]")

    # --- names and labels ---------------------------------------------------------------------------------------

    def _metric_names(self, *, refresh: bool = False) -> set[str]:
        if self._known_names is None or refresh:
            found = self._api("/api/v1/label/__name__/values", {}, "GET /api/v1/label/__name__/values")
            self._known_names = {str(name) for name in found or ()}
        return self._known_names

    def metric_name(self, metric: str, kind: Kind) -> str:
        """The Prometheus name of ``metric`` as ``kind``, without the ``_bucket``/``_sum`` suffix of histograms."""
        base = self.names.get(metric) or metric_base(metric)
        unit = KNOWN_UNITS.get(metric)
        suffixes: tuple[str, ...] = _UNIT_SUFFIXES.get(unit, ("",)) if unit else ("",)
        stems = [f"{base}_{suffix}" if suffix and not base.endswith(f"_{suffix}") else base for suffix in suffixes]
        candidates = [n for stem in stems for n in (f"{stem}_total", stem)] if kind == "counter" else list(stems)
        probe = "_bucket" if kind == "histogram" else ""
        ending = "_bucket" if kind == "histogram" else "(_total)?"
        # any one suffix word between the base and the type's ending: a unit this module does not know
        pattern = re.compile(re.escape(base) + r"(_[a-z]+)?" + ending + "$")
        for refresh in (False, True):  # the list is cached; a metric not in it may have appeared since
            known = self._metric_names(refresh=refresh)
            for name in candidates:
                if name + probe in known:
                    return name
            for name in sorted(known):
                if pattern.match(name) and (kind == "histogram" or not name.endswith(_HISTOGRAM_PARTS)):
                    return name.removesuffix("_bucket")
        return candidates[0]  # not in Prometheus (yet): the query returns nothing, and says what was asked

    def label(self, attribute: str) -> str:
        if attribute == "service.name":
            return _SERVICE_NAME if self.service_label == _TARGET_INFO else self.service_label
        if attribute == "service.instance.id":
            return "instance"
        return label_name(attribute)

    def _selector(self, name: str, where: Mapping[str, str] | None) -> str:
        parts = [self.matchers] if self.matchers else []
        for attribute, value in (where or {}).items():
            if self.service_label == _TARGET_INFO and attribute == "service.name":
                continue  # on target_info, not on the series: filtered after the join
            parts.append(f"{self.label(attribute)}={_quote(value)}")
        return f"{name}{{{', '.join(parts)}}}"

    # --- samples method -----------------------------------------------------------------------------------------

    def _raw(self, selector: str, start_ns: int, end_ns: int) -> list[dict[str, Any]]:
        range_ms = max(1, (end_ns - start_ns + self.baseline_lookback_ns) // 1_000_000)
        data = self.instant(f"{selector}[{range_ms}ms]", end_ns)
        result = (data or {}).get("result") or []
        return [series for series in result if isinstance(series, dict)]

    def _services(self, start_ns: int, end_ns: int) -> dict[tuple[str, str], str]:
        """(job, instance) → service name, from ``target_info`` over the window."""
        selector = f"{_TARGET_INFO}{{{self.matchers}}}" if self.matchers else _TARGET_INFO
        out: dict[tuple[str, str], str] = {}
        for series in self._raw(selector, start_ns, end_ns):
            labels = series.get("metric") or {}
            out[(labels.get("job", ""), labels.get("instance", ""))] = labels.get(_SERVICE_NAME, "")
        return out

    def _labels(self, raw: Mapping[str, str], services: Mapping[tuple[str, str], str] | None) -> dict[str, str]:
        labels = {k: v for k, v in raw.items() if k not in ("__name__", "le")}
        if services is not None:
            labels[_SERVICE_NAME] = services.get((raw.get("job", ""), raw.get("instance", "")), "")
        return labels

    def _joined(self, start_ns: int, end_ns: int) -> dict[tuple[str, str], str] | None:
        return self._services(start_ns, end_ns) if self.service_label == _TARGET_INFO else None

    def _histogram_points(
        self, name: str, start_ns: int, end_ns: int, where: Mapping[str, str] | None
    ) -> Iterable[Point]:
        services = self._joined(start_ns, end_ns)
        sums: dict[tuple[str, int], float] = {}
        for series in self._raw(self._selector(f"{name}_sum", where), start_ns, end_ns):
            key = _series_key(self._labels(series.get("metric") or {}, services))
            for at, value in series.get("values") or ():
                sums[(key, _ns(at))] = _value(value)
        # bucket series of one histogram series share their labels but ``le``, and their scrape times
        by_series: dict[str, tuple[dict[str, str], dict[int, dict[float, float]]]] = {}
        for series in self._raw(self._selector(f"{name}_bucket", where), start_ns, end_ns):
            raw = series.get("metric") or {}
            labels = self._labels(raw, services)
            key = _series_key(labels)
            bound = _value(raw.get("le"))
            if math.isnan(bound):
                continue
            _, times = by_series.setdefault(key, (labels, {}))
            for at, value in series.get("values") or ():
                times.setdefault(_ns(at), {})[bound] = _value(value)
        for key, (labels, times) in by_series.items():
            sizes = {len(buckets) for buckets in times.values()}
            complete = max(sizes, default=0)
            for time_ns, buckets in sorted(times.items()):
                if len(buckets) != complete or math.inf not in buckets:
                    continue  # a scrape that lost a bucket series: skip the point rather than misread it
                bounds = sorted(b for b in buckets if b != math.inf)
                cumulative = [round(buckets[b]) for b in [*bounds, math.inf]]
                counts = [cumulative[0], *(b - a for a, b in itertools.pairwise(cumulative))]
                yield Point(
                    series=key,
                    labels=labels,
                    kind="histogram",
                    time_ns=time_ns,
                    bounds=tuple(bounds),
                    counts=tuple(counts),
                    count=cumulative[-1],
                    sum=sums.get((key, time_ns), 0.0),
                )

    def _value_points(
        self, name: str, kind: Literal["sum", "gauge"], start_ns: int, end_ns: int, where: Mapping[str, str] | None
    ) -> Iterable[Point]:
        services = self._joined(start_ns, end_ns)
        for series in self._raw(self._selector(name, where), start_ns, end_ns):
            labels = self._labels(series.get("metric") or {}, services)
            key = _series_key(labels)
            for at, value in series.get("values") or ():
                number = _value(value)
                if not math.isnan(number):
                    yield Point(series=key, labels=labels, kind=kind, time_ns=_ns(at), value=number)

    def _where(self, where: Mapping[str, str] | None) -> dict[str, str] | None:
        """The filters still to apply after the query: ``service.name`` when it comes from ``target_info``."""
        if self.service_label != _TARGET_INFO or not where or "service.name" not in where:
            return None
        return {_SERVICE_NAME: where["service.name"]}

    # --- increase method ----------------------------------------------------------------------------------------

    def _aggregate(
        self,
        name: str,
        by: Sequence[str],
        start_ns: int,
        end_ns: int,
        where: Mapping[str, str] | None,
        extra: Sequence[str] = (),
    ) -> list[dict[str, Any]]:
        window_ms = max(1, (end_ns - start_ns) // 1_000_000)
        labels = ", ".join([*extra, *(self.label(attribute) for attribute in by)])
        inner = f"increase({self._selector(name, where)}[{window_ms}ms])"
        if self.service_label == _TARGET_INFO:
            info_matchers = [self.matchers] if self.matchers else []
            if where and "service.name" in where:
                info_matchers.append(f"{_SERVICE_NAME}={_quote(where['service.name'])}")
            info = f"last_over_time({_TARGET_INFO}{{{', '.join(info_matchers)}}}[{window_ms}ms])"
            inner = f"{inner} * on (job, instance) group_left ({_SERVICE_NAME}) {info}"
        data = self.instant(f"sum by ({labels}) ({inner})", end_ns)
        return [series for series in (data or {}).get("result") or () if isinstance(series, dict)]

    def _group(self, labels: Mapping[str, str], by: Sequence[str]) -> GroupKey:
        return tuple(labels.get(self.label(attribute), "") for attribute in by)

    def _histogram_by_increase(
        self, metric: str, name: str, by: Sequence[str], start_ns: int, end_ns: int, where: Mapping[str, str] | None
    ) -> dict[GroupKey, BucketHistogram]:
        buckets: dict[GroupKey, dict[float, float]] = {}
        for series in self._aggregate(f"{name}_bucket", by, start_ns, end_ns, where, extra=("le",)):
            labels = series.get("metric") or {}
            bound = _value(labels.get("le"))
            value = _value((series.get("value") or (0, "NaN"))[1])
            if not math.isnan(bound) and not math.isnan(value):
                buckets.setdefault(self._group(labels, by), {})[bound] = value
        sums: dict[GroupKey, float] = {}
        for series in self._aggregate(f"{name}_sum", by, start_ns, end_ns, where):
            value = _value((series.get("value") or (0, "NaN"))[1])
            sums[self._group(series.get("metric") or {}, by)] = 0.0 if math.isnan(value) else value
        out: dict[GroupKey, BucketHistogram] = {}
        for key, cumulative_by_bound in buckets.items():
            if math.inf not in cumulative_by_bound:
                raise SourceError(f'{self.name}: {metric}: no le="+Inf" bucket for {key}')
            bounds = sorted(b for b in cumulative_by_bound if b != math.inf)
            cumulative = [round(cumulative_by_bound[b]) for b in [*bounds, math.inf]]
            cumulative = list(itertools.accumulate(cumulative, max))  # rounding the extrapolated counts can dip
            counts = [cumulative[0], *(b - a for a, b in itertools.pairwise(cumulative))]
            out[key] = BucketHistogram(bounds=bounds, counts=counts, count=cumulative[-1], sum=sums.get(key, 0.0))
        return out

    # --- the Source interface -----------------------------------------------------------------------------------

    def histogram(
        self, metric: str, *, by: Sequence[str], start_ns: int, end_ns: int, where: Mapping[str, str] | None = None
    ) -> dict[GroupKey, BucketHistogram]:
        name = self.metric_name(metric, "histogram")
        if self.method == "increase":
            return self._histogram_by_increase(metric, name, by, start_ns, end_ns, where)
        points = self._histogram_points(name, start_ns, end_ns, where)
        labels = [self.label(attribute) for attribute in by]
        return histogram_increase(metric, points, by=labels, start_ns=start_ns, end_ns=end_ns, where=self._where(where))

    def counter(
        self, metric: str, *, by: Sequence[str], start_ns: int, end_ns: int, where: Mapping[str, str] | None = None
    ) -> dict[GroupKey, float]:
        name = self.metric_name(metric, "counter")
        if self.method == "increase":
            out: dict[GroupKey, float] = {}
            for series in self._aggregate(name, by, start_ns, end_ns, where):
                value = _value((series.get("value") or (0, "NaN"))[1])
                if not math.isnan(value):
                    out[self._group(series.get("metric") or {}, by)] = value
            return out
        points = self._value_points(name, "sum", start_ns, end_ns, where)
        labels = [self.label(attribute) for attribute in by]
        return counter_increase(points, by=labels, start_ns=start_ns, end_ns=end_ns, where=self._where(where))

    def gauge(
        self, metric: str, *, by: Sequence[str], start_ns: int, end_ns: int, where: Mapping[str, str] | None = None
    ) -> dict[GroupKey, GaugeSamples]:
        name = self.metric_name(metric, "gauge")
        labels = [self.label(attribute) for attribute in by]
        if self.method == "samples":
            points = self._value_points(name, "gauge", start_ns, end_ns, where)
            return gauge_samples(points, by=labels, start_ns=start_ns, end_ns=end_ns, where=self._where(where))
        step = self.step_s or max(1.0, (end_ns - start_ns) / 1e9 / 500)
        data = self.range_query(self._selector(name, where), start_ns, end_ns, step)
        services = self._joined(start_ns, end_ns)
        points = []
        for series in (data or {}).get("result") or ():
            series_labels = self._labels(series.get("metric") or {}, services)
            key = _series_key(series_labels)
            for at, value in series.get("values") or ():
                time_ns = _ns(at)
                points.append(
                    Point(series=key, labels=series_labels, kind="gauge", time_ns=time_ns, value=_value(value))
                )
        return gauge_samples(points, by=labels, start_ns=start_ns - 1, end_ns=end_ns, where=self._where(where))

    def spans_of_run(self, run_id: str) -> list[SpanRecord]:
        raise SourceUnsupported(f"{self.name}: no spans of run {run_id}: {_NO_SPANS}")

    def spans_in_window(self, start_ns: int, end_ns: int) -> list[SpanRecord]:
        raise SourceUnsupported(f"{self.name}: no spans: {_NO_SPANS}")

    def queries(self) -> list[str]:
        return list(self._queries)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PrometheusSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _series_key(labels: Mapping[str, str]) -> str:
    return "\x1f".join(f"{k}={v}" for k, v in sorted(labels.items()))
