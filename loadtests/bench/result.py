"""``bench.json``: what one benchmark run found, as versioned msgspec Structs.

Durations are milliseconds, memory is MiB (2**20 bytes), CPU is a fraction of one core, rates are fractions
(0.02, not 2 %), throughput is requests per second. A reader checks ``schema`` before trusting any number; a field
added later gets a default, a meaning that changes gets a new schema version.

Cache classes (``cache`` keys) are the *intended* outcome, set by how the arguments were chosen — the client cannot
see the server's cache: ``cold`` (the first call of a tool on a fresh stack, with a never-seen key), ``miss`` (a
never-seen key after warm-up), ``hit`` (a key called before), ``none`` (a tool that does not go through the cache).
The cache phase checks the intent against the retrieval service's own cache counters where it can read them.
"""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = (
    "SCHEMA",
    "BenchResult",
    "CacheImprovement",
    "CapacityResult",
    "CapacityStep",
    "LatencyStats",
    "MemoryResult",
    "PhaseResult",
    "ResourceSample",
    "ServiceMemory",
    "TimelinePoint",
    "ToolPhaseStats",
)

SCHEMA = "pp-bench/v1"

CacheClass = Literal["cold", "miss", "hit", "none"]
LeakVerdict = Literal["ok", "suspect", "leak", "insufficient", "unavailable"]
LimitedBy = Literal["server", "generator", "max_rate", "max_steps", "interrupted", "none"]


class LatencyStats(msgspec.Struct, kw_only=True):
    """Latency of the successful calls of one selection; ``count`` and ``errors`` count every call."""

    count: int
    errors: int
    mean_ms: float | None
    p50_ms: float | None
    p90_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None


class ToolPhaseStats(msgspec.Struct, kw_only=True):
    """One tool in one phase: all its calls, then split by cache class."""

    tool: str
    vus: int
    duration_s: float
    """How long the tool was driven (closed phases with fixed iterations: the time they took)."""
    throughput_rps: float
    error_rate: float
    latency: LatencyStats
    by_cache: dict[str, LatencyStats] = {}
    errors_by_code: dict[str, int] = {}


class PhaseResult(msgspec.Struct, kw_only=True):
    name: str
    """``warmup``, ``baseline``, ``load``, ``cache``, ``stress``, ``memory`` (capacity has its own struct)."""
    model: str
    """How load was applied, in words (``closed: 16 VUs back to back per tool, 15 s each``)."""
    started_unix: float
    ended_unix: float
    tools: list[ToolPhaseStats]
    excluded: bool = False
    """Warm-up: run for its side effects, its figures kept only for reference."""
    generator_ok: bool = True
    generator_notes: list[str] = []
    notes: list[str] = []


class CacheImprovement(msgspec.Struct, kw_only=True):
    """Miss against hit for one cached tool, from interleaved pairs (a new key, then repeats of that same key)."""

    tool: str
    miss: LatencyStats
    hit: LatencyStats
    p50_saving_ms: float | None
    p50_ratio: float | None
    """miss p50 / hit p50: how many times faster a hit is."""
    p95_saving_ms: float | None
    p95_ratio: float | None
    intended_hit_ratio: float
    server: dict[str, float] = {}
    """The retrieval service's cache counters over the phase: ``l1_hit``, ``l1_miss``, ``l2_hit``, ``l2_miss``."""
    server_hit_ratio: float | None = None
    """(l1_hit + l2_hit) / lookups as the service counted them; None without the retrieval metrics."""


class ResourceSample(msgspec.Struct, array_like=True):
    t_s: float
    """Seconds since the benchmark started."""
    rss_mib: float
    cpu: float | None
    """CPU time per wall-clock second since the service's previous reading, as a fraction of one core."""


class ServiceMemory(msgspec.Struct, kw_only=True):
    service: str
    metrics_url: str
    samples: int
    rss_start_mib: float | None
    rss_end_mib: float | None
    rss_peak_mib: float | None
    cpu_mean: float | None
    cpu_peak: float | None
    slope_mib_per_min: float | None
    """Least-squares slope of RSS over the analysed window (after the settling share of the phase)."""
    slope_stderr: float | None
    window_s: float
    needed_window_s: float | None
    """How long a window the observed noise needs before 2 standard errors of the slope fit under the threshold."""
    growth_kib_per_1k_requests: float | None
    verdict: LeakVerdict
    detail: str
    bench_peak_rss_mib: float | None = None
    """The highest RSS seen over the whole benchmark, not only this phase."""


class MemoryResult(msgspec.Struct, kw_only=True):
    threshold_mib_per_min: float
    min_window_s: float
    settle_fraction: float
    interval_s: float
    services: list[ServiceMemory]
    verdict: LeakVerdict
    """The worst service's verdict (leak > suspect > insufficient > unavailable > ok)."""


class CapacityStep(msgspec.Struct, kw_only=True):
    """One step of the capacity search, in the order it ran."""

    kind: Literal["geometric", "descend", "bisect"]
    offered_rps: float
    achieved_rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    """Of ``http_req_duration_corrected``: from each call's intended start, so queueing is charged."""
    p99_uncorrected_ms: float | None
    error_rate: float
    requests: int
    dropped: int
    generator_ok: bool
    ok: bool
    reasons: list[str] = []
    """Why the step is broken (empty when ``ok``)."""
    generator_notes: list[str] = []


class CapacityResult(msgspec.Struct, kw_only=True):
    target_p99_ms: float
    min_achieved_ratio: float
    max_error_rate: float
    step_duration_s: float
    knee_rps: float | None
    """The highest offered rate that held every criterion; None when even the lowest tried broke."""
    first_bad_rps: float | None
    limited_by: LimitedBy
    steps: list[CapacityStep]
    note: str = ""

    @property
    def curve(self) -> list[CapacityStep]:
        """The steps by offered rate: the latency–throughput curve."""
        return sorted(self.steps, key=lambda s: s.offered_rps)


class TimelinePoint(msgspec.Struct, array_like=True):
    t_s: float
    """Seconds since the benchmark started (the end of a one-second bucket)."""
    phase: str
    rps: float
    errors: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


class BenchResult(msgspec.Struct, kw_only=True):
    schema: str = SCHEMA
    bench_id: str
    started_unix: float
    ended_unix: float
    target: str
    embedded: bool
    """True when the benchmark started its own stack (then ``cold`` means a fresh process)."""
    workers: int
    cores: int
    options: dict[str, object]
    phases: list[PhaseResult]
    cache: list[CacheImprovement] = []
    memory: MemoryResult | None = None
    capacity: CapacityResult | None = None
    timeline: list[TimelinePoint] = []
    notes: list[str] = []
    aborted: str | None = None
    """Why the benchmark stopped early (``interrupted``, an error), or None when every phase ran."""
    failure_code: int | None = None
    """The engine's exit code when an error (not Ctrl-C) stopped it: 107 a run failed, 104 bad options."""
    report_dir: str = ""

    def phase(self, name: str) -> PhaseResult | None:
        return next((p for p in self.phases if p.name == name), None)
