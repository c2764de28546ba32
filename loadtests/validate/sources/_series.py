"""From metric points to answers: increases over a window, grouped, for every source that reads raw points.

The store, the OTLP files and Prometheus' raw samples all give cumulative points per series; the window's increase
is computed here once, the same way for all three, so they agree on the same data.

A window ``(start, end]`` holds the points stamped after its start and up to its end, as a Prometheus range
selector does. Increase of one series over it: the last point in the window minus a baseline, summed over resets.
The baseline is the last point before the window; without one, zero when the series began inside the window (its
OTLP start time is in the window, or, with no start time as in Prometheus, it has no earlier sample), else the first
point in the window (what happened between the window's start and that point is then not seen). A reset (a new
start time, or a count going down) starts again from zero. Delta points (OTLP delta temporality) are summed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import msgspec

from loadtests.validate.sources.base import BucketHistogram, GaugeSamples, GroupKey, SourceError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

__all__ = (
    "Point",
    "PointMetrics",
    "counter_increase",
    "gauge_samples",
    "group_key",
    "histogram_increase",
    "label_text",
    "matches",
)

PointKind = Literal["histogram", "sum", "gauge"]


class Point(msgspec.Struct, frozen=True, kw_only=True):
    """One data point of one series, whatever the source."""

    series: str
    """Identifies the series within one metric (its attributes and resource, not its start time)."""
    labels: dict[str, str]
    """Attribute name (OpenTelemetry's) → value as text: the point's attributes, its resource's, ``service.name``."""
    kind: PointKind
    time_ns: int
    start_ns: int | None = None
    delta: bool = False
    monotonic: bool = True
    value: float = 0.0
    bounds: tuple[float, ...] = ()
    counts: tuple[int, ...] = ()
    count: int = 0
    sum: float = 0.0


def label_text(value: Any) -> str:
    """An attribute value as the text Prometheus would show (``true``, ``200``, ``a,b`` for a list)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple):
        return msgspec.json.encode(list(value)).decode()
    return msgspec.json.encode(value).decode()


def matches(labels: Mapping[str, str], where: Mapping[str, str] | None) -> bool:
    return not where or all(labels.get(name, "") == value for name, value in where.items())


def group_key(labels: Mapping[str, str], by: Sequence[str]) -> GroupKey:
    return tuple(labels.get(name, "") for name in by)


def _by_series(points: Iterable[Point], where: Mapping[str, str] | None) -> dict[str, list[Point]]:
    series: dict[str, list[Point]] = {}
    for point in points:
        if matches(point.labels, where):
            series.setdefault(point.series, []).append(point)
    for found in series.values():
        found.sort(key=lambda point: point.time_ns)
    return series


def _is_reset(before: Point, after: Point) -> bool:
    if before.start_ns is not None and after.start_ns is not None and after.start_ns != before.start_ns:
        return True
    if after.kind == "histogram":
        return (
            after.bounds != before.bounds
            or after.count < before.count
            or any(a < b for a, b in zip(after.counts, before.counts, strict=False))
        )
    return after.monotonic and after.value < before.value


def _window_steps(points: list[Point], start_ns: int, end_ns: int) -> Iterable[tuple[Point | None, Point]]:
    """For each point in the window: the baseline it increases from (``None``: from zero) and the point."""
    baseline: Point | None = None
    seen_before = False
    for point in points:
        if point.time_ns > end_ns:
            break
        if point.delta:
            if point.time_ns > start_ns:
                yield None, point
            continue
        if point.time_ns <= start_ns:
            baseline, seen_before = point, True
            continue
        if baseline is None and not seen_before:
            born_inside = point.start_ns is None or point.start_ns >= start_ns
            if not born_inside:  # the first point in the window is the baseline: nothing to add yet
                baseline, seen_before = point, True
                continue
            yield None, point
        elif baseline is None or _is_reset(baseline, point):
            yield None, point
        else:
            yield baseline, point
        baseline, seen_before = point, True


def histogram_increase(
    metric: str,
    points: Iterable[Point],
    *,
    by: Sequence[str],
    start_ns: int,
    end_ns: int,
    where: Mapping[str, str] | None = None,
) -> dict[GroupKey, BucketHistogram]:
    """Each group's observations in the window; ``SourceError`` when a group mixes different bucket bounds."""
    out: dict[GroupKey, BucketHistogram] = {}
    for series in _by_series((p for p in points if p.kind == "histogram"), where).values():
        key = group_key(series[0].labels, by)
        for before, point in _window_steps(series, start_ns, end_ns):
            if before is None:
                counts, count, total = list(point.counts), point.count, point.sum
            else:
                counts = [a - b for a, b in zip(point.counts, before.counts, strict=True)]
                count, total = point.count - before.count, point.sum - before.sum
            target = out.get(key)
            if target is None:
                out[key] = target = BucketHistogram.empty(point.bounds)
            if list(point.bounds) != target.bounds:
                raise SourceError(
                    f"{metric}: series of the group {dict(zip(by, key, strict=True))} have different bucket bounds "
                    f"({target.bounds} and {list(point.bounds)}); group by more attributes to separate them"
                )
            target.add(BucketHistogram(bounds=target.bounds, counts=counts, count=count, sum=total))
    return out


def counter_increase(
    points: Iterable[Point],
    *,
    by: Sequence[str],
    start_ns: int,
    end_ns: int,
    where: Mapping[str, str] | None = None,
) -> dict[GroupKey, float]:
    out: dict[GroupKey, float] = {}
    for series in _by_series((p for p in points if p.kind == "sum"), where).values():
        key = group_key(series[0].labels, by)
        total = out.get(key, 0.0)
        for before, point in _window_steps(series, start_ns, end_ns):
            total += point.value if before is None else point.value - before.value
        out[key] = total
    return out


def gauge_samples(
    points: Iterable[Point],
    *,
    by: Sequence[str],
    start_ns: int,
    end_ns: int,
    where: Mapping[str, str] | None = None,
) -> dict[GroupKey, GaugeSamples]:
    """Every sample in the window, per group (several series of a group interleave: group by instance to split)."""
    out: dict[GroupKey, GaugeSamples] = {}
    for point in points:
        if point.kind == "histogram" or not start_ns < point.time_ns <= end_ns or not matches(point.labels, where):
            continue
        out.setdefault(group_key(point.labels, by), []).append((point.time_ns, point.value))
    for samples in out.values():
        samples.sort()
    return out


class PointMetrics:
    """The metric half of a source whose metric points come as raw ``Point``s (the store, OTLP files).

    A subclass provides ``_points(metric, start_ns, end_ns)`` and a ``_queries`` list; the increase arithmetic is
    this module's, the same for both.
    """

    _queries: list[str]

    def _points(self, metric: str, start_ns: int, end_ns: int) -> list[Point]:
        raise NotImplementedError

    def histogram(
        self, metric: str, *, by: Sequence[str], start_ns: int, end_ns: int, where: Mapping[str, str] | None = None
    ) -> dict[GroupKey, BucketHistogram]:
        points = self._points(metric, start_ns, end_ns)
        return histogram_increase(metric, points, by=by, start_ns=start_ns, end_ns=end_ns, where=where)

    def counter(
        self, metric: str, *, by: Sequence[str], start_ns: int, end_ns: int, where: Mapping[str, str] | None = None
    ) -> dict[GroupKey, float]:
        points = self._points(metric, start_ns, end_ns)
        return counter_increase(points, by=by, start_ns=start_ns, end_ns=end_ns, where=where)

    def gauge(
        self, metric: str, *, by: Sequence[str], start_ns: int, end_ns: int, where: Mapping[str, str] | None = None
    ) -> dict[GroupKey, GaugeSamples]:
        points = self._points(metric, start_ns, end_ns)
        return gauge_samples(points, by=by, start_ns=start_ns, end_ns=end_ns, where=where)

    def queries(self) -> list[str]:
        return list(self._queries)
