"""Worker-side metrics: one series object per (metric, tag set), and a drain that ships each second's deltas.

Callers look a series up once (``registry.trend("http_req_duration", tags)``) and keep it, so recording a sample is
an attribute update or a dict increment — no tag hashing per sample. ``Registry.drain`` runs once a second on the
same event loop, so it must stay cheap whatever the sample rate: it turns everything that changed into an
:class:`IntervalReport` (msgpack-able, it crosses to the coordinator) and resets the interval state. A trend's interval
histogram is the dict its ``add`` counted into (HDR bucket index → count), handed over as a
:class:`~loadtests.metrics.hdr.SparseHistogram` without copying or encoding: a drain costs a few microseconds per
trend (one C-level sum over its non-empty buckets, its exemplars, the floor's move), whatever the sample rate.

Exemplars link a trend's slow or failed samples to their W3C trace ids. Per interval a trend keeps the samples at or
above its *floor* — about its cumulative p95 as of the last drain (0 before the first, so early samples all
qualify) — at most ``exemplar_cap`` of them, the largest (a min-heap: pushing costs O(log cap) only for candidates),
plus every failure up to ``failure_cap``.

The floor comes from a banded *tail* histogram, not a full cumulative HDR one (merging every interval into that and
scanning it for a percentile is what made drains slow): 1/128-octave bands (``2**BAND_SHIFT`` HDR buckets each) that
count a series' first 2000 samples and, after those, only samples at or above the floor less a 1/8-octave margin —
some 6 % of them, so ``add`` pays one comparison on the others. At a drain the floor moves to the lower edge of the
highest band with at least ``count - rank(p95) + 1`` counted samples at or above it, a band at a time from where it
was (bisecting running sums for a long move): O(bands moved) per trend, no percentile scan.

The bands hold a subset of the samples, so the floor is never above the band of the true cumulative p95 (which is at
most 0.8 % below the p95's bucket): samples that qualify are never filtered out. It is exactly that band while the
p95 stays within the margin of every earlier floor — a steady or rising distribution, once the first 2000 samples
have settled it. When the p95 sinks further (the distribution drifting down), the samples in between were not
counted and the floor lags below it — more candidates than needed, never fewer; down to 0, where every sample
counts again, if the counted bands cannot place it at all.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left, bisect_right
from heapq import heappush, heapreplace
from itertools import accumulate, starmap
from typing import TYPE_CHECKING

import msgspec

from loadtests.metrics.builtin import BUILTIN_METRICS
from loadtests.metrics.hdr import COUNTS_LEN, HIGHEST, SCALE, SparseHistogram, bucket_floor, bucket_index
from loadtests.metrics.types import MetricType, TagSet, ValueKind, tagset

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = (
    "CounterSeries",
    "Exemplar",
    "GaugeSeries",
    "IntervalReport",
    "RateSeries",
    "Registry",
    "SeriesDelta",
    "TrendSeries",
)

EXEMPLAR_CAP = 64
FAILURE_CAP = 256
EXEMPLAR_PERCENTILE = 95.0
BAND_SHIFT = 3
"""Exemplar-floor resolution: tail bands of ``2**BAND_SHIFT`` HDR buckets (1/128 octave, at most 0.8 % wide)."""
_BANDS = COUNTS_LEN >> BAND_SHIFT
_LIMIT = HIGHEST + 1.0  # a scaled value below this is recorded unclamped (as in hdr.Histogram.record)
_WALK = 8  # floor moves up to this many bands are walked, longer ones bisected
_MARGIN = 16  # bands (1/8 octave) below the floor still counted, so the p95's wobbles stay exact
_WARMUP = 2000  # samples counted in full before the margin applies: until then the p95 wobbles more than it


class Exemplar(msgspec.Struct, frozen=True, omit_defaults=True, gc=False):
    """A sample that names its trace: the value, the W3C trace id, and when (unix seconds).

    ``tags`` are its series' tags, filled in by :meth:`Aggregate.exemplars` (on the wire the delta carries them).
    """

    value: float
    trace_id: str
    time: float
    failed: bool = False
    tags: dict[str, str] = {}


class SeriesDelta(msgspec.Struct, omit_defaults=True, gc=False):
    """What one series gained in one interval; the fields used depend on ``type``.

    counter: ``value`` (sum added), ``samples``; gauge: ``value`` (last), ``min``, ``max``, ``samples``; rate:
    ``passes``, ``total``; trend: ``hist`` (the interval's non-empty HDR buckets and exact count/sum/min/max),
    ``exemplars``, ``samples`` (= ``hist.count``).
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
    hist: SparseHistogram | None = None
    exemplars: list[Exemplar] = []


class IntervalReport(msgspec.Struct, gc=False):
    """One worker's deltas for ``(started, time]`` (unix seconds); ``worker`` is set by the caller."""

    time: float
    series: list[SeriesDelta]
    started: float = 0.0
    worker: int = 0


class _Series:
    __slots__ = ("kind", "name", "tags")
    type: MetricType

    def __init__(self, name: str, tags: TagSet, kind: ValueKind) -> None:
        self.name = name
        self.tags = tags
        self.kind = kind

    def _drain(self) -> SeriesDelta | None:
        raise NotImplementedError


class CounterSeries(_Series):
    """A running sum (k6 Counter)."""

    __slots__ = ("samples", "value")
    type = MetricType.COUNTER

    def __init__(self, name: str, tags: TagSet, kind: ValueKind = ValueKind.DEFAULT) -> None:
        super().__init__(name, tags, kind)
        self.value = 0.0
        self.samples = 0

    def add(self, value: float = 1.0) -> None:
        self.value += value
        self.samples += 1

    def _drain(self) -> SeriesDelta | None:
        if not self.samples:
            return None
        delta = SeriesDelta(self.name, self.type, self.kind, dict(self.tags), samples=self.samples, value=self.value)
        self.value = 0.0
        self.samples = 0
        return delta


class GaugeSeries(_Series):
    """The last value set, with the interval's min and max (k6 Gauge)."""

    __slots__ = ("last", "max", "min", "samples")
    type = MetricType.GAUGE

    def __init__(self, name: str, tags: TagSet, kind: ValueKind = ValueKind.DEFAULT) -> None:
        super().__init__(name, tags, kind)
        self.last = 0.0
        self.min = float("inf")
        self.max = float("-inf")
        self.samples = 0

    def set(self, value: float) -> None:
        self.last = value
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value
        self.samples += 1

    def _drain(self) -> SeriesDelta | None:
        if not self.samples:
            return None
        delta = SeriesDelta(
            self.name,
            self.type,
            self.kind,
            dict(self.tags),
            samples=self.samples,
            value=self.last,
            min=self.min,
            max=self.max,
        )
        # The last value stays (a gauge holds it); min/max restart from it.
        self.min = self.max = self.last
        self.samples = 0
        return delta


class RateSeries(_Series):
    """The share of true samples (k6 Rate)."""

    __slots__ = ("passes", "total")
    type = MetricType.RATE

    def __init__(self, name: str, tags: TagSet, kind: ValueKind = ValueKind.DEFAULT) -> None:
        super().__init__(name, tags, kind)
        self.passes = 0
        self.total = 0

    def add(self, ok: bool) -> None:
        self.total += 1
        if ok:
            self.passes += 1

    def _drain(self) -> SeriesDelta | None:
        if not self.total:
            return None
        delta = SeriesDelta(self.name, self.type, self.kind, dict(self.tags), passes=self.passes, total=self.total)
        self.passes = 0
        self.total = 0
        return delta


class TrendSeries(_Series):
    """A distribution (k6 Trend) recorded as HDR buckets, with exemplars (see the module docstring)."""

    __slots__ = (
        "_bands",
        "_buckets",
        "_cap",
        "_clamped",
        "_count_band",
        "_count_units",
        "_counted",
        "_failure_cap",
        "_failures",
        "_floor_band",
        "_floor_units",
        "_heap",
        "_max",
        "_min",
        "_percentile",
        "_sum",
        "_top_band",
        "_total",
    )
    type = MetricType.TREND

    def __init__(
        self,
        name: str,
        tags: TagSet,
        kind: ValueKind = ValueKind.TIME,
        *,
        exemplar_cap: int = EXEMPLAR_CAP,
        failure_cap: int = FAILURE_CAP,
        exemplar_percentile: float = EXEMPLAR_PERCENTILE,
    ) -> None:
        super().__init__(name, tags, kind)
        # The interval: bucket index -> count (hdr's index arithmetic), and the exact fields in hdr's units.
        self._buckets: dict[int, int] = {}
        self._sum = 0
        self._min = math.inf
        self._max = -math.inf
        self._clamped = 0
        # The exemplar floor and its tail histogram (module docstring).
        self._total = 0  # samples drained so far
        self._bands = [0] * _BANDS  # per band, the samples recorded at or above the floor of the time
        self._floor_band = 0
        self._floor_units = 0  # the floor's band's lowest stored integer: a sample at or above it is in a band above
        self._count_band = 0  # samples from this band up are counted: the floor's, less a margin
        self._count_units = 0
        self._counted = 0  # counted samples in bands from the counting one up
        self._top_band = 0  # the band of the largest sample ever recorded
        self._heap: list[tuple[float, str, float]] = []
        self._failures: list[Exemplar] = []
        self._cap = exemplar_cap
        self._failure_cap = failure_cap
        self._percentile = exemplar_percentile

    @property
    def exemplar_floor(self) -> float:
        """Samples at or above this are exemplar candidates (about the cumulative p95; 0 before a drain)."""
        return self._floor_units / SCALE

    def add(self, value: float, exemplar: str | None = None) -> None:
        # hdr.Histogram.record, inlined (a call costs as much as the dict increment): the same units and index.
        scaled = value * 1000.0 + 0.5
        if 0.5 <= scaled < _LIMIT:
            units = int(scaled)
            self._sum += units
        else:
            units = self._out_of_range(value, scaled)
        bucket = (units | 2047).bit_length() - 11
        index = (bucket << 10) + (units >> bucket)
        buckets = self._buckets
        buckets[index] = buckets.get(index, 0) + 1
        if value < self._min:
            self._min = value
        if value > self._max:
            self._max = value
        if units >= self._count_units:
            self._bands[index >> BAND_SHIFT] += 1
            self._counted += 1
            if exemplar is not None and units >= self._floor_units:
                heap = self._heap
                if len(heap) < self._cap:
                    heappush(heap, (value, exemplar, time.time()))
                elif value > heap[0][0]:
                    heapreplace(heap, (value, exemplar, time.time()))

    def _out_of_range(self, value: float, scaled: float) -> int:
        if not scaled >= 0.5:  # negative, or NaN
            raise ValueError(f"a trend value must be a non-negative number, got {value!r}")
        if math.isinf(scaled):
            raise ValueError(f"a trend value must be finite, got {value!r}")
        self._sum += int(scaled)
        self._clamped += 1
        return HIGHEST

    def add_failure(self, value: float, exemplar: str | None = None) -> None:
        """Record a failed sample; its exemplar is always kept (up to ``failure_cap`` per interval)."""
        self.add(value)
        if exemplar is not None and len(self._failures) < self._failure_cap:
            self._failures.append(Exemplar(value, exemplar, time.time(), failed=True))

    def _drain(self) -> SeriesDelta | None:
        buckets = self._buckets
        if not buckets:
            return None
        count = sum(buckets.values())
        exemplars = list(starmap(Exemplar, sorted(self._heap, reverse=True)))
        exemplars.extend(self._failures)
        hist = SparseHistogram(buckets, count, self._sum / SCALE, self._min, self._max, self._clamped)
        self._top_band = max(self._top_band, bucket_index(self._max) >> BAND_SHIFT)
        delta = SeriesDelta(
            self.name, self.type, self.kind, dict(self.tags), samples=count, hist=hist, exemplars=exemplars
        )
        self._buckets = {}  # the old dict now belongs to the delta
        self._sum = 0
        self._min = math.inf
        self._max = -math.inf
        self._clamped = 0
        self._heap.clear()
        self._failures.clear()
        self._total += count
        self._move_floor()
        return delta

    def _move_floor(self) -> None:
        """Put the floor on the highest band with enough counted samples at or above it (module docstring).

        It usually moves a band or two, walked one at a time; a long move (the first drain climbs from 0) bisects
        running sums instead.
        """
        total = self._total
        needed = total - max(int(self._percentile * total / 100 + 0.5), 1) + 1  # samples from the p95 one up
        bands = self._bands
        band = self._floor_band
        above = self._counted - sum(bands[self._count_band : band])  # counted samples at or above the floor's band
        spare = above - needed  # samples the floor could leave below it (negative: it must drop)
        steps = 0
        while spare >= bands[band] and steps < _WALK:  # climb while what the band holds can be spared
            spare -= bands[band]
            band += 1
            steps += 1
        if steps == _WALK:
            running = list(accumulate(bands[band : self._top_band + 1]))
            climb = bisect_right(running, spare)
            if climb:
                spare -= running[climb - 1]
                band += climb
        steps = 0
        while spare < 0 and band > 0 and steps < _WALK:  # drop until the bands above hold enough
            band -= 1
            spare += bands[band]
            steps += 1
        if spare < 0 and band > 0:
            running = list(accumulate(bands[band - 1 :: -1]))  # bands band-1, band-2, ... 0
            drop = min(bisect_left(running, -spare), len(running) - 1)  # not enough anywhere: band 0, count them all
            spare += running[drop]
            band -= drop + 1
        self._floor_band = band
        self._floor_units = round(bucket_floor(band << BAND_SHIFT) * SCALE)
        self._count_band = max(band - _MARGIN, 0) if total >= _WARMUP else 0
        self._count_units = round(bucket_floor(self._count_band << BAND_SHIFT) * SCALE)
        self._counted = needed + spare + sum(bands[self._count_band : band])


class Registry:
    """All series of one worker, by (name, tags); one metric name has one type (and, for trends, one kind)."""

    def __init__(
        self,
        *,
        exemplar_cap: int = EXEMPLAR_CAP,
        failure_cap: int = FAILURE_CAP,
        exemplar_percentile: float = EXEMPLAR_PERCENTILE,
        start_unix: float | None = None,
    ) -> None:
        self._series: dict[tuple[str, TagSet], _Series] = {}
        self._types: dict[str, tuple[MetricType, ValueKind]] = {}
        self._exemplar_cap = exemplar_cap
        self._failure_cap = failure_cap
        self._exemplar_percentile = exemplar_percentile
        self._last_drain = time.time() if start_unix is None else start_unix

    def counter(self, name: str, tags: Mapping[str, str] | TagSet = ()) -> CounterSeries:
        found = self._get(name, tags, MetricType.COUNTER, None)
        assert isinstance(found, CounterSeries)
        return found

    def gauge(self, name: str, tags: Mapping[str, str] | TagSet = ()) -> GaugeSeries:
        found = self._get(name, tags, MetricType.GAUGE, None)
        assert isinstance(found, GaugeSeries)
        return found

    def rate(self, name: str, tags: Mapping[str, str] | TagSet = ()) -> RateSeries:
        found = self._get(name, tags, MetricType.RATE, None)
        assert isinstance(found, RateSeries)
        return found

    def trend(self, name: str, tags: Mapping[str, str] | TagSet = (), kind: ValueKind = ValueKind.TIME) -> TrendSeries:
        found = self._get(name, tags, MetricType.TREND, kind)
        assert isinstance(found, TrendSeries)
        return found

    def _get(self, name: str, tags: Mapping[str, str] | TagSet, type_: MetricType, kind: ValueKind | None) -> _Series:
        key = (name, tagset(tags))
        found = self._series.get(key)
        if found is not None and found.type is type_ and (kind is None or found.kind is kind):
            return found
        # First sight of this (name, tags), or a conflict to report.
        known = self._types.get(name)
        if kind is None:  # counters, gauges and rates: a built-in's kind (data_sent counts bytes), else default
            builtin = BUILTIN_METRICS.get(name)
            kind = builtin.kind if builtin is not None else ValueKind.DEFAULT
        wanted = (type_, kind)
        if known is not None and known != wanted:
            raise ValueError(
                f"metric {name!r} is a {known[0]} ({known[1]} values); it cannot also be a {type_} ({wanted[1]} values)"
            )
        self._types[name] = wanted
        series: _Series
        if type_ is MetricType.TREND:
            series = TrendSeries(
                name,
                key[1],
                kind,
                exemplar_cap=self._exemplar_cap,
                failure_cap=self._failure_cap,
                exemplar_percentile=self._exemplar_percentile,
            )
        elif type_ is MetricType.COUNTER:
            series = CounterSeries(name, key[1], kind)
        elif type_ is MetricType.GAUGE:
            series = GaugeSeries(name, key[1], kind)
        else:
            series = RateSeries(name, key[1], kind)
        self._series[key] = series
        return series

    def metric_type(self, name: str) -> MetricType | None:
        known = self._types.get(name)
        return known[0] if known else None

    def __len__(self) -> int:
        return len(self._series)

    def drain(self, now_unix: float) -> IntervalReport:
        """The deltas since the last drain (only series that changed), reset; ``now_unix`` ends the interval."""
        deltas = [delta for series in self._series.values() if (delta := series._drain()) is not None]
        report = IntervalReport(time=now_unix, series=deltas, started=self._last_drain)
        self._last_drain = now_unix
        return report
