"""What the validator asks of a telemetry source, and the histogram shape every source answers with.

A source holds one run's spans and/or the services' metrics: the embedded store, OTLP JSON-lines files, Jaeger or
Prometheus. Each answers the same questions in the same shapes (``SpanRecord``, ``BucketHistogram``), so the
targets are checked once whatever the source; a source that cannot answer one kind of question (Jaeger has no
metrics, Prometheus no spans) raises ``SourceUnsupported`` rather than answering nothing.

Metrics are named and grouped by their OpenTelemetry names (``http.server.request.duration``,
``gen_ai.tool.name``, ``service.name``); a source that stores them under other names (Prometheus) translates.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from typing import TYPE_CHECKING, Protocol, Self, runtime_checkable

import msgspec

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from loadtests.validate.spans import SpanRecord

__all__ = (
    "BucketHistogram",
    "CompositeSource",
    "GaugeSamples",
    "GroupKey",
    "QuantileEstimate",
    "Source",
    "SourceError",
    "SourceUnsupported",
)

GroupKey = tuple[str, ...]
"""The values of the ``by`` attributes, in ``by``'s order (``""`` where a series lacks one)."""
GaugeSamples = list[tuple[int, float]]
"""``(time_ns, value)`` samples, ordered by time."""


class SourceError(Exception):
    """A source cannot be opened or cannot answer: the message says which source and why."""


class SourceUnsupported(SourceError):
    """The source does not hold this kind of data (spans from Prometheus, metrics from Jaeger)."""


class QuantileEstimate(msgspec.Struct, frozen=True):
    """A quantile read from bucket counts, as Prometheus' ``histogram_quantile`` reads it."""

    value: float
    """Linear interpolation inside the bucket holding the rank; NaN for an empty histogram."""
    lower: float
    """The bucket's lower bound (0 for the first bucket): the true quantile is in ``(lower, upper]``."""
    upper: float
    """The bucket's upper bound; ``inf`` when ``overflow``."""
    overflow: bool
    """The rank fell in the ``+Inf`` bucket: ``value`` is then only the highest finite bound, a lower limit."""


class BucketHistogram(msgspec.Struct, kw_only=True):
    """An explicit-bucket histogram's observations over a window (an increase, not a cumulative total).

    ``counts`` are per bucket, not cumulative, one more than ``bounds``: bucket ``i`` holds the values in
    ``(bounds[i-1], bounds[i]]`` (upper bound inclusive, as OpenTelemetry and Prometheus' ``le`` both count), the
    last one those above ``bounds[-1]``.
    """

    bounds: list[float]
    counts: list[int]
    count: int
    sum: float

    def __post_init__(self) -> None:
        if len(self.counts) != len(self.bounds) + 1:
            raise ValueError(f"{len(self.counts)} bucket counts for {len(self.bounds)} bounds (want bounds + 1)")

    @classmethod
    def empty(cls, bounds: Sequence[float]) -> Self:
        return cls(bounds=list(bounds), counts=[0] * (len(bounds) + 1), count=0, sum=0.0)

    def add(self, other: BucketHistogram) -> None:
        """Add ``other``'s observations into this one (both must have the same bounds)."""
        if other.bounds != self.bounds:
            raise ValueError(f"cannot add histograms with different bounds: {self.bounds} and {other.bounds}")
        self.counts = [mine + theirs for mine, theirs in zip(self.counts, other.counts, strict=True)]
        self.count += other.count
        self.sum += other.sum

    @property
    def mean(self) -> float:
        return self.sum / self.count if self.count else math.nan

    def quantile(self, q: float) -> QuantileEstimate:
        """The ``q``-quantile (0 ≤ q ≤ 1), interpolated linearly inside its bucket like ``histogram_quantile``.

        The first bucket is taken to start at 0 (durations, sizes); when the rank falls in the ``+Inf`` bucket the
        answer is the highest finite bound with ``overflow`` set, as Prometheus does (it cannot know more).
        """
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile {q} is not in [0, 1]")
        total = sum(self.counts)
        if total == 0:
            return QuantileEstimate(math.nan, math.nan, math.nan, overflow=False)
        rank = q * total
        below = 0
        index, in_bucket = len(self.counts) - 1, self.counts[-1]
        for position, found in enumerate(self.counts):
            # the first bucket whose cumulative count reaches the rank, skipping empty ones (q == 0: the first
            # bucket that holds anything)
            if found and below + found >= rank:
                index, in_bucket = position, found
                break
            below += found
        if index == len(self.bounds):
            highest = self.bounds[-1] if self.bounds else math.nan
            return QuantileEstimate(highest, highest, math.inf, overflow=True)
        upper = self.bounds[index]
        lower = self.bounds[index - 1] if index > 0 else min(0.0, upper)
        value = lower + (upper - lower) * (rank - below) / in_bucket
        return QuantileEstimate(value, lower, upper, overflow=False)

    def share_below(self, bound: float) -> float:
        """The fraction of observations ≤ ``bound``: exact when ``bound`` is a bucket bound, else interpolated.

        NaN for an empty histogram. Above the highest finite bound, the ``+Inf`` bucket is counted as above.
        """
        total = sum(self.counts)
        if total == 0:
            return math.nan
        index = bisect_left(self.bounds, bound)
        below: float = sum(self.counts[:index])
        if index < len(self.bounds) and self.bounds[index] != bound:
            upper = self.bounds[index]
            lower = self.bounds[index - 1] if index > 0 else min(0.0, upper)
            if bound > lower:
                below += self.counts[index] * (bound - lower) / (upper - lower)
        elif index < len(self.bounds):
            below += self.counts[index]
        return below / total


@runtime_checkable
class Source(Protocol):
    """One run's telemetry. Times are Unix nanoseconds.

    Span windows are ``[start, end)`` (by span start); metric windows ``(start, end]`` (by point time), as a
    Prometheus range selector evaluated at ``end``: a point stamped exactly at ``start`` is the baseline.
    """

    name: str
    """The source as the user named it (``store:/path``, ``prometheus:http://...``), for reports."""

    def spans_of_run(self, run_id: str) -> list[SpanRecord]:
        """Every span of every trace of the run: a trace belongs to it when any of its spans carries the run id."""
        ...

    def spans_in_window(self, start_ns: int, end_ns: int) -> list[SpanRecord]:
        """The spans that started in ``[start_ns, end_ns)`` (traces are cut at the edges)."""
        ...

    def histogram(
        self,
        metric: str,
        *,
        by: Sequence[str],
        start_ns: int,
        end_ns: int,
        where: Mapping[str, str] | None = None,
    ) -> dict[GroupKey, BucketHistogram]:
        """The observations an explicit-bucket histogram gained over the window, per group of ``by`` values."""
        ...

    def counter(
        self,
        metric: str,
        *,
        by: Sequence[str],
        start_ns: int,
        end_ns: int,
        where: Mapping[str, str] | None = None,
    ) -> dict[GroupKey, float]:
        """The increase of a (monotonic) sum over the window, per group."""
        ...

    def gauge(
        self,
        metric: str,
        *,
        by: Sequence[str],
        start_ns: int,
        end_ns: int,
        where: Mapping[str, str] | None = None,
    ) -> dict[GroupKey, GaugeSamples]:
        """The samples in the window of a gauge (or of a sum read as a level, e.g. memory), per group."""
        ...

    def queries(self) -> list[str]:
        """Every query issued so far, verbatim (SQL, URLs, PromQL), as evidence for the report."""
        ...

    def close(self) -> None:
        """Release connections; the source answers nothing afterwards."""
        ...


class CompositeSource:
    """Spans from one source, metrics from another (Jaeger with Prometheus, typically)."""

    def __init__(self, *, spans: Source, metrics: Source) -> None:
        self.spans = spans
        self.metrics = metrics
        self.name = spans.name if spans is metrics else f"{spans.name} + {metrics.name}"

    def spans_of_run(self, run_id: str) -> list[SpanRecord]:
        return self.spans.spans_of_run(run_id)

    def spans_in_window(self, start_ns: int, end_ns: int) -> list[SpanRecord]:
        return self.spans.spans_in_window(start_ns, end_ns)

    def histogram(
        self, metric: str, *, by: Sequence[str], start_ns: int, end_ns: int, where: Mapping[str, str] | None = None
    ) -> dict[GroupKey, BucketHistogram]:
        return self.metrics.histogram(metric, by=by, start_ns=start_ns, end_ns=end_ns, where=where or {})

    def counter(
        self, metric: str, *, by: Sequence[str], start_ns: int, end_ns: int, where: Mapping[str, str] | None = None
    ) -> dict[GroupKey, float]:
        return self.metrics.counter(metric, by=by, start_ns=start_ns, end_ns=end_ns, where=where or {})

    def gauge(
        self, metric: str, *, by: Sequence[str], start_ns: int, end_ns: int, where: Mapping[str, str] | None = None
    ) -> dict[GroupKey, GaugeSamples]:
        return self.metrics.gauge(metric, by=by, start_ns=start_ns, end_ns=end_ns, where=where or {})

    def queries(self) -> list[str]:
        if self.spans is self.metrics:
            return self.spans.queries()
        return [*self.spans.queries(), *self.metrics.queries()]

    def close(self) -> None:
        self.spans.close()
        if self.metrics is not self.spans:
            self.metrics.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
