"""The verdict as JUnit XML, the format every CI system shows as a test list.

One test case per checked target and per error-severity data-quality gate. Failures match the exit code: a
failed ``warning`` target is a failure only in strict mode (otherwise it passes with a note in ``system-out``), a
target that could not be evaluated is skipped, and a failed error gate is an ``error`` — the data could not support
a verdict, which is not the same as the service missing a target.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from loadtests.report.files import write_atomic
from loadtests.report.units import format_bound, format_margin, format_value

if TYPE_CHECKING:
    from pathlib import Path

    from loadtests.validate.verdict import QualityGate, TargetResult, Verdict

__all__ = ("render_junit", "write_junit")

SUITE = "pp-validate"

# Characters XML 1.0 cannot carry at all, not even escaped; a span name or error text may contain them.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _parse_time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _duration_s(verdict: Verdict) -> float:
    start, end = _parse_time(verdict.window_start), _parse_time(verdict.window_end)
    return max(0.0, (end - start).total_seconds()) if start and end else 0.0


def case_name(target: TargetResult) -> str:
    return f"{target.id} [{target.scope}] ({target.source})"


def failure_message(target: TargetResult) -> str:
    """What CI shows on a failed case: the observed value, the bound it missed, and by how much."""
    parts = [
        f"{target.id}: observed {format_value(target.observed, target.unit)},"
        f" required {format_bound(target.op, target.bound, target.unit)}",
        f"margin {format_margin(target.margin)}",
        f"{target.samples} samples",
        f"{target.scope} from {target.source}",
    ]
    if target.note:
        parts.append(target.note)
    return "; ".join(parts)


def _is_strict(verdict: Verdict, strict: bool) -> bool:
    # A run that exited 1 with no failed error target can only have failed on a warning target: it ran strict.
    failed_error = any(t.passed is False and t.severity == "error" for t in verdict.targets)
    return strict or (verdict.exit_code == 1 and not failed_error)


class _Counts:
    def __init__(self) -> None:
        self.tests = self.failures = self.errors = self.skipped = 0

    def write(self, element: ET.Element, time_s: float) -> None:
        element.set("tests", str(self.tests))
        element.set("failures", str(self.failures))
        element.set("errors", str(self.errors))
        element.set("skipped", str(self.skipped))
        element.set("time", f"{time_s:.3f}")


def _target_case(suite: ET.Element, target: TargetResult, strict: bool, counts: _Counts) -> None:
    case = ET.SubElement(suite, "testcase", classname=f"{SUITE}.targets", name=_clean(case_name(target)), time="0")
    counts.tests += 1
    if target.passed is None:
        reason = target.note or "no data"
        ET.SubElement(case, "skipped", message=_clean(f"{target.id}: not evaluable ({reason})"))
        counts.skipped += 1
    elif not target.passed and (target.severity == "error" or strict):
        message = _clean(failure_message(target))
        failure = ET.SubElement(case, "failure", message=message, type=_clean(f"target.{target.severity}"))
        failure.text = _clean(f"{message}\n{target.description}")
        counts.failures += 1
    elif not target.passed:
        out = ET.SubElement(case, "system-out")
        out.text = _clean(f"WARNING (fails only with --strict): {failure_message(target)}")


def _gate_case(suite: ET.Element, gate: QualityGate, counts: _Counts) -> None:
    case = ET.SubElement(suite, "testcase", classname=f"{SUITE}.data-quality", name=_clean(gate.name), time="0")
    counts.tests += 1
    if not gate.ok:
        value = "" if gate.value is None else f" (value {gate.value:g})"
        message = _clean(f"{gate.name}: {gate.detail}{value}")
        error = ET.SubElement(case, "error", message=message, type="data-quality")
        error.text = message
        counts.errors += 1


def render_junit(verdict: Verdict, *, strict: bool = False) -> bytes:
    strict = _is_strict(verdict, strict)
    time_s = _duration_s(verdict)
    root = ET.Element("testsuites", name=SUITE)
    suite = ET.SubElement(root, "testsuite", name=_clean(f"{SUITE} {verdict.run_id or verdict.source}"))
    start = _parse_time(verdict.window_start)
    if start is not None:
        suite.set("timestamp", start.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds"))
    properties = ET.SubElement(suite, "properties")
    facts = {
        "run_id": verdict.run_id or "",
        "source": verdict.source,
        "grade": verdict.grade,
        "exit_code": str(verdict.exit_code),
        "window_start": verdict.window_start,
        "window_end": verdict.window_end,
        "schema": verdict.schema,
    }
    for name, value in facts.items():
        ET.SubElement(properties, "property", name=name, value=_clean(value))
    counts = _Counts()
    for target in verdict.targets:
        _target_case(suite, target, strict, counts)
    for gate in verdict.quality:
        if gate.severity == "error":
            _gate_case(suite, gate, counts)
    warnings = [f"{gate.name}: {gate.detail}" for gate in verdict.quality if gate.severity != "error" and not gate.ok]
    if warnings:
        out = ET.SubElement(suite, "system-out")
        out.text = _clean("\n".join(f"data-quality warning: {line}" for line in warnings))
    counts.write(suite, time_s)
    counts.write(root, time_s)
    ET.indent(root)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body + b"\n"


def write_junit(verdict: Verdict, path: Path, *, strict: bool = False) -> None:
    write_atomic(path, render_junit(verdict, strict=strict))
