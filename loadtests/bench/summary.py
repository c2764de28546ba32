"""The benchmark's end-of-run summary on the terminal: one table per phase, then cache, memory and capacity.

Plain aligned text (no colour, no box drawing beyond a rule), so it reads the same in a terminal, a CI log and a
pasted issue. Untrustworthy figures say so on the phase's header line, before any number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loadtests.durations import format_duration

if TYPE_CHECKING:
    from collections.abc import Sequence

    from loadtests.bench.result import BenchResult, LatencyStats, PhaseResult
    from loadtests.validate.verdict import Verdict

__all__ = ("render_summary",)


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 1000 else f"{value:,.0f}"


def _trio(stats: LatencyStats | None) -> str:
    if stats is None or not stats.count:
        return "-"
    return f"{_ms(stats.p50_ms)} / {_ms(stats.p95_ms)} / {_ms(stats.p99_ms)}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) if rows else len(header[i]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
        return (indent + "  ".join((first, *rest))).rstrip()

    return [line(header), *(line(r) for r in rows)]


def _heading(title: str, phase: PhaseResult | None = None) -> list[str]:
    lines = ["", f"█ {title}"]
    if phase is not None:
        lines.append(f"  {phase.model}")
        if not phase.generator_ok:
            lines.append("  NOT TRUSTWORTHY — " + "; ".join(phase.generator_notes))
    return lines


def _notes(phase: PhaseResult) -> list[str]:
    return [f"  · {note}" for note in phase.notes]


def _baseline(phase: PhaseResult) -> list[str]:
    rows = []
    for tool in phase.tools:
        cold = tool.by_cache.get("cold")
        miss = tool.by_cache.get("miss") or tool.by_cache.get("none")
        rows.append(
            [
                tool.tool,
                _ms(cold.max_ms) if cold is not None and cold.count else "-",
                _trio(miss),
                _trio(tool.by_cache.get("hit")),
                f"{tool.latency.errors}/{tool.latency.count}",
            ]
        )
    header = ["tool", "cold ms", "miss/uncached p50/p95/p99 ms", "hit p50/p95/p99 ms", "errors"]
    return [*_heading("BASELINE", phase), *_table(header, rows), *_notes(phase)]


def _per_tool(title: str, phase: PhaseResult) -> list[str]:
    rows = [
        [
            tool.tool,
            f"{tool.throughput_rps:,.1f}",
            _trio(tool.latency),
            _ms(tool.latency.max_ms),
            _ms(tool.by_cache["hit"].p95_ms) if "hit" in tool.by_cache else "-",
            _ms(tool.by_cache["miss"].p95_ms) if "miss" in tool.by_cache else "-",
            f"{tool.error_rate:.2%}",
        ]
        for tool in phase.tools
    ]
    header = ["tool", "req/s", "p50/p95/p99 ms", "max ms", "hit p95", "miss p95", "errors"]
    return [*_heading(title, phase), *_table(header, rows), *_notes(phase)]


def _cache(result: BenchResult, phase: PhaseResult | None) -> list[str]:
    rows = []
    for c in result.cache:
        server = "-"
        if c.server_hit_ratio is not None:
            server = f"{c.server_hit_ratio:.2f} (want {c.intended_hit_ratio:.2f})"
        rows.append(
            [
                c.tool,
                _ms(c.miss.p50_ms),
                _ms(c.hit.p50_ms),
                _ms(c.p50_saving_ms),
                f"×{c.p50_ratio:.1f}" if c.p50_ratio is not None else "-",
                _ms(c.miss.p95_ms),
                _ms(c.hit.p95_ms),
                f"×{c.p95_ratio:.1f}" if c.p95_ratio is not None else "-",
                server,
            ]
        )
    header = ["tool", "miss p50", "hit p50", "saved ms", "faster", "miss p95", "hit p95", "faster", "server hit ratio"]
    return [*_heading("CACHE (miss vs hit)", phase), *_table(header, rows), *(_notes(phase) if phase else [])]


def _memory(result: BenchResult, phase: PhaseResult | None) -> list[str]:
    memory = result.memory
    if memory is None:
        return []
    lines = _heading(
        f"MEMORY (leak threshold {memory.threshold_mib_per_min:g} MiB/min over ≥ {memory.min_window_s:g} s)", phase
    )
    rows = []
    for s in memory.services:
        slope = "-"
        if s.slope_mib_per_min is not None and s.slope_stderr is not None:
            slope = f"{s.slope_mib_per_min:+.2f} ± {2 * s.slope_stderr:.2f}"
        cpu = "-" if s.cpu_mean is None else f"{s.cpu_mean:.0%} / {s.cpu_peak or 0.0:.0%}"
        rss = "-"
        if s.rss_start_mib is not None:
            rss = f"{s.rss_start_mib:.1f} → {s.rss_end_mib or 0.0:.1f} (peak {s.rss_peak_mib or 0.0:.1f})"
        rows.append([s.service, rss, slope, cpu, s.verdict.upper()])
    lines += _table(["service", "RSS MiB start → end", "slope MiB/min ± 2se", "CPU mean/peak", "verdict"], rows)
    lines += [f"  · {s.service}: {s.detail}" for s in memory.services]
    return lines


def _capacity(result: BenchResult) -> list[str]:
    capacity = result.capacity
    if capacity is None:
        return []
    lines = _heading(
        f"CAPACITY (cached calls, open model; broken: corrected p99 > {capacity.target_p99_ms:g} ms, achieved < "
        f"{capacity.min_achieved_ratio:.0%}, errors > {capacity.max_error_rate:.0%}, or the generator overloaded)"
    )
    rows = [
        [
            f"{s.offered_rps:,.0f}",
            f"{s.achieved_rps:,.1f}",
            _ms(s.p50_ms),
            _ms(s.p95_ms),
            _ms(s.p99_ms),
            _ms(s.p99_uncorrected_ms),
            f"{s.error_rate:.2%}",
            str(s.dropped),
            "ok" if s.ok else "BROKEN",
            "; ".join(s.reasons),
        ]
        for s in capacity.curve
    ]
    header = ["offered/s", "achieved/s", "p50", "p95", "p99", "p99 uncorr.", "errors", "dropped", "", "why"]
    lines += _table(header, rows)
    knee = "not found" if capacity.knee_rps is None else f"{capacity.knee_rps:,.0f} requests/s"
    lines.append(f"  knee: {knee} (limited by {capacity.limited_by}) — {capacity.note}")
    return lines


def render_summary(result: BenchResult, verdict: Verdict | None = None) -> str:
    elapsed = format_duration(round(result.ended_unix - result.started_unix))
    stack = "embedded stack" if result.embedded else "running stack"
    lines = [
        f"benchmark {result.bench_id}: {stack} {result.target}, {result.workers} worker(s) on {result.cores} cores, "
        f"took {elapsed}"
    ]
    if result.aborted:
        lines.append(f"STOPPED EARLY: {result.aborted}")
    by_name = {p.name: p for p in result.phases}
    if "baseline" in by_name:
        lines += _baseline(by_name["baseline"])
    if "load" in by_name:
        lines += _per_tool("LOAD", by_name["load"])
    if result.cache:
        lines += _cache(result, by_name.get("cache"))
    if "stress" in by_name:
        lines += _per_tool("STRESS", by_name["stress"])
    lines += _memory(result, by_name.get("memory"))
    lines += _capacity(result)
    if result.notes:
        lines += ["", *(f"note: {note}" for note in result.notes)]
    if verdict is not None:
        failed = [t for t in verdict.targets if t.passed is False]
        lines += ["", f"grade {verdict.grade} ({verdict.grade_rule})"]
        lines += [
            f"  ✗ {t.scope}: {t.description} {t.observed:.4g} {t.unit} (target {t.op} {t.bound:g}, {t.severity})"
            for t in failed
            if t.observed is not None
        ]
    return "\n".join(lines)
