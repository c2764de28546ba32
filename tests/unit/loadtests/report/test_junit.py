from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

import msgspec

from loadtests.report import render_junit, write_junit
from loadtests.validate.verdict import QualityGate

from .sample import HOSTILE, hostile, sample_verdict

if TYPE_CHECKING:
    from pathlib import Path

    from loadtests.validate.verdict import Verdict


def _suite(verdict: Verdict, *, strict: bool = False) -> ET.Element:
    root = ET.fromstring(render_junit(verdict, strict=strict))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    for attribute in ("tests", "failures", "errors", "skipped", "time"):
        assert root.get(attribute) == suites[0].get(attribute)
    return suites[0]


def _check_schema(suite: ET.Element) -> None:
    """The shape CI systems read: counts are integers, every case has classname/name/time, failures carry both."""
    assert suite.get("name")
    for attribute in ("tests", "failures", "errors", "skipped"):
        assert int(suite.get(attribute, "x")) >= 0
    float(suite.get("time", "x"))
    for case in suite.iter("testcase"):
        assert case.get("classname") and case.get("name")
        float(case.get("time", "x"))
        for problem in [*case.findall("failure"), *case.findall("error")]:
            assert problem.get("message") and problem.get("type")
    counted = {
        "tests": len(suite.findall("testcase")),
        "failures": len(suite.findall("testcase/failure")),
        "errors": len(suite.findall("testcase/error")),
        "skipped": len(suite.findall("testcase/skipped")),
    }
    assert {key: int(suite.get(key, "-1")) for key in counted} == counted


def test_one_case_per_target_and_per_error_gate() -> None:
    verdict = sample_verdict()
    suite = _suite(verdict)
    _check_schema(suite)
    error_gates = [g for g in verdict.quality if g.severity == "error"]
    assert int(suite.get("tests", "0")) == len(verdict.targets) + len(error_gates)
    assert suite.get("failures") == "1"  # uncached_p95; the missed hit-rate aspiration is a warning
    assert suite.get("skipped") == "1"  # cold_p95 had 7 samples
    assert suite.get("errors") == "0"
    assert suite.get("time") == "330.000"
    assert suite.get("timestamp") == "2026-03-01T14:12:00"
    names = [case.get("name") for case in suite.iter("testcase")]
    assert "uncached_p95 [tool:search_knowledge_base/cache:miss] (server_spans)" in names
    assert "generator_lag" in names and "clock_skew" not in names


def test_a_failure_says_what_was_observed_and_what_was_required() -> None:
    suite = _suite(sample_verdict())
    failure = suite.find("testcase/failure")
    assert failure is not None
    message = failure.get("message", "")
    assert "observed 612 ms" in message and "required < 500 ms" in message and "\u221222.5 %" in message
    assert failure.get("type") == "target.error"
    skipped = suite.find("testcase/skipped")
    assert skipped is not None and "7 samples" in skipped.get("message", "")


def test_a_missed_warning_target_fails_only_when_strict() -> None:
    verdict = sample_verdict()
    lenient = _suite(verdict)
    warning_case = next(c for c in lenient.iter("testcase") if c.get("name", "").startswith("cache_hit_rate_target"))
    assert warning_case.find("failure") is None
    out = warning_case.find("system-out")
    assert out is not None and "WARNING" in (out.text or "")
    strict = _suite(verdict, strict=True)
    assert strict.get("failures") == "2"
    _check_schema(strict)


def test_strictness_is_inferred_from_an_exit_code_only_a_warning_explains() -> None:
    verdict = sample_verdict()
    only_warning = msgspec.structs.replace(
        verdict, targets=[t for t in verdict.targets if t.id != "uncached_p95"], exit_code=1
    )
    assert _suite(only_warning).get("failures") == "1"
    passed = msgspec.structs.replace(only_warning, exit_code=0, passed=True)
    assert _suite(passed).get("failures") == "0"


def test_a_failed_error_gate_is_an_error_not_a_failure() -> None:
    verdict = sample_verdict()
    gate = QualityGate(name="generator_lag", ok=False, severity="error", detail="loop lagged 840 ms", value=840.0)
    broken = msgspec.structs.replace(verdict, quality=[gate, *verdict.quality[1:]], exit_code=2)
    suite = _suite(broken)
    _check_schema(suite)
    assert suite.get("errors") == "1"
    error = suite.find("testcase/error")
    assert error is not None
    assert error.get("type") == "data-quality" and "loop lagged 840 ms" in error.get("message", "")


def test_hostile_strings_stay_text_and_the_xml_stays_well_formed(tmp_path: Path) -> None:
    verdict = hostile(sample_verdict())
    path = tmp_path / "junit" / "report.xml"
    write_junit(verdict, path)
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    _check_schema(suite)
    assert int(suite.get("tests", "0")) == len(verdict.targets)  # poisoned severities are no longer "error"
    readable = HOSTILE.replace("\x00", "\ufffd").replace("\x1b", "\ufffd")
    names = [case.get("name", "") for case in suite.iter("testcase")]
    assert all(readable in name for name in names)
    assert suite.get("name", "").endswith(readable)
    assert all(readable in (p.get("value") or "") for p in suite.iter("property") if p.get("name") != "exit_code")


def test_an_empty_verdict_is_an_empty_suite() -> None:
    verdict = msgspec.structs.replace(sample_verdict(), targets=[], quality=[], window_start="?", window_end="?")
    suite = _suite(verdict)
    _check_schema(suite)
    assert suite.get("tests") == "0" and suite.get("time") == "0.000" and suite.get("timestamp") is None
