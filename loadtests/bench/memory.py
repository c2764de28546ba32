"""The services' memory and CPU, read from their own ``GET /metrics``, and the leak check on the RSS slope.

**What is read.** Each service exports (``otel.metrics.ProcessMetrics``) ``process_memory_usage_bytes`` (RSS) and
``process_cpu_utilization`` (CPU seconds per wall-clock second since the previous reading by *any* reader — the OTLP
push resets it too — as a fraction of one core). A sampler thread scrapes both services every ``interval`` for the
whole benchmark; the memory phase's samples are judged, the others give the peak. The original measured the
benchmark client's own process instead.

**The slope.** Least squares of RSS (MiB) against time (minutes) over the phase, after dropping its first
``settle_fraction`` (a fresh load level moves the allocator — arenas, free lists, buffers — before it settles), with
the slope's standard error from the residuals.

**How long is long enough.** RSS does not drift smoothly: CPython and glibc grow it in steps of about 1–4 MiB
(arenas, heap extensions) and give memory back rarely. A slope over a window in which a leak at the threshold rate
cannot outgrow one such step measures those steps, not a leak: with the default 2 MiB/min threshold that takes
about two minutes, hence ``min_window_s`` (120 s of analysed window; the default phase is 180 s, of which the first
20 % settles). A shorter window gets the verdict ``insufficient`` whatever its slope. The result also says how long
a window the *observed* noise would need (``needed_window_s``: where two standard errors of the slope, for
independent samples at this interval, equal the threshold) — a lower bound, since step noise is not independent.

**Verdict.** ``leak``: slope − 2·SE above the threshold (growth beyond noise); ``suspect``: the slope is above the
threshold but within two standard errors of it; ``ok``: below; ``insufficient``: window too short or too few
samples; ``unavailable``: no metrics could be read. With a bounded key set (the default, ``memory_hit_ratio`` 1.0)
the services have no legitimate reason to grow; new keys fill the L1 cache up to its bound (10,000 entries /
64 MiB by default), which is growth that looks like a leak until the bound is reached.
"""

from __future__ import annotations

import math
import re
import threading
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Final

import msgspec

from loadtests.bench.result import ResourceSample, ServiceMemory

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from loadtests.bench.result import LeakVerdict

__all__ = (
    "CPU_METRIC",
    "MEMORY_METRIC",
    "MetricsSampler",
    "SlopeFit",
    "cache_counters",
    "fit_slope",
    "judge_memory",
    "parse_prometheus",
    "scrape",
    "worst_verdict",
)

MEMORY_METRIC: Final = "process_memory_usage_bytes"
CPU_METRIC: Final = "process_cpu_utilization"
CACHE_METRIC: Final = "pp_cache_requests_total"
MIB: Final = 1024.0 * 1024.0
_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Every sample line of a Prometheus text exposition: (name, labels, value); comments and junk skipped."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            continue
        try:
            value = float(match.group(3))
        except ValueError:
            continue
        labels = dict(_LABEL.findall(match.group(2) or ""))
        samples.append((match.group(1), labels, value))
    return samples


def scrape(base_url: str, timeout: float = 2.0) -> list[tuple[str, dict[str, str], float]] | None:
    """The service's ``/metrics``, parsed; None when it cannot be read."""
    try:
        with urllib.request.urlopen(f"{base_url.rstrip('/')}/metrics", timeout=timeout) as response:
            return parse_prometheus(response.read().decode("utf-8", errors="replace"))
    except (OSError, urllib.error.URLError, ValueError):
        return None


def _first(samples: Sequence[tuple[str, dict[str, str], float]], name: str) -> float | None:
    return next((value for metric, _, value in samples if metric == name), None)


def cache_counters(samples: Sequence[tuple[str, dict[str, str], float]]) -> dict[str, dict[str, float]]:
    """Retrieval's cache requests by content type: ``{"runbooks": {"l1_hit": n, "l1_miss": n, ...}}``."""
    counters: dict[str, dict[str, float]] = {}
    for metric, labels, value in samples:
        if metric != CACHE_METRIC:
            continue
        content = labels.get("pp_cache_content_type", "")
        key = f"{labels.get('cache_tier', '')}_{labels.get('pp_cache_result', '')}"
        bucket = counters.setdefault(content, {})
        bucket[key] = bucket.get(key, 0.0) + value
    return counters


class _Point(msgspec.Struct, array_like=True):
    unix: float
    rss_mib: float
    cpu: float | None


class MetricsSampler:
    """Scrapes each service's ``/metrics`` every ``interval`` seconds on a daemon thread, until :meth:`stop`."""

    def __init__(self, services: Mapping[str, str], interval: float) -> None:
        self.services = dict(services)
        self.interval = interval
        self.points: dict[str, list[_Point]] = {name: [] for name in services}
        self.failures: dict[str, int] = dict.fromkeys(services, 0)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="bench-metrics", daemon=True)

    def start(self) -> None:
        if self.services:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5.0)

    def sample_now(self) -> None:
        for name, url in self.services.items():
            samples = scrape(url)
            rss = _first(samples, MEMORY_METRIC) if samples is not None else None
            with self._lock:
                if rss is None:
                    self.failures[name] += 1
                    continue
                cpu = _first(samples or [], CPU_METRIC)
                self.points[name].append(_Point(time.time(), rss / MIB, cpu))

    def _loop(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.sample_now()
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def window(self, name: str, start_unix: float, end_unix: float, origin_unix: float) -> list[ResourceSample]:
        """The samples of one service taken within [start, end], timed from ``origin_unix``."""
        with self._lock:
            points = list(self.points.get(name, []))
        return [
            ResourceSample(p.unix - origin_unix, p.rss_mib, p.cpu) for p in points if start_unix <= p.unix <= end_unix
        ]

    def peak(self, name: str) -> float | None:
        with self._lock:
            points = self.points.get(name, [])
            return max((p.rss_mib for p in points), default=None)


class SlopeFit(msgspec.Struct, frozen=True, kw_only=True):
    slope: float
    """Units of y per unit of x."""
    stderr: float
    """Standard error of the slope (0 with fewer than three points)."""
    intercept: float
    residual_sd: float
    n: int


def fit_slope(xs: Sequence[float], ys: Sequence[float]) -> SlopeFit | None:
    """Ordinary least squares y = a + b·x with the standard error of b; None with < 2 points or no spread in x."""
    n = len(xs)
    if n != len(ys) or n < 2:
        return None
    mean_x = math.fsum(xs) / n
    mean_y = math.fsum(ys) / n
    sxx = math.fsum((x - mean_x) ** 2 for x in xs)
    if sxx <= 0.0:
        return None
    sxy = math.fsum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx
    intercept = mean_y - slope * mean_x
    if n < 3:
        return SlopeFit(slope=slope, stderr=0.0, intercept=intercept, residual_sd=0.0, n=n)
    ssr = math.fsum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    residual_var = ssr / (n - 2)
    return SlopeFit(
        slope=slope, stderr=math.sqrt(residual_var / sxx), intercept=intercept, residual_sd=math.sqrt(residual_var), n=n
    )


def needed_window_s(residual_sd_mib: float, interval_s: float, threshold_mib_per_min: float) -> float | None:
    """The window T where 2·SE(slope) = threshold for independent samples every ``interval_s``.

    For n = T/Δ evenly spaced samples, Σ(t − t̄)² ≈ T³/(12Δ), so SE = σ·√(12Δ/T³) and T = (48·σ²·Δ/thr²)^(1/3)
    (minutes throughout, returned in seconds).
    """
    if threshold_mib_per_min <= 0 or interval_s <= 0:
        return None
    interval_min = interval_s / 60.0
    minutes = math.pow(48.0 * residual_sd_mib**2 * interval_min / threshold_mib_per_min**2, 1.0 / 3.0)
    return minutes * 60.0


def judge_memory(
    service: str,
    metrics_url: str,
    samples: Sequence[ResourceSample],
    *,
    phase_start_s: float,
    phase_end_s: float,
    threshold_mib_per_min: float,
    min_window_s: float,
    settle_fraction: float,
    interval_s: float,
    requests: int = 0,
) -> ServiceMemory:
    """One service's memory over the phase and its leak verdict (rules in the module docstring)."""
    rss = [s.rss_mib for s in samples]
    cpus = [s.cpu for s in samples if s.cpu is not None]
    settle_until = phase_start_s + settle_fraction * (phase_end_s - phase_start_s)
    analysed = [s for s in samples if s.t_s >= settle_until]
    window = (analysed[-1].t_s - analysed[0].t_s) if len(analysed) >= 2 else 0.0
    fit = fit_slope([s.t_s / 60.0 for s in analysed], [s.rss_mib for s in analysed])
    slope = fit.slope if fit is not None else None
    stderr = fit.stderr if fit is not None else None
    needed = needed_window_s(fit.residual_sd, interval_s, threshold_mib_per_min) if fit is not None else None
    growth = None
    if slope is not None and requests > 0 and phase_end_s > phase_start_s:
        per_minute = requests / ((phase_end_s - phase_start_s) / 60.0)
        growth = slope * 1024.0 / per_minute * 1000.0
    verdict: LeakVerdict
    if not samples:
        verdict, detail = "unavailable", f"no sample could be read from {metrics_url}/metrics"
    elif fit is None or fit.n < 10 or window < min_window_s:
        verdict = "insufficient"
        detail = (
            f"an analysed window of {window:.0f} s ({len(analysed)} samples) is allocator steps and warm-up, not a "
            f"leak signal: judging a {threshold_mib_per_min:g} MiB/min threshold needs at least {min_window_s:.0f} s"
        )
    else:
        assert slope is not None and stderr is not None
        low = slope - 2.0 * stderr
        band = f"{slope:+.2f} ± {2 * stderr:.2f} MiB/min over {window:.0f} s"
        if low > threshold_mib_per_min:
            verdict, detail = "leak", f"RSS grows {band}: above {threshold_mib_per_min:g} MiB/min beyond the noise"
        elif slope > threshold_mib_per_min:
            verdict, detail = "suspect", f"RSS grows {band}: above the threshold, within noise; run longer"
        else:
            verdict, detail = "ok", f"RSS slope {band}, under {threshold_mib_per_min:g} MiB/min"
    return ServiceMemory(
        service=service,
        metrics_url=metrics_url,
        samples=len(samples),
        rss_start_mib=rss[0] if rss else None,
        rss_end_mib=rss[-1] if rss else None,
        rss_peak_mib=max(rss) if rss else None,
        cpu_mean=math.fsum(cpus) / len(cpus) if cpus else None,
        cpu_peak=max(cpus) if cpus else None,
        slope_mib_per_min=slope,
        slope_stderr=stderr,
        window_s=window,
        needed_window_s=needed,
        growth_kib_per_1k_requests=growth,
        verdict=verdict,
        detail=detail,
    )


_SEVERITY: Final[dict[str, int]] = {"leak": 4, "suspect": 3, "insufficient": 2, "unavailable": 1, "ok": 0}


def worst_verdict(verdicts: Sequence[LeakVerdict]) -> LeakVerdict:
    """The most serious verdict (leak > suspect > insufficient > unavailable > ok); ``unavailable`` when none."""
    if not verdicts:
        return "unavailable"
    worst: LeakVerdict = max(verdicts, key=lambda v: _SEVERITY[v])
    return worst
