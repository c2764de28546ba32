"""The end-of-test summary, k6's layout: thresholds ✓/✗ with observed values, checks, metrics by group.

Two things k6's summary lacks come first-class: the coordinated-omission-corrected latency next to the usual one,
and a GENERATOR block that says whether the load generator kept its schedule — a run it did not keep is flagged
before anyone reads its percentiles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loadtests.output.results import MetricSummary, Summary

__all__ = ("format_value", "render_summary")

_GROUPS = (
    ("MCP", ("mcp_tool_duration", "mcp_tool_errors", "mcp_tool_calls")),
    (
        "HTTP",
        (
            "http_req_duration",
            "http_req_duration_corrected",
            "http_req_waiting",
            "http_req_failed",
            "http_reqs",
            "data_received",
            "data_sent",
        ),
    ),
    ("EXECUTION", ("iterations", "iteration_duration", "dropped_iterations", "group_duration", "vus", "vus_max")),
    ("GENERATOR", ("iteration_lateness", "loop_lag")),
)
_NOTES = {
    "http_req_duration_corrected": "from the intended start (coordinated omission corrected)",
    "iteration_lateness": "how late iterations started",
    "loop_lag": "the generator's event-loop lag",
}
_TREND_STATS = ("avg", "min", "med", "max", "p(90)", "p(95)", "p(99)")
_WIDTH = 42


def format_value(value: float | None, contains: str) -> str:
    if value is None:
        return "-"
    if contains == "time":
        if value >= 60_000:
            return f"{value / 60_000:.2f}m"
        if value >= 1_000:
            return f"{value / 1_000:.2f}s"
        if value >= 1:
            return f"{value:.2f}ms"
        return f"{value * 1000:.2f}µs"
    if contains == "data":
        for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
            if value >= size:
                return f"{value / size:.1f} {unit}"
        return f"{value:.0f} B"
    return f"{value:.6g}"


def _label(name: str, indent: int = 4) -> str:
    pad = " " * indent
    return f"{pad}{name}".ljust(_WIDTH, ".") + ": "


def _values(metric: MetricSummary, duration_s: float) -> str:
    v = metric.values
    if metric.type == "trend":
        return " ".join(f"{stat}={format_value(v.get(stat), metric.contains)}" for stat in _TREND_STATS)
    if metric.type == "rate":
        passes, fails = int(v.get("passes", 0)), int(v.get("fails", 0))
        total = passes + fails
        return f"{v.get('rate', 0.0) * 100:.2f}% {passes} out of {total}"
    if metric.type == "counter":
        count = v.get("count", 0.0)
        rate = v.get("rate", count / duration_s if duration_s else 0.0)
        return f"{format_value(count, metric.contains)} {rate:.2f}/s"
    return f"{format_value(v.get('value'), metric.contains)} min={v.get('min', 0):g} max={v.get('max', 0):g}"


def _thresholds(summary: Summary) -> list[str]:
    if not summary.thresholds:
        return []
    lines = ["", "  █ THRESHOLDS", ""]
    by_metric: dict[str, list[str]] = {}
    for t in summary.thresholds:
        mark = "✓" if t.ok else "✗"
        if t.no_data:
            observed = "no data"
        else:
            agg = t.expression.split("<")[0].split(">")[0].split("=")[0].split("!")[0].strip()
            contains = summary.metrics.get(t.metric.split("{")[0])
            observed = f"{agg}={format_value(t.observed, contains.contains if contains else 'default')}"
        by_metric.setdefault(t.metric, []).append(f"    {mark} '{t.expression}' {observed}")
    for metric, rows in by_metric.items():
        lines += [f"    {metric}", *rows, ""]
    return lines


def _checks(summary: Summary) -> list[str]:
    if not summary.checks:
        return []
    passes = sum(c.passes for c in summary.checks)
    fails = sum(c.fails for c in summary.checks)
    total = passes + fails
    rate = total / summary.duration_s if summary.duration_s else 0.0
    lines = [
        _label("checks_total") + f"{total} {rate:.2f}/s",
        _label("checks_succeeded") + f"{passes / total * 100 if total else 0:.2f}% {passes} out of {total}",
        _label("checks_failed") + f"{fails / total * 100 if total else 0:.2f}% {fails} out of {total}",
        "",
    ]
    for check in summary.checks:
        where = f"{check.group} " if check.group else ""
        if check.fails:
            lines.append(f"    ✗ {where}{check.name}")
            lines.append(
                f"      ↳ {check.passes / (check.passes + check.fails) * 100:.0f}% — ✓ {check.passes} / ✗ {check.fails}"
            )
        else:
            lines.append(f"    ✓ {where}{check.name}")
    return [*lines, ""]


def _metric_groups(summary: Summary) -> list[str]:
    lines: list[str] = []
    shown: set[str] = {"checks"}
    builtin = {name for _, names in _GROUPS for name in names}
    custom = sorted(n for n in summary.metrics if n not in builtin and n != "checks")
    groups = [*_GROUPS, ("CUSTOM", tuple(custom))]
    for title, names in groups:
        present = [n for n in names if n in summary.metrics]
        if not present:
            continue
        lines += [f"    {title}"]
        for name in present:
            shown.add(name)
            metric = summary.metrics[name]
            lines.append(_label(name) + _values(metric, summary.duration_s))
            if name in _NOTES:
                lines.append(" " * _WIDTH + f"  ↳ {_NOTES[name]}")
            for key, sub in summary.submetrics.items():
                if key.startswith(name + "{tool:"):
                    lines.append(_label(key[len(name) :], indent=6) + _values(sub, summary.duration_s))
        lines.append("")
    return lines


def _generator(summary: Summary) -> list[str]:
    h = summary.health
    facts = []
    if h.loop_lag_p99_ms is not None:
        facts.append(f"loop lag p99 {format_value(h.loop_lag_p99_ms, 'time')}")
    if h.iteration_lateness_p99_ms is not None:
        facts.append(f"iteration lateness p99 {format_value(h.iteration_lateness_p99_ms, 'time')}")
    if h.dropped_iterations:
        facts.append(f"{h.dropped_iterations} dropped iterations")
    detail = f" ({', '.join(facts)})" if facts else ""
    if h.trustworthy:
        lines = [f"    ✓ the load generator kept up{detail}"]
        if h.dropped_iterations:
            lines.append(
                "      ↳ iterations were dropped while the generator was healthy: every VU was busy — the server "
                "slowed down, or maxVUs is too low"
            )
        return lines
    return [f"    ✗ NOT TRUSTWORTHY: the load generator did not keep up{detail}"] + [
        f"      ↳ {reason}" for reason in h.reasons
    ]


def render_summary(summary: Summary) -> str:
    lines = _thresholds(summary)
    lines += ["", "  █ TOTAL RESULTS", ""]
    lines += _checks(summary)
    lines += _metric_groups(summary)
    lines += _generator(summary)
    if summary.errors:
        lines += ["", "  █ SCRIPT ERRORS", ""]
        for key, count in sorted(summary.errors.items(), key=lambda kv: -kv[1])[:20]:
            lines.append(f"    {count} × {key}")
    iterations = summary.metrics.get("iterations")
    complete = int(iterations.values.get("count", 0)) if iterations else 0
    interrupted = sum(s.interrupted for s in summary.scenarios.values())
    runs = ", ".join(summary.run_ids)
    lines += [
        "",
        f"  run {runs}: {summary.duration_s:.1f}s, {complete} complete and {interrupted} interrupted iterations"
        + (f" — aborted: {summary.aborted}" if summary.aborted else ""),
        "",
    ]
    return "\n".join(lines)
