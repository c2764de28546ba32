"""Coordinator-side metrics: merge the workers' interval reports losslessly, answer k6-style queries, keep a timeline.

Cumulative state is one entry per (metric, tag set): counter sums, rate passes/total, gauge values and, for trends,
one HDR histogram that every interval histogram is added into (bucket by bucket, so percentiles over all workers are
exactly what one histogram of every sample would give). Interval histograms arrive sparse (their non-empty buckets):
each is sorted once (:class:`~loadtests.metrics.hdr.RankedBuckets`), added into its series' histogram an index at a
time, and kept until its second closes, whose percentiles come from the sorted buckets — per series, and per metric
by bisecting across its series (:func:`~loadtests.metrics.hdr.merged_percentiles`), never from a decoded or merged
23,552-bucket array. A sub-metric (``http_req_duration{scenario:a}``) is every series whose tags include the filter,
k6's AND of equalities; its histogram is the merge of theirs.

The timeline keeps, per second and per series (and per metric, all series merged), a handful of numbers — counts,
p50/p95/p99, passes/total — in ``array('d')`` columns: about 60 bytes per series-second, so a one-hour run with 100
series stays near 25 MB. A second is summarised and its interval histograms dropped once every expected worker has
reported it or it is ``SECOND_GRACE`` seconds older than the newest report; a report later than that is counted in
the oldest second still open.
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from heapq import heappush, heapreplace
from typing import TYPE_CHECKING

import msgspec

from loadtests.metrics.builtin import ADDITIVE_GAUGES
from loadtests.metrics.hdr import SCALE, EncodedHistogram, Histogram, RankedBuckets, merged_percentiles
from loadtests.metrics.series import Exemplar
from loadtests.metrics.types import MetricType, TagSet, ValueKind, tagset

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Iterator, Mapping

    from loadtests.metrics.series import IntervalReport, SeriesDelta

__all__ = ("SECOND_GRACE", "Aggregate", "AggregateSnapshot", "SeriesSnapshot", "TimeSeries")

SECOND_GRACE = 2.0
EXEMPLARS_KEPT = 128
"""Per series: the largest non-failure exemplars kept for the whole run (those above the final p95 are a subset)."""
FAILURES_KEPT = 512
"""Per series: the most recent failure exemplars kept for the whole run."""

TREND_STATS = ("avg", "min", "med", "max", "p(90)", "p(95)", "p(99)", "p(99.9)", "count")
_TREND_PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)
_ROW_PERCENTILES = (50.0, 95.0, 99.0)

_COLUMNS: dict[MetricType, tuple[str, ...]] = {
    MetricType.COUNTER: ("count", "samples"),
    MetricType.GAUGE: ("value", "min", "max"),
    MetricType.RATE: ("passes", "total", "rate"),
    MetricType.TREND: ("count", "avg", "min", "max", "p50", "p95", "p99"),
}
"""The per-second columns of each type. Buckets are one second wide, so ``count`` is also the per-second rate."""

SeriesKey = tuple[str, TagSet]


class SeriesSnapshot(msgspec.Struct, omit_defaults=True):
    """One series' cumulative state; fields by type as in :class:`~loadtests.metrics.series.SeriesDelta`.

    Gauges also carry ``updated`` (when last set, unix s) and, for additive gauges (``vus``), ``parts``: the last
    value per worker, whose sum is ``value``.
    """

    name: str
    type: MetricType
    kind: ValueKind = ValueKind.DEFAULT
    tags: dict[str, str] = {}
    samples: int = 0
    value: float = 0.0
    min: float = 0.0
    max: float = 0.0
    passes: int = 0
    total: int = 0
    updated: float = 0.0
    parts: dict[str, float] = {}
    hist: EncodedHistogram | None = None
    exemplars: list[Exemplar] = []


class TimeSeries(msgspec.Struct):
    """One series' (or, with ``tags`` None, one whole metric's) per-second columns; ``time`` is each second's end."""

    name: str
    type: MetricType
    tags: dict[str, str] | None
    time: list[int]
    columns: dict[str, list[float]]


class AggregateSnapshot(msgspec.Struct):
    """Everything an :class:`Aggregate` knows, JSON- and msgpack-able; two snapshots merge losslessly."""

    start: float
    end: float
    workers: int
    series: list[SeriesSnapshot]
    timeline: list[TimeSeries]
    version: int = 1


class _State:
    """Cumulative state of one series."""

    __slots__ = (
        "failures",
        "hist",
        "kind",
        "max",
        "min",
        "name",
        "parts",
        "passes",
        "samples",
        "tagdict",
        "tags",
        "top",
        "total",
        "type",
        "updated",
        "value",
    )

    def __init__(self, name: str, type_: MetricType, kind: ValueKind, tags: TagSet) -> None:
        self.name = name
        self.type = type_
        self.kind = kind
        self.tags = tags
        self.tagdict = dict(tags)
        self.samples = 0
        self.value = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.passes = 0
        self.total = 0
        self.updated = -math.inf
        self.parts: dict[str, float] = {}
        self.hist: Histogram | None = Histogram() if type_ is MetricType.TREND else None
        self.top: list[tuple[float, str, float]] = []
        self.failures: deque[Exemplar] = deque(maxlen=FAILURES_KEPT)

    def add_exemplars(self, exemplars: Iterable[Exemplar]) -> None:
        top = self.top
        for e in exemplars:
            if e.failed:
                self.failures.append(e)
            elif len(top) < EXEMPLARS_KEPT:
                heappush(top, (e.value, e.trace_id, e.time))
            elif e.value > top[0][0]:
                heapreplace(top, (e.value, e.trace_id, e.time))


class _Part:
    """One series' share of one second, across the workers that reported it."""

    __slots__ = ("hists", "max", "min", "passes", "samples", "total", "updated", "value")

    def __init__(self) -> None:
        self.samples = 0
        self.value = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.passes = 0
        self.total = 0
        self.updated = -math.inf
        self.hists: list[RankedBuckets] = []  # a trend's interval histograms, one per worker report


class _Second:
    __slots__ = ("parts", "workers")

    def __init__(self) -> None:
        self.workers: set[int] = set()
        self.parts: dict[SeriesKey, _Part] = {}


class _Timeline:
    __slots__ = ("columns", "time", "type")

    def __init__(self, type_: MetricType) -> None:
        self.type = type_
        self.time = array("q")
        self.columns = {column: array("d") for column in _COLUMNS[type_]}

    def append(self, second: int, row: Mapping[str, float]) -> None:
        self.time.append(second)
        for column, values in self.columns.items():
            values.append(row[column])

    def rows(self) -> dict[int, dict[str, float]]:
        return {t: {c: v[i] for c, v in self.columns.items()} for i, t in enumerate(self.time)}


def _filter_matches(tagdict: Mapping[str, str], wanted: TagSet) -> bool:
    return all(tagdict.get(k) == v for k, v in wanted)


class Aggregate:
    """The run's metrics as the coordinator sees them (see the module docstring).

    ``workers`` is how many workers report each second (a second closes early once all have); without it seconds
    close by age only. ``start_unix`` is when the test started (default: the start of the first report's interval).
    """

    def __init__(
        self,
        *,
        workers: int | None = None,
        start_unix: float | None = None,
        additive_gauges: Collection[str] = ADDITIVE_GAUGES,
    ) -> None:
        self._expected = workers
        self.start = start_unix
        self.end: float | None = None
        self._additive = frozenset(additive_gauges)
        self._states: dict[SeriesKey, _State] = {}
        self._by_name: dict[str, list[_State]] = {}
        self._workers: set[int] = set()
        self._pending: dict[int, _Second] = {}
        self._closed_through: int | None = None
        self._timelines: dict[tuple[str, TagSet | None], _Timeline] = {}
        self._worker_count = 0  # for snapshots of merged runs: the sum of both sides' workers

    # -- merging reports ----------------------------------------------------------------------------------------

    def merge_report(self, report: IntervalReport) -> None:
        """Fold one worker's interval in: cumulative state, exemplars and the per-second timeline."""
        if self.start is None:
            self.start = report.started if report.started > 0 else report.time - 1.0
        self.end = report.time if self.end is None else max(self.end, report.time)
        self._workers.add(report.worker)
        second = round(report.time)
        if self._closed_through is not None and second <= self._closed_through:
            second = self._closed_through + 1
        bucket = self._pending.get(second)
        if bucket is None:
            bucket = self._pending[second] = _Second()
        bucket.workers.add(report.worker)
        for delta in report.series:
            self._merge_delta(delta, report, bucket)
        self._close_ready()

    def _state(self, name: str, type_: MetricType, kind: ValueKind, tags: TagSet) -> _State:
        key = (name, tags)
        state = self._states.get(key)
        if state is None:
            known = self._by_name.get(name)
            if known and known[0].type is not type_:
                raise ValueError(f"metric {name!r} arrived as a {type_} but is a {known[0].type}")
            state = self._states[key] = _State(name, type_, kind, tags)
            self._by_name.setdefault(name, []).append(state)
        return state

    def _merge_delta(self, delta: SeriesDelta, report: IntervalReport, bucket: _Second) -> None:
        tags = tagset(delta.tags)
        state = self._state(delta.name, delta.type, delta.kind, tags)
        part = bucket.parts.get((delta.name, tags))
        if part is None:
            part = bucket.parts[(delta.name, tags)] = _Part()
        type_ = delta.type
        if type_ is MetricType.COUNTER:
            state.value += delta.value
            state.samples += delta.samples
            part.value += delta.value
            part.samples += delta.samples
        elif type_ is MetricType.RATE:
            state.passes += delta.passes
            state.total += delta.total
            part.passes += delta.passes
            part.total += delta.total
        elif type_ is MetricType.GAUGE:
            state.samples += delta.samples
            part.samples += delta.samples
            part.min = min(part.min, delta.min)
            part.max = max(part.max, delta.max)
            if report.time >= part.updated:
                part.value = delta.value
                part.updated = report.time
            if delta.name in self._additive:
                # Each worker reports its own share: the value is the sum of their latest, min/max track that sum.
                state.parts[str(report.worker)] = delta.value
                state.value = sum(state.parts.values())
                state.min = min(state.min, state.value)
                state.max = max(state.max, state.value)
                state.updated = max(state.updated, report.time)
            else:
                state.min = min(state.min, delta.min)
                state.max = max(state.max, delta.max)
                if report.time >= state.updated:
                    state.value = delta.value
                    state.updated = report.time
        elif delta.hist is not None:
            interval = RankedBuckets(delta.hist)  # sorted once: for the cumulative add and the second's percentiles
            assert state.hist is not None
            state.hist.add_sparse(interval)
            state.samples += interval.count
            part.samples += interval.count
            part.hists.append(interval)
            state.add_exemplars(delta.exemplars)

    def _close_ready(self) -> None:
        assert self.end is not None
        for second in sorted(self._pending):
            bucket = self._pending[second]
            complete = self._expected is not None and len(bucket.workers) >= self._expected
            if complete or second <= self.end - SECOND_GRACE:
                self._close(second)
            else:
                break

    def flush(self) -> None:
        """Close every open second (at the end of the run, once the last reports are in)."""
        for second in sorted(self._pending):
            self._close(second)

    def _close(self, second: int) -> None:
        bucket = self._pending.pop(second)
        for key, row in self._summarise(bucket).items():
            timeline = self._timelines.get(key)
            if timeline is None:
                timeline = self._timelines[key] = _Timeline(self._by_name[key[0]][0].type)
            timeline.append(second, row)
        self._closed_through = second if self._closed_through is None else max(self._closed_through, second)

    def _summarise(self, bucket: _Second) -> dict[tuple[str, TagSet | None], dict[str, float]]:
        """The rows of one second: per series, and per metric (all its series merged)."""
        rows: dict[tuple[str, TagSet | None], dict[str, float]] = {}
        by_name: dict[str, list[tuple[TagSet, _Part]]] = {}
        for (name, tags), part in bucket.parts.items():
            by_name.setdefault(name, []).append((tags, part))
        for name, parts in by_name.items():
            type_ = self._by_name[name][0].type
            if type_ is MetricType.TREND:
                for tags, part in parts:
                    rows[(name, tags)] = _trend_row(part.hists)
                rows[(name, None)] = (
                    dict(rows[(name, parts[0][0])])
                    if len(parts) == 1
                    else _trend_row([hist for _, part in parts for hist in part.hists])
                )
                continue
            for tags, part in parts:
                rows[(name, tags)] = self._row(name, type_, tags, part)
            rows[(name, None)] = self._metric_row(name, type_, [p for _, p in parts], rows, [t for t, _ in parts])
        return rows

    def _row(self, name: str, type_: MetricType, tags: TagSet, part: _Part) -> dict[str, float]:
        if type_ is MetricType.COUNTER:
            return {"count": part.value, "samples": float(part.samples)}
        if type_ is MetricType.RATE:
            rate = part.passes / part.total if part.total else 0.0
            return {"passes": float(part.passes), "total": float(part.total), "rate": rate}
        if type_ is MetricType.GAUGE:
            if name in self._additive:
                value = self._states[(name, tags)].value
                return {"value": value, "min": value, "max": value}
            return {"value": part.value, "min": part.min, "max": part.max}
        raise AssertionError("trend rows come from _trend_row")

    def _metric_row(
        self,
        name: str,
        type_: MetricType,
        parts: list[_Part],
        rows: Mapping[tuple[str, TagSet | None], Mapping[str, float]],
        tagsets: list[TagSet],
    ) -> dict[str, float]:
        if len(parts) == 1:
            return dict(rows[(name, tagsets[0])])
        series_rows = [rows[(name, tags)] for tags in tagsets]
        if type_ is MetricType.GAUGE:
            if name in self._additive:
                value = sum(r["value"] for r in series_rows)
                return {"value": value, "min": value, "max": value}
            latest = max(parts, key=lambda p: p.updated)
            return {
                "value": latest.value,
                "min": min(r["min"] for r in series_rows),
                "max": max(r["max"] for r in series_rows),
            }
        summed = {column: sum(r[column] for r in series_rows) for column in _COLUMNS[type_]}
        if type_ is MetricType.RATE:
            summed["rate"] = summed["passes"] / summed["total"] if summed["total"] else 0.0
        return summed

    # -- queries ------------------------------------------------------------------------------------------------

    @property
    def elapsed_s(self) -> float:
        """From the start to the end of the newest report (0 before any)."""
        if self.start is None or self.end is None:
            return 0.0
        return max(self.end - self.start, 0.0)

    @property
    def workers(self) -> int:
        return max(len(self._workers), self._worker_count)

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def metric_type(self, name: str) -> MetricType | None:
        states = self._by_name.get(name)
        return states[0].type if states else None

    def metric_kind(self, name: str) -> ValueKind | None:
        states = self._by_name.get(name)
        return states[0].kind if states else None

    def series_tags(self, name: str) -> list[TagSet]:
        """The tag sets of every series of ``name``, sorted."""
        return sorted(state.tags for state in self._by_name.get(name, ()))

    def _matching(
        self,
        name: str,
        filter: TagSet | Mapping[str, str],  # noqa: A002 - k6 calls it a filter
    ) -> list[_State]:
        wanted = tagset(filter)
        return [s for s in self._by_name.get(name, ()) if _filter_matches(s.tagdict, wanted)]

    def histogram(
        self,
        name: str,
        filter: TagSet | Mapping[str, str] = (),  # noqa: A002
    ) -> Histogram | None:
        """The merged histogram of a trend (sub-)metric, a copy; None when no series matches or it is no trend."""
        states = [s for s in self._matching(name, filter) if s.hist is not None and s.hist.count]
        if not states:
            return None
        merged = Histogram()
        for state in states:
            assert state.hist is not None
            merged.merge(state.hist)
        return merged

    def percentile(
        self,
        name: str,
        filter: TagSet | Mapping[str, str],  # noqa: A002
        p: float,
    ) -> float | None:
        """Any ``p(N)`` of a trend (sub-)metric; None without samples."""
        hist = self.histogram(name, filter)
        return None if hist is None else hist.percentile(p)

    def values(
        self,
        name: str,
        filter: TagSet | Mapping[str, str] = (),  # noqa: A002
        elapsed_s: float | None = None,
    ) -> dict[str, float]:
        """k6's values of a (sub-)metric, ``{}`` when no series matches (no samples).

        counter ``count``, ``rate`` (per second over ``elapsed_s``, default :attr:`elapsed_s`); gauge ``value``,
        ``min``, ``max``; rate ``rate``, ``passes``, ``fails``; trend ``avg``, ``min``, ``med``, ``max``, ``p(90)``,
        ``p(95)``, ``p(99)``, ``p(99.9)``, ``count``.
        """
        states = self._matching(name, filter)
        if not states:
            return {}
        type_ = states[0].type
        if type_ is MetricType.COUNTER:
            count = sum(s.value for s in states)
            elapsed = self.elapsed_s if elapsed_s is None else elapsed_s
            return {"count": count, "rate": count / elapsed if elapsed > 0 else 0.0}
        if type_ is MetricType.RATE:
            passes = sum(s.passes for s in states)
            total = sum(s.total for s in states)
            return {"rate": passes / total if total else 0.0, "passes": float(passes), "fails": float(total - passes)}
        if type_ is MetricType.GAUGE:
            if name in self._additive:
                value = sum(s.value for s in states)
            else:
                value = max(states, key=lambda s: s.updated).value
            return {"value": value, "min": min(s.min for s in states), "max": max(s.max for s in states)}
        hist = self.histogram(name, filter)
        if hist is None:
            return {}
        return trend_values(hist)

    def exemplars(
        self,
        name: str,
        filter: TagSet | Mapping[str, str] = (),  # noqa: A002
        above_percentile: float = 95.0,
    ) -> list[Exemplar]:
        """The run's exemplars of a trend (sub-)metric: each series' at/above its final percentile, and all failures.

        Each carries its series' ``tags``; sorted by value, largest first.
        """
        found: list[Exemplar] = []
        for state in self._matching(name, filter):
            if state.hist is None:
                continue
            floor = state.hist.percentile_floor(above_percentile)
            tags = state.tagdict
            found.extend(Exemplar(v, trace, t, tags=dict(tags)) for v, trace, t in state.top if v >= floor)
            found.extend(msgspec.structs.replace(e, tags=dict(tags)) for e in state.failures)
        found.sort(key=lambda e: (e.value, e.time), reverse=True)
        return found

    def timeseries(self, name: str, tags: TagSet | Mapping[str, str] | None = None) -> TimeSeries | None:
        """The closed seconds of one series (exact tags) or, with ``tags`` None, of the whole metric."""
        key = (name, None if tags is None else tagset(tags))
        timeline = self._timelines.get(key)
        if timeline is None:
            return None
        return _timeseries(key, timeline)

    # -- snapshots and merging runs -----------------------------------------------------------------------------

    def to_struct(self) -> AggregateSnapshot:
        """A self-contained snapshot; seconds still open are included (summarised as they stand), not closed."""
        series = [_snapshot(state) for state in self._states.values()]
        timelines: dict[tuple[str, TagSet | None], _Timeline] = {}
        for key, timeline in self._timelines.items():
            timelines[key] = timeline
        if self._pending:
            timelines = {key: _copy_timeline(t) for key, t in timelines.items()}
            for second in sorted(self._pending):
                for key, row in self._summarise(self._pending[second]).items():
                    if key not in timelines:
                        timelines[key] = _Timeline(self._by_name[key[0]][0].type)
                    timelines[key].append(second, row)
        start = self.start if self.start is not None else 0.0
        end = self.end if self.end is not None else start
        return AggregateSnapshot(
            start=start,
            end=end,
            workers=self.workers,
            series=series,
            timeline=[_timeseries(key, t) for key, t in timelines.items()],
        )

    @classmethod
    def from_struct(
        cls, snapshot: AggregateSnapshot, *, additive_gauges: Collection[str] = ADDITIVE_GAUGES
    ) -> Aggregate:
        """An aggregate that answers the same queries as the one that made ``snapshot`` (closed, no more reports)."""
        aggregate = cls(start_unix=snapshot.start, additive_gauges=additive_gauges)
        aggregate._absorb(snapshot)
        return aggregate

    @classmethod
    def merged(cls, a: Aggregate | AggregateSnapshot, b: Aggregate | AggregateSnapshot) -> Aggregate:
        """Two runs (say, two machines driving the same test) as one: lossless for counters, rates and trends.

        Gauges: additive ones (``vus``) add up, others keep the most recently set value. Per-second trend percentiles
        of a second both runs have take the larger of the two (an upper bound: per-second histograms are not kept);
        counts, passes/totals and averages of those seconds are exact.
        """
        first = a.to_struct() if isinstance(a, Aggregate) else a
        second = b.to_struct() if isinstance(b, Aggregate) else b
        aggregate = cls.from_struct(first)
        aggregate._absorb(second)
        return aggregate

    def _absorb(self, snapshot: AggregateSnapshot) -> None:
        """Add a snapshot's series and timeline into this (empty or snapshot-built) aggregate."""
        self.start = snapshot.start if self.start is None else min(self.start, snapshot.start)
        self.end = snapshot.end if self.end is None else max(self.end, snapshot.end)
        self._worker_count = max(self._worker_count, len(self._workers)) + snapshot.workers
        for item in snapshot.series:
            self._absorb_series(item)
        for ts in snapshot.timeline:
            key = (ts.name, None if ts.tags is None else tagset(ts.tags))
            incoming = _Timeline(ts.type)
            for i, t in enumerate(ts.time):
                incoming.append(t, {c: ts.columns[c][i] for c in incoming.columns})
            existing = self._timelines.get(key)
            self._timelines[key] = (
                incoming if existing is None else _merge_timelines(existing, incoming, ts.name in self._additive)
            )
            if ts.time:
                last = max(ts.time)
                self._closed_through = last if self._closed_through is None else max(self._closed_through, last)

    def _absorb_series(self, item: SeriesSnapshot) -> None:
        tags = tagset(item.tags)
        fresh = (item.name, tags) not in self._states
        state = self._state(item.name, item.type, item.kind, tags)
        if item.type is MetricType.COUNTER:
            state.value += item.value
            state.samples += item.samples
        elif item.type is MetricType.RATE:
            state.passes += item.passes
            state.total += item.total
        elif item.type is MetricType.GAUGE:
            if item.name in self._additive and not fresh:  # two runs' VUs side by side add up
                state.value += item.value
                state.min += item.min
                state.max += item.max
                state.parts = {}
            else:
                state.min = min(state.min, item.min)
                state.max = max(state.max, item.max)
                if item.updated >= state.updated:
                    state.value = item.value
                state.parts = dict(item.parts)
            state.updated = max(state.updated, item.updated)
            state.samples += item.samples
        elif item.hist is not None:
            assert state.hist is not None
            state.hist.merge(Histogram.decode(item.hist))
            state.samples = state.hist.count
        state.add_exemplars(item.exemplars)

    def __iter__(self) -> Iterator[tuple[str, TagSet]]:
        return iter(self._states)


def trend_values(hist: Histogram) -> dict[str, float]:
    """k6's trend stats of one histogram (the percentiles in one pass)."""
    med, p90, p95, p99, p999 = hist.percentiles(_TREND_PERCENTILES)
    return {
        "avg": hist.mean,
        "min": hist.min,
        "med": med,
        "max": hist.max,
        "p(90)": p90,
        "p(95)": p95,
        "p(99)": p99,
        "p(99.9)": p999,
        "count": float(hist.count),
    }


def _trend_row(parts: list[RankedBuckets]) -> dict[str, float]:
    """The row of one histogram of all ``parts``' samples (the workers' intervals of a series or a whole metric)."""
    if len(parts) == 1:  # the usual case: one series, one worker
        part = parts[0]
        if not part.count:
            return dict.fromkeys(_COLUMNS[MetricType.TREND], 0.0)
        p50, p95, p99 = part.percentiles(_ROW_PERCENTILES)
        count, units, low, high = part.count, part.sum_units, part.min, part.max
    else:
        present = [part for part in parts if part.count]
        if not present:
            return dict.fromkeys(_COLUMNS[MetricType.TREND], 0.0)
        p50, p95, p99 = merged_percentiles(present, _ROW_PERCENTILES)
        count = sum(part.count for part in present)
        units = sum(part.sum_units for part in present)
        low = min(part.min for part in present)
        high = max(part.max for part in present)
    return {
        "count": float(count),
        "avg": units / SCALE / count,
        "min": low,
        "max": high,
        "p50": p50,
        "p95": p95,
        "p99": p99,
    }


def _snapshot(state: _State) -> SeriesSnapshot:
    has_gauge_value = state.type is MetricType.GAUGE and state.min <= state.max
    exemplars = [Exemplar(v, trace, t) for v, trace, t in sorted(state.top, reverse=True)]
    exemplars.extend(state.failures)
    return SeriesSnapshot(
        name=state.name,
        type=state.type,
        kind=state.kind,
        tags=dict(state.tags),
        samples=state.samples,
        value=state.value,
        min=state.min if has_gauge_value else 0.0,
        max=state.max if has_gauge_value else 0.0,
        passes=state.passes,
        total=state.total,
        updated=state.updated if math.isfinite(state.updated) else 0.0,
        parts=dict(state.parts),
        hist=state.hist.to_struct() if state.hist is not None else None,
        exemplars=exemplars,
    )


def _timeseries(key: tuple[str, TagSet | None], timeline: _Timeline) -> TimeSeries:
    return TimeSeries(
        name=key[0],
        type=timeline.type,
        tags=None if key[1] is None else dict(key[1]),
        time=timeline.time.tolist(),
        columns={column: values.tolist() for column, values in timeline.columns.items()},
    )


def _copy_timeline(timeline: _Timeline) -> _Timeline:
    clone = _Timeline(timeline.type)
    clone.time = array("q", timeline.time)
    clone.columns = {column: array("d", values) for column, values in timeline.columns.items()}
    return clone


def _merge_timelines(a: _Timeline, b: _Timeline, additive: bool) -> _Timeline:
    rows = a.rows()
    for second, row in b.rows().items():
        mine = rows.get(second)
        rows[second] = row if mine is None else _merge_rows(a.type, mine, row, additive)
    merged = _Timeline(a.type)
    for second in sorted(rows):
        merged.append(second, rows[second])
    return merged


def _merge_rows(type_: MetricType, a: Mapping[str, float], b: Mapping[str, float], additive: bool) -> dict[str, float]:
    if type_ is MetricType.COUNTER:
        return {"count": a["count"] + b["count"], "samples": a["samples"] + b["samples"]}
    if type_ is MetricType.RATE:
        passes, total = a["passes"] + b["passes"], a["total"] + b["total"]
        return {"passes": passes, "total": total, "rate": passes / total if total else 0.0}
    if type_ is MetricType.GAUGE:
        if additive:
            return {"value": a["value"] + b["value"], "min": a["min"] + b["min"], "max": a["max"] + b["max"]}
        return {"value": b["value"], "min": min(a["min"], b["min"]), "max": max(a["max"], b["max"])}
    count = a["count"] + b["count"]
    if not a["count"] or not b["count"]:
        return dict(a if a["count"] else b)
    return {
        "count": count,
        "avg": (a["avg"] * a["count"] + b["avg"] * b["count"]) / count,
        "min": min(a["min"], b["min"]),
        "max": max(a["max"], b["max"]),
        "p50": max(a["p50"], b["p50"]),
        "p95": max(a["p95"], b["p95"]),
        "p99": max(a["p99"], b["p99"]),
    }
