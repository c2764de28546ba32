from __future__ import annotations

import base64
import hashlib
import re
from typing import TYPE_CHECKING

import msgspec

from loadtests.report import render_html, write_html
from loadtests.report.assets import HEAD_SCRIPT, TAIL_SCRIPT

from .pages import Page, parse
from .sample import HOSTILE, TRACE_P95, TRACE_UNLOADED, hostile, sample_traces, sample_verdict

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from loadtests.validate.spans import SpanRecord
    from loadtests.validate.verdict import Verdict

SECTIONS = (
    "targets",
    "quality",
    "disagreements",
    "recommendations",
    "tools",
    "timeseries",
    "capacity",
    "slowest-path",
    "exemplars",
    "baseline",
    "queries",
)
# Text the payload must show up as, once parsed: control characters dropped, bidi override replaced, rest literal.
VISIBLE = HOSTILE.replace("\x00", "").replace("\x1b", "").replace("\u202e", "\ufffd")


def _render(
    verdict: Verdict | None = None,
    *,
    traces: Mapping[str, Sequence[SpanRecord]] | None = None,
    title: str | None = None,
) -> tuple[str, Page]:
    document = render_html(verdict or sample_verdict(), traces=traces, title=title)
    page = parse(document)
    assert page.problems == [], page.problems[:5]
    return document, page


def test_every_section_is_present_and_linked() -> None:
    _, page = _render(traces=sample_traces())
    ids = [attrs.get("id") or "" for _, attrs in page.elements]
    ids = [ident for ident in ids if ident.startswith("sec-")]
    assert ids == [f"sec-{name}" for name in SECTIONS]
    links = {attrs["href"] for attrs in page.find("a")}
    assert {f"#sec-{name}" for name in SECTIONS} <= links


def test_the_verdict_and_grade_lead_the_page() -> None:
    document, page = _render()
    header = document.split("</header>", 1)[0]
    assert ">FAIL<" in header and ">D<" in header and "exit code 1" in header
    assert "Grade rule." in page.text and "A: every error target passes" in page.text
    assert page.find("div", "verdict")[0]["class"] == "verdict fail"


def test_targets_show_status_observed_bound_and_margin() -> None:
    document, _ = _render()
    table = document.split('id="targets"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr class=\"(\w+)\">", table)
    assert rows == ["fail", "warn", "na", "pass", "pass", "pass", "pass", "pass"]  # failures first
    assert "612 ms" in table and "&lt; 500 ms" in table and "\u221222.5 %" in table
    assert "not evaluable" in table and "7 samples; at least 20" in table
    assert "client, CO-corrected" in table


def test_charts_are_inline_svg() -> None:
    _, page = _render(traces=sample_traces())
    charts = page.find("svg", "chart")
    # latency, request rate, errors, capacity, and one waterfall per exemplar whose spans were given (4 of 5)
    assert len(charts) == 8
    assert len(page.find("svg", "waterfall")) == 4
    assert len(page.find("svg", "ci")) == 3
    assert page.tags["path"] >= 3 + 1 + 1 + 3
    assert "Request rate" in page.text and "cooldown" in page.text


def test_waterfalls_use_the_spans_given_and_say_when_there_are_none() -> None:
    traces = sample_traces()
    _, page = _render(traces=traces)
    assert len(page.find("rect", "bar")) == sum(len(spans) for spans in traces.values())
    assert "The spans of this trace were not loaded" in page.text
    assert TRACE_UNLOADED in page.text
    _, bare = _render()
    assert bare.find("svg", "waterfall") == []


def test_trace_files_are_linked_for_jaeger() -> None:
    _, page = _render(traces=sample_traces())
    hrefs = [attrs["href"] for attrs in page.find("a") if not (attrs["href"] or "#").startswith("#")]
    assert hrefs == ["traces/5c0a1e8d.json", "file:///var/tmp/reports/storm/traces/6d1b2f9e.json"]
    assert "Jaeger UI \u2192 Search \u2192 JSON File" in page.text


def test_a_path_that_looks_like_a_scheme_stays_a_relative_link() -> None:
    verdict = sample_verdict()
    verdict.exemplars[1].file = "javascript:alert(1)"
    _, page = _render(verdict)
    hrefs = [attrs["href"] or "" for attrs in page.find("a") if not (attrs["href"] or "#").startswith("#")]
    assert "javascript%3Aalert%281%29" in hrefs
    assert not any(href.lower().startswith("javascript:") for href in hrefs)


def test_service_colours_match_between_the_path_table_and_the_waterfalls() -> None:
    _, page = _render(traces=sample_traces())
    swatches = {attrs["class"] for attrs in page.find("span", "svc")}
    bars = {(attrs["class"] or "").split()[1] for attrs in page.find("rect", "bar")}
    assert swatches == {"svc c0", "svc c1"}
    assert bars == {"c0", "c1"}


def test_the_scripts_are_allowed_by_hash_and_nothing_may_be_fetched() -> None:
    document, page = _render()
    policy = next(attrs["content"] for attrs in page.find("meta") if attrs.get("http-equiv"))
    assert policy is not None and "default-src 'none'" in policy and "unsafe-inline" not in policy.split("style-src")[0]
    scripts = re.findall(r"<script>(.*?)</script>", document, flags=re.S)
    assert scripts == [HEAD_SCRIPT, TAIL_SCRIPT]
    for script in scripts:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    assert not re.search(r"(src|href)=\"(https?:)?//", document)
    assert "@import" not in document and "url(" not in document


def test_optional_sections_say_what_is_missing() -> None:
    empty = msgspec.structs.replace(
        sample_verdict(),
        targets=[],
        tools=[],
        quality=[],
        disagreements=[],
        slowest_path=None,
        exemplars=[],
        recommendations=[],
        timeseries=[],
        phases=[],
        capacity=[],
        baseline=None,
        queries=[],
    )
    _, page = _render(empty)
    assert page.find("svg", "chart") == []
    for phrase in (
        "No targets were checked",
        "No time series was recorded",
        "No capacity search",
        "No baseline run was given",
        "No traces were available",
        "The source recorded no queries",
    ):
        assert phrase in page.text
    _, no_common = _render(msgspec.structs.replace(empty, baseline=[]))
    assert "no statistics in common" in no_common.text


def test_queries_are_collapsed_and_verbatim() -> None:
    _, page = _render()
    assert page.tags["details"] == 1 and page.find("details")[0].get("open") is None
    assert "attributes->>'pp.run_id' = 'storm-20260301T141200Z-7f3a'" in page.text


def test_hostile_strings_are_shown_never_interpreted() -> None:
    benign_document, benign = _render(traces=sample_traces())
    document, page = _render(hostile(sample_verdict()), traces=hostile(sample_traces()), title=HOSTILE)
    # No element, attribute or script came from the input: the same vocabulary as the benign page, two scripts.
    assert set(page.tags) == set(benign.tags)
    assert page.tags["script"] == 2 and page.tags["img"] == 0 and page.tags["style"] == 1
    for tag in ("svg", "table", "section", "a", "meta", "details"):
        assert page.tags[tag] == benign.tags[tag], tag
    assert not [name for _, attrs in page.elements for name in attrs if name.startswith("on")]
    assert document.count("</script>") == 2 and "<img" not in document
    assert "\x00" not in document and "\u202e" not in document
    # The payload is there, as text: in headings, cells, tooltips and SVG labels alike.
    assert page.text.count(VISIBLE) >= 100
    titles = re.findall(r"<title>(.*?)</title>", document, flags=re.S)
    assert any("&lt;script&gt;" in title for title in titles[1:])
    labels = [attrs.get("aria-label") or "" for attrs in page.find("svg", "chart")]
    assert labels and all(VISIBLE in label for label in labels if label.startswith("Waterfall"))
    assert len(document) > len(benign_document)


def test_write_html_is_atomic_utf8(tmp_path: Path) -> None:
    path = tmp_path / "out" / "report.html"
    write_html(sample_verdict(), path, traces={TRACE_P95: sample_traces()[TRACE_P95]})
    content = path.read_bytes().decode("utf-8")
    assert content.startswith("<!DOCTYPE html>") and content.count("waterfall") >= 1
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]
