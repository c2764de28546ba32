"""The verdict on a terminal: the decision first, then what failed, why, and what to do; the rest is in the files."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loadtests.validate.verdict import TargetResult, Verdict

__all__ = ("render_verdict",)

_UNITS = {"ms": " ms", "ratio": "", "rps": " req/s", "MB": " MB", "percent": " %", "count": ""}


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ratio":
        return f"{value * 100:.2f} %"
    return f"{value:,.2f}{_UNITS.get(unit, '')}"


def _target(t: TargetResult) -> str:
    mark = {True: "✓", False: "✗", None: "?"}[t.passed]
    if not getattr(t, "applicable", True):
        mark = "·"
    line = f"    {mark} {t.id} [{t.scope}] ({t.source}): {_value(t.observed, t.unit)} {t.op} {_value(t.bound, t.unit)}"
    if t.severity == "warning":
        line += " (warning)"
    if t.note and (t.passed is not True):
        line += f" — {t.note}"
    return line


def render_verdict(verdict: Verdict, *, all_targets: bool = False) -> str:
    decision = {0: "PASS", 1: "FAIL", 2: "COULD NOT VALIDATE"}.get(verdict.exit_code, f"exit {verdict.exit_code}")
    lines = ["", f"  █ VALIDATION  {decision} — grade {verdict.grade}", ""]
    if verdict.grade_reason:
        lines.append(f"    {verdict.grade_reason}")
    lines.append(
        f"    run {verdict.run_id or '(window)'} from {verdict.source}, {verdict.window_start} → {verdict.window_end}"
    )
    failed_gates = [g for g in verdict.quality if not g.ok]
    if failed_gates:
        lines += ["", "    data quality:"]
        lines += [f"    {'✗' if g.severity == 'error' else '!'} {g.name}: {g.detail}" for g in failed_gates]
    shown = verdict.targets if all_targets else [t for t in verdict.targets if t.passed is not True]
    passed = sum(1 for t in verdict.targets if t.passed is True)
    lines += ["", f"    targets: {passed} of {len(verdict.targets)} passed"]
    lines += [_target(t) for t in sorted(shown, key=lambda t: (t.passed is not False, t.id))]
    if verdict.tools:
        lines += ["", "    per tool (server spans, ms)        count  errors     p50      p95      p99"]
        for tool in verdict.tools:
            if tool.cache != "all":
                continue
            lines.append(
                f"    {tool.tool:<34} {tool.count:>5} {tool.errors:>7} {_value(tool.p50_ms, 'count'):>7} "
                f"{_value(tool.p95_ms, 'count'):>8} {_value(tool.p99_ms, 'count'):>8}"
            )
    if verdict.slowest_path is not None and verdict.slowest_path.sentence:
        lines += ["", f"    slowest path: {verdict.slowest_path.sentence}"]
    for d in verdict.disagreements:
        lines.append(f"    ≠ {d.what}: {d.explanation}")
    if verdict.baseline:
        regressions = [b for b in verdict.baseline if b.regression]
        lines.append(f"    baseline: {len(regressions)} regression(s) of {len(verdict.baseline)} comparisons")
        lines += [
            f"      ✗ {b.tool} {b.stat}: {b.baseline_ms:.2f} → {b.current_ms:.2f} ms ({b.change * 100:+.1f} %, "
            f"95 % CI {b.ci_low * 100:+.1f}…{b.ci_high * 100:+.1f} %)"
            for b in regressions
        ]
    if verdict.recommendations:
        lines += ["", "    recommendations:"]
        lines += [f"    → {r}" for r in verdict.recommendations]
    return "\n".join([*lines, ""])
