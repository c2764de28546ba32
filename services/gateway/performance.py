"""``GET /performance``: a live summary of the last minute, per tool; ``POST /performance/reset`` clears it.

The window is time-based (the original kept the last N samples, so "the last minute" meant whatever N covered):
calls land in one-second slots, and a slot older than the window is dropped whole, so recording is O(1) and a
summary merges at most ``window_s`` slots. Latencies go into log-spaced buckets (about 4 % wide, 10 µs to 100 s),
so percentiles are exact to a bucket's width without keeping samples.

Grade: every target is a ratio ``observed / target`` (latency p95 per cache outcome, overall p95, error rate, and
memory and CPU); the worst ratio decides: ≤ 0.5 → A, ≤ 0.75 → B, ≤ 1 → C (met, little margin), ≤ 1.5 → D, else F.
Targets are the seed's: cached calls p95 < 200 ms, uncached < 500 ms, overall p95 < 1 s, errors < 2 %, memory <
2 GiB, CPU < 80 %. No calls in the window → no grade.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ("TARGETS", "PerformanceWindow", "Summary", "grade")

_BASE = 1.04
_LOW_S = 1e-5
_BUCKETS = int(math.log(1e7) / math.log(_BASE)) + 2

TARGETS = {
    "cached_p95_ms": 200.0,
    "uncached_p95_ms": 500.0,
    "overall_p95_ms": 1000.0,
    "error_rate": 0.02,
    "memory_mb": 2048.0,
    "cpu_percent": 80.0,
}


def _bucket(seconds: float) -> int:
    if seconds <= _LOW_S:
        return 0
    return min(_BUCKETS - 1, int(math.log(seconds / _LOW_S) / math.log(_BASE)) + 1)


def _upper_ms(index: int) -> float:
    return _LOW_S * _BASE**index * 1000


@dataclass
class _Tally:
    count: int = 0
    errors: int = 0
    buckets: dict[int, int] = field(default_factory=dict)

    def add(self, seconds: float, ok: bool) -> None:
        self.count += 1
        if not ok:
            self.errors += 1
        index = _bucket(seconds)
        self.buckets[index] = self.buckets.get(index, 0) + 1

    def merge(self, other: _Tally) -> None:
        self.count += other.count
        self.errors += other.errors
        for index, n in other.buckets.items():
            self.buckets[index] = self.buckets.get(index, 0) + n

    def percentile_ms(self, p: float) -> float | None:
        if self.count == 0:
            return None
        rank = max(1, math.ceil(p / 100 * self.count))
        seen = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= rank:
                return round(_upper_ms(index), 3)
        return None  # pragma: no cover - rank never exceeds count


@dataclass
class _Slot:
    second: int
    tallies: dict[str, _Tally] = field(default_factory=dict)
    tiers: dict[str, int] = field(default_factory=dict)


class ToolSummary(msgspec.Struct, kw_only=True):
    count: int
    error_rate: float
    requests_per_second: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


class Summary(msgspec.Struct, kw_only=True):
    window_s: int
    tools: dict[str, ToolSummary]
    overall: ToolSummary
    cache_hit_rate: dict[str, float]
    """Share of cacheable calls answered by each tier (``l1``, ``l2``) and computed (``miss``)."""
    cached_p95_ms: float | None
    uncached_p95_ms: float | None
    memory_mb: float
    cpu_percent: float
    grade: str | None
    grade_ratios: dict[str, float]
    rule: str = "worst observed/target ratio: <=0.5 A, <=0.75 B, <=1 C, <=1.5 D, else F"


class PerformanceWindow:
    def __init__(self, window_s: int = 60, clock: Callable[[], float] = time.monotonic) -> None:
        self._window_s = window_s
        self._clock = clock
        self._slots: deque[_Slot] = deque()

    def _slot(self) -> _Slot:
        second = int(self._clock())
        if not self._slots or self._slots[-1].second != second:
            self._slots.append(_Slot(second))
        self._expire(second)
        return self._slots[-1]

    def _expire(self, now: int) -> None:
        while self._slots and self._slots[0].second <= now - self._window_s:
            self._slots.popleft()

    def record(self, tool: str, seconds: float, ok: bool, cache: str | None) -> None:
        slot = self._slot()
        tally = slot.tallies.get(tool)
        if tally is None:
            tally = slot.tallies[tool] = _Tally()
        tally.add(seconds, ok)
        if cache is not None:
            slot.tiers[cache] = slot.tiers.get(cache, 0) + 1
            key = "_cached" if cache in ("l1", "l2") else "_uncached"
            extra = slot.tallies.get(key)
            if extra is None:
                extra = slot.tallies[key] = _Tally()
            extra.add(seconds, ok)

    def reset(self) -> None:
        self._slots.clear()

    def summary(self, memory_mb: float, cpu_percent: float) -> Summary:
        self._expire(int(self._clock()))
        merged: dict[str, _Tally] = {}
        tiers: dict[str, int] = {}
        for slot in self._slots:
            for tool, tally in slot.tallies.items():
                merged.setdefault(tool, _Tally()).merge(tally)
            for tier, n in slot.tiers.items():
                tiers[tier] = tiers.get(tier, 0) + n
        span_s = max(1, min(self._window_s, len(self._slots) and int(self._clock()) - self._slots[0].second + 1))
        cached = merged.pop("_cached", _Tally())
        uncached = merged.pop("_uncached", _Tally())
        overall = _Tally()
        for tally in merged.values():
            overall.merge(tally)
        total_tiers = sum(tiers.values())
        summary = Summary(
            window_s=self._window_s,
            tools={tool: _tool_summary(t, span_s) for tool, t in sorted(merged.items())},
            overall=_tool_summary(overall, span_s),
            cache_hit_rate={t: round(n / total_tiers, 4) for t, n in sorted(tiers.items())} if total_tiers else {},
            cached_p95_ms=cached.percentile_ms(95),
            uncached_p95_ms=uncached.percentile_ms(95),
            memory_mb=round(memory_mb, 1),
            cpu_percent=round(cpu_percent, 1),
            grade=None,
            grade_ratios={},
        )
        summary.grade, summary.grade_ratios = grade(summary)
        return summary


def _tool_summary(tally: _Tally, span_s: int) -> ToolSummary:
    return ToolSummary(
        count=tally.count,
        error_rate=round(tally.errors / tally.count, 4) if tally.count else 0.0,
        requests_per_second=round(tally.count / span_s, 2),
        p50_ms=tally.percentile_ms(50),
        p95_ms=tally.percentile_ms(95),
        p99_ms=tally.percentile_ms(99),
    )


def grade(summary: Summary) -> tuple[str | None, dict[str, float]]:
    """The grade and the ratio behind it for every target that has data (rule in the module docstring)."""
    if summary.overall.count == 0:
        return None, {}
    observed = {
        "cached_p95_ms": summary.cached_p95_ms,
        "uncached_p95_ms": summary.uncached_p95_ms,
        "overall_p95_ms": summary.overall.p95_ms,
        "error_rate": summary.overall.error_rate,
        "memory_mb": summary.memory_mb,
        "cpu_percent": summary.cpu_percent,
    }
    ratios = {name: round(value / TARGETS[name], 3) for name, value in observed.items() if value is not None}
    worst = max(ratios.values())
    for letter, bound in (("A", 0.5), ("B", 0.75), ("C", 1.0), ("D", 1.5)):
        if worst <= bound:
            return letter, ratios
    return "F", ratios
