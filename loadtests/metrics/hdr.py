"""An HDR histogram of float samples whose merges are lossless and whose encoding other HDR tools read.

Values (milliseconds for time metrics) are kept as integers of ``value × 1000`` in an ``hdrh`` histogram spanning
1 .. 3,600,000,000 (one hour in µs) at 3 significant digits, so every percentile is within 0.1 % and histograms from
any number of workers or machines add up bucket by bucket. The exact count, sum, min and max ride alongside: avg,
min and max are exact, and percentiles stay within ``[min, max]``. A percentile that lands on the first or the last
sample is the exact min or max (so ``p(0)``/``p(100)`` are), as is one in the top bucket when values were clamped
into it. The sum is kept in the same integer units, which makes it associative: any merge order gives the same sum.

Recording bypasses ``hdrh.record_value`` (≈1.3 µs: ``bin()`` and several calls per sample) for the same index
arithmetic done inline on the same counts array; ``hdrh`` still does what it does well in C — adding arrays and the
standard compressed V2 encoding.

Intervals travel differently (:class:`SparseHistogram`): only the non-empty buckets, as counts-array index → count,
with the exact fields. Encoding them is free (the recorder's own dict), and merging one into a histogram adds each
count at its index — the same buckets a standard decode would have produced, without the 184 KiB inflate and scan.
Percentiles of one or several sparse histograms (:class:`RankedBuckets`, :func:`merged_percentiles`) come from their
sorted buckets and agree exactly with :meth:`Histogram.percentiles` of the same samples.
"""

from __future__ import annotations

import ctypes
import math
import sys
from bisect import bisect_left, bisect_right
from itertools import accumulate, repeat
from operator import getitem, itemgetter
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from hdrh.histogram import HdrHistogram

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

__all__ = (
    "COUNTS_LEN",
    "HIGHEST",
    "LOWEST",
    "SCALE",
    "SIGNIFICANT_DIGITS",
    "EncodedHistogram",
    "Histogram",
    "RankedBuckets",
    "SparseHistogram",
    "SpectrumPoint",
    "bucket_floor",
    "bucket_index",
    "merged_percentiles",
)

SCALE = 1000
"""Stored integer units per value unit: three decimals (µs for millisecond values)."""
LOWEST = 1
HIGHEST = 3_600_000_000
"""The largest stored integer: one hour in µs. Larger values are clamped to it and counted in ``clamped``."""
SIGNIFICANT_DIGITS = 3

# The index arithmetic for (LOWEST=1, 3 digits): unit magnitude 0, 2048 sub-buckets (half count 1024, magnitude 10).
# tests/unit/loadtests/metrics/test_hdr.py checks these against hdrh's own for values across the whole range.
_SUB_MASK = 2047
_SUB_BITS = 11
_HALF_MAGNITUDE = 10
_HALF_COUNT = 1024
_LIMIT = HIGHEST + 1.0  # a scaled value below this fits without clamping
COUNTS_LEN = 23_552
"""Buckets in the counts array (hdrh's ``counts_len`` for these settings): a bucket index is below this."""


def _index(units: int) -> int:
    bucket = (units | _SUB_MASK).bit_length() - _SUB_BITS
    return (bucket << _HALF_MAGNITUDE) + (units >> bucket)


def _lowest_units(index: int) -> int:
    bucket = (index >> _HALF_MAGNITUDE) - 1
    sub = (index & (_HALF_COUNT - 1)) + _HALF_COUNT
    if bucket < 0:
        return sub - _HALF_COUNT
    return sub << bucket


def _highest_units(index: int) -> int:
    bucket = max((index >> _HALF_MAGNITUDE) - 1, 0)
    return _lowest_units(index) + (1 << bucket) - 1


def _units(value: float) -> int:
    """The stored integer for an in-range, non-negative value (round half up)."""
    return min(int(value * SCALE + 0.5), HIGHEST)


def bucket_index(value: float) -> int:
    """The counts-array index a non-negative value is recorded at (clamped into the top bucket above the range)."""
    return _index(_units(value))


def bucket_floor(index: int) -> float:
    """The lowest value recorded at bucket ``index`` (a value at or above it lands at this index or higher)."""
    return _lowest_units(index) / SCALE


def _check_buckets(indexes: Iterable[int], held: int, count: int) -> None:
    """Refuse buckets outside the counts array (a negative index would wrap) or that disagree with ``count``."""
    if held != count:
        raise ValueError(f"sparse histogram buckets hold {held} samples but its count says {count}")
    if held and not (min(indexes) >= 0 and max(indexes) < COUNTS_LEN):
        raise ValueError(f"sparse histogram bucket indexes must be within 0..{COUNTS_LEN - 1}")


def _nowhere(target: int) -> int:
    raise AssertionError("an empty histogram has no n-th sample")


def _percentiles(
    ps: Iterable[float], count: int, low: float, high: float, clamped: int, find: Callable[[int], int]
) -> list[float]:
    """Percentiles by HdrHistogram's convention, whatever holds the buckets; every representation comes here.

    ``find(n)`` is the index of the bucket holding the n-th smallest sample (called only for 1 < n < count), so
    dense, sparse and merged-sparse histograms of the same samples give identical answers. A percentile is its
    bucket's top value, kept within ``[low, high]``; the first and the last sample are the exact min and max, as is
    one in the top bucket when values were clamped into it.
    """
    wanted = list(ps)
    for p in wanted:
        if not 0.0 <= p <= 100.0:
            raise ValueError(f"a percentile must be within 0..100, got {p!r}")
    if not count:
        return [0.0] * len(wanted)
    top = _index(_units(high))
    out: list[float] = []
    for p in wanted:
        target = max(int(p * count / 100 + 0.5), 1)
        if target == 1 or target >= count:  # the smallest or the largest sample: known exactly
            out.append(low if target == 1 else high)
            continue
        index = find(target)
        if index == top and clamped:  # in the top bucket, with samples beyond it: the max bounds them
            out.append(high)
            continue
        out.append(min(max(_highest_units(index) / SCALE, low), high))
    return out


class EncodedHistogram(msgspec.Struct, frozen=True):
    """A histogram on the wire or on disk: the standard HDR V2 base64 blob plus the exact fields HDR cannot keep.

    ``sum`` is in value units but exact to the 3-decimal resolution (it is an integer of units divided by 1000;
    decoding multiplies back and rounds, exact while the sum stays below ~2.2e12 value units). ``min``/``max`` are
    0 when ``count`` is 0.
    """

    hdr: str
    count: int
    sum: float
    min: float
    max: float
    clamped: int = 0


BucketIndex = Annotated[int, msgspec.Meta(ge=0, lt=COUNTS_LEN)]
BucketCount = Annotated[int, msgspec.Meta(ge=1)]


class SparseHistogram(msgspec.Struct, frozen=True, gc=False):
    """An interval's histogram on the wire: its non-empty buckets (counts-array index → count) and the exact fields.

    Lossless like :class:`EncodedHistogram` (same buckets, same exact fields; ``sum`` as there), but nothing to
    compress or decompress: a recorder hands its dict over as it is, and merging adds each count at its index.
    Indexes and counts are validated when decoded (msgpack or JSON, where the indexes become string keys).
    """

    buckets: dict[BucketIndex, BucketCount]
    count: int
    sum: float
    min: float
    max: float
    clamped: int = 0


class SpectrumPoint(msgspec.Struct, frozen=True):
    """One row of a percentile spectrum (as HdrHistogram's ``.hgrm`` output): value at or below which ``percentile``."""

    percentile: float
    value: float
    count: int


class Histogram:
    """A mergeable distribution of non-negative floats; see the module docstring for units and accuracy."""

    __slots__ = ("_counts", "_h", "_max", "_min", "_sum", "_view", "clamped", "count")
    __hash__ = None  # type: ignore[assignment]  # mutable, compared by content

    def __init__(self, _hdr: Any = None) -> None:
        self._h: Any = HdrHistogram(LOWEST, HIGHEST, SIGNIFICANT_DIGITS) if _hdr is None else _hdr
        self._counts: Any = self._h.counts
        # The same memory as 64-bit ints: indexing a memoryview costs about half what indexing the ctypes array does.
        self._view = memoryview(self._counts).cast("B").cast("q")
        self.count = 0
        self.clamped = 0
        self._sum = 0  # integer units, unclamped
        self._min = math.inf
        self._max = -math.inf

    def __del__(self) -> None:
        # hdrh's histogram and its encoder point at each other, so a dropped one (with its 184 KiB counts array)
        # waits for a full cyclic GC; the coordinator drops one per trend series per report. Break the cycle.
        hdr = getattr(self, "_h", None)
        if hdr is not None:
            hdr.encoder = None

    # -- recording (the hot path) -------------------------------------------------------------------------------

    def record(self, value: float) -> None:
        """Add one sample; above one hour (in units) it is clamped to the top bucket, negative raises ValueError."""
        scaled = value * 1000.0 + 0.5
        if 0.5 <= scaled < _LIMIT:
            units = int(scaled)
            self._sum += units
        else:
            units = self._out_of_range(value, scaled)
        bucket = (units | 2047).bit_length() - 11
        self._view[(bucket << 10) + (units >> bucket)] += 1
        self.count += 1
        if value < self._min:
            self._min = value
        if value > self._max:
            self._max = value

    def _out_of_range(self, value: float, scaled: float) -> int:
        if not scaled >= 0.5:  # negative, or NaN
            raise ValueError(f"a histogram value must be a non-negative number, got {value!r}")
        if math.isinf(scaled):
            raise ValueError(f"a histogram value must be finite, got {value!r}")
        self._sum += int(scaled)
        self.clamped += 1
        return HIGHEST

    # -- exact statistics ---------------------------------------------------------------------------------------

    @property
    def sum(self) -> float:
        return self._sum / SCALE

    @property
    def min(self) -> float:
        return self._min if self.count else 0.0

    @property
    def max(self) -> float:
        return self._max if self.count else 0.0

    @property
    def mean(self) -> float:
        return self._sum / SCALE / self.count if self.count else 0.0

    # -- percentiles --------------------------------------------------------------------------------------------

    def percentile(self, p: float) -> float:
        """The value at percentile ``p`` (0..100), HDR-accurate (0.1 %), within ``[min, max]``; 0 when empty."""
        return self.percentiles((p,))[0]

    def percentiles(self, ps: Iterable[float]) -> list[float]:
        """Several percentiles in one pass over the counts (in the order asked)."""
        if not self.count:
            return _percentiles(ps, 0, 0.0, 0.0, 0, _nowhere)
        low = _index(_units(self._min))
        cumulative: list[int] = []

        def find(target: int) -> int:
            if not cumulative:
                cumulative.extend(accumulate(self._view[low : _index(_units(self._max)) + 1]))
            return low + min(bisect_left(cumulative, target), len(cumulative) - 1)

        return _percentiles(ps, self.count, self._min, self._max, self.clamped, find)

    def percentile_floor(self, p: float) -> float:
        """The lowest value HDR-equivalent to percentile ``p``: a sample at or above it is "at or above p(N)".

        :meth:`percentile` reports a bucket's top (HdrHistogram's convention), which can sit just above the very
        sample the percentile landed on; exemplar selection compares against this instead.
        """
        if not 0.0 <= p <= 100.0:
            raise ValueError(f"a percentile must be within 0..100, got {p!r}")
        if not self.count:
            return 0.0
        low = _index(_units(self._min))
        cumulative = list(accumulate(self._view[low : _index(_units(self._max)) + 1]))
        target = max(int(p * self.count / 100 + 0.5), 1)
        index = low + min(bisect_left(cumulative, target), len(cumulative) - 1)
        return min(max(_lowest_units(index) / SCALE, self._min), self._max)

    def percentile_spectrum(self, ticks_per_half_distance: int = 5) -> list[SpectrumPoint]:
        """The full percentile distribution, as HdrHistogram prints it (for reports; not for the hot path)."""
        if not self.count:
            return []
        self._sync()
        points: list[SpectrumPoint] = []
        for step in self._h.get_percentile_iterator(ticks_per_half_distance):
            value = min(max(step.value_iterated_to / SCALE, self._min), self._max)
            points.append(SpectrumPoint(step.percentile_level_iterated_to, value, step.total_count_to_this_value))
        return points

    def nonzero_buckets(self) -> list[tuple[int, int]]:
        """``(bucket index, count)`` of every non-empty bucket, ascending: what makes two histograms equal."""
        if not self.count:
            return []
        low = _index(_units(self._min))
        counts = self._view[low : _index(_units(self._max)) + 1]
        return [(low + offset, n) for offset, n in enumerate(counts) if n]

    # -- merging, copying, resetting ----------------------------------------------------------------------------

    def merge(self, other: Histogram) -> None:
        """Add ``other``'s samples (bucket by bucket, exact fields exactly): the result is as if recorded here."""
        if not other.count:
            return
        self._sync()
        other._sync()
        self._h.add(other._h)
        self.count += other.count
        self.clamped += other.clamped
        self._sum += other._sum
        self._min = min(self._min, other._min)
        self._max = max(self._max, other._max)

    def add_sparse(self, sparse: SparseHistogram | RankedBuckets) -> None:
        """Add an interval's samples (each bucket count at its index, exact fields exactly), as :meth:`merge` would.

        Costs one indexed add per non-empty bucket (in index order for :class:`RankedBuckets`). Raises ValueError
        for buckets outside the counts array or that do not hold ``count`` samples.
        """
        if isinstance(sparse, RankedBuckets):
            pairs: Iterable[tuple[int, int]] = zip(sparse.indexes, sparse.counts, strict=True)
            units = sparse.sum_units
        else:
            _check_buckets(sparse.buckets.keys(), sum(sparse.buckets.values()), sparse.count)
            pairs = sparse.buckets.items()
            units = round(sparse.sum * SCALE)
        if not sparse.count:
            return
        view = self._view
        for index, n in pairs:
            view[index] += n
        self.count += sparse.count
        self.clamped += sparse.clamped
        self._sum += units
        self._min = min(self._min, sparse.min)
        self._max = max(self._max, sparse.max)

    @classmethod
    def from_sparse(cls, sparse: SparseHistogram) -> Histogram:
        hist = cls()
        hist.add_sparse(sparse)
        return hist

    def to_sparse(self) -> SparseHistogram:
        """The non-empty buckets and exact fields (what a recorder ships; mostly for tools and tests)."""
        return SparseHistogram(dict(self.nonzero_buckets()), self.count, self.sum, self.min, self.max, self.clamped)

    def copy(self) -> Histogram:
        clone = Histogram()
        clone.merge(self)
        return clone

    def reset(self) -> None:
        """Empty it, keeping its counts array (``hdrh``'s own reset loops in Python over all 23,552 buckets)."""
        if self.count:
            ctypes.memset(ctypes.addressof(self._counts), 0, ctypes.sizeof(self._counts))
        self.count = 0
        self.clamped = 0
        self._sum = 0
        self._min = math.inf
        self._max = -math.inf
        self._sync()

    def _sync(self) -> None:
        """Bring ``hdrh``'s own bookkeeping (which ``encode`` and ``add`` read) in line with ours."""
        h = self._h
        h.total_count = self.count
        if self.count:
            h.min_value = _units(self._min)
            h.max_value = _units(self._max)
        else:
            h.min_value = sys.maxsize
            h.max_value = 0

    # -- encoding -----------------------------------------------------------------------------------------------

    def encode(self) -> str:
        """The standard HdrHistogram V2 compressed, base64 form (readable by the Java/C/Go/Rust HdrHistogram)."""
        self._sync()
        blob: bytes = self._h.encode()
        return blob.decode("ascii")

    def to_struct(self) -> EncodedHistogram:
        return EncodedHistogram(self.encode(), self.count, self.sum, self.min, self.max, self.clamped)

    @classmethod
    def decode(cls, encoded: EncodedHistogram | str) -> Histogram:
        """Rebuild from :class:`EncodedHistogram` (exact) or a bare HDR blob from another tool.

        A bare blob has no exact fields: count comes from the buckets, min/max are the bucket bounds and the sum uses
        each bucket's midpoint, as HdrHistogram's own mean does. A blob with other range settings is re-bucketed.
        Raises ValueError for a blob that does not decode or disagrees with its exact fields.
        """
        blob = encoded if isinstance(encoded, str) else encoded.hdr
        try:
            decoded: Any = HdrHistogram.decode(blob)
        except Exception as exc:  # hdrh raises TypeError, zlib.error and its own cookie/length errors
            raise ValueError(f"not an HdrHistogram V2 base64 blob: {exc}") from exc
        if (decoded.lowest_trackable_value, decoded.highest_trackable_value, decoded.significant_figures) == (
            LOWEST,
            HIGHEST,
            SIGNIFICANT_DIGITS,
        ):
            hist = cls(decoded)
        else:
            hist = cls()
            hist._h.add(decoded)
            decoded.encoder = None  # see __del__
        total = int(hist._h.total_count)
        if isinstance(encoded, EncodedHistogram):
            if total != encoded.count:
                raise ValueError(f"histogram blob holds {total} samples but its count says {encoded.count}")
            hist.count = encoded.count
            hist.clamped = encoded.clamped
            hist._sum = round(encoded.sum * SCALE)
            if encoded.count:
                hist._min = encoded.min
                hist._max = encoded.max
        elif total:
            hist._approximate_exact_fields(total)
        hist._sync()
        return hist

    def _approximate_exact_fields(self, total: int) -> None:
        view = self._view
        low = next(i for i in range(len(view)) if view[i])
        high = _index(min(int(self._h.max_value), HIGHEST))
        units = 0
        for index in range(low, high + 1):
            n = view[index]
            if n:
                units += n * ((_lowest_units(index) + _highest_units(index)) // 2)
        self.count = total
        self._sum = units
        self._min = _lowest_units(low) / SCALE
        self._max = _highest_units(high) / SCALE

    # -- comparison ---------------------------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        """Equal when every bucket and every exact field is equal."""
        if not isinstance(other, Histogram):
            return NotImplemented
        return (
            (self.count, self._sum, self.min, self.max, self.clamped)
            == (other.count, other._sum, other.min, other.max, other.clamped)
        ) and self.nonzero_buckets() == other.nonzero_buckets()

    def __repr__(self) -> str:
        return f"Histogram(count={self.count}, min={self.min}, max={self.max}, mean={self.mean:.3f})"


class RankedBuckets:
    """A sparse histogram with its bucket indexes sorted and running sample counts, for percentiles and merging.

    Percentiles bisect the running counts; :func:`merged_percentiles` answers for several without merging them, and
    :meth:`Histogram.add_sparse` adds them in index order. Ranking costs one sort of the non-empty buckets; it refuses
    (ValueError) buckets outside the counts array or that do not hold ``count`` samples.
    """

    __slots__ = ("clamped", "count", "counts", "indexes", "max", "min", "running", "sum_units")

    def __init__(self, sparse: SparseHistogram) -> None:
        buckets = sparse.buckets
        self.indexes = sorted(buckets)
        self.counts: Sequence[int] = (
            itemgetter(*self.indexes)(buckets) if len(buckets) > 1 else [buckets[i] for i in self.indexes]
        )
        self.running = list(accumulate(self.counts, initial=0))  # [i]: samples in the i lowest non-empty buckets
        self.count = self.running[-1]
        _check_buckets(self.indexes[:1] + self.indexes[-1:], self.count, sparse.count)
        self.min = sparse.min if self.count else 0.0
        self.max = sparse.max if self.count else 0.0
        self.clamped = sparse.clamped
        self.sum_units = round(sparse.sum * SCALE)

    @property
    def mean(self) -> float:
        return self.sum_units / SCALE / self.count if self.count else 0.0

    def percentiles(self, ps: Iterable[float]) -> list[float]:
        """As :meth:`Histogram.percentiles` of the same samples, exactly."""
        return _percentiles(ps, self.count, self.min, self.max, self.clamped, self.nth)

    def nth(self, n: int) -> int:
        """The index of the bucket holding the n-th smallest sample (1 ≤ n ≤ count)."""
        return self.indexes[bisect_left(self.running, n) - 1]


def merged_percentiles(parts: Iterable[RankedBuckets], ps: Iterable[float]) -> list[float]:
    """Percentiles of the union of ``parts``, exactly as :meth:`Histogram.percentiles` of all their samples.

    Nothing is merged: the bucket of the n-th sample is found by bisecting bucket indexes, counting each part's
    samples at or below a probe with one bisection per part. The probe range is first narrowed to between the parts'
    own buckets at the same fraction (the n-th of the union lies among them), so a percentile costs
    O(parts × log(spread of the parts' answers)).
    """
    present = [part for part in parts if part.count]
    if not present:
        return _percentiles(ps, 0, 0.0, 0.0, 0, _nowhere)
    count = sum(part.count for part in present)
    low = min(part.min for part in present)
    high = max(part.max for part in present)
    clamped = sum(part.clamped for part in present)
    if len(present) == 1:
        return _percentiles(ps, count, low, high, clamped, present[0].nth)
    indexes = [part.indexes for part in present]
    runnings = [part.running for part in present]

    def find(target: int) -> int:
        # The union's target-th sample lies between the parts' ceil(target * n_s / count)-th (n_s: a part's samples):
        # at the highest of those every part has its share, so at least target in all; below the lowest each part
        # has fewer than its share, at most target - 1 in all.
        own = [part.nth(-(-target * part.count // count)) for part in present]
        lo, hi = min(own), max(own)
        while lo < hi:
            mid = (lo + hi) // 2
            if sum(map(getitem, runnings, map(bisect_right, indexes, repeat(mid)))) >= target:
                hi = mid
            else:
                lo = mid + 1
        return lo

    return _percentiles(ps, count, low, high, clamped, find)
