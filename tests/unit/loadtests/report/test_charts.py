from __future__ import annotations

import re

from loadtests.report.charts import Band, Mark, Rule, Series, interval, line_chart, nice_ticks, span_rows, waterfall
from loadtests.validate.spans import SpanRecord

from .pages import parse
from .sample import TRACE_FAIL, TRACE_P95, sample_traces


def test_ticks_are_round_numbers_covering_the_range() -> None:
    assert nice_ticks(0, 1000, 4) == [0, 250, 500, 750, 1000]
    assert nice_ticks(0, 7.3, 4) == [0, 2, 4, 6]
    assert [round(t, 9) for t in nice_ticks(0, 0.9, 4)] == [0, 0.25, 0.5, 0.75]
    assert nice_ticks(0, 330, 6, time_axis=True) == [0, 60, 120, 180, 240, 300]


def test_a_missing_value_breaks_the_line_and_a_lone_point_is_a_dot() -> None:
    series = Series("p95", [(0, 1.0), (1, 2.0), (2, None), (3, 4.0), (4, None), (5, 3.0), (6, 2.0)], "s1")
    svg = line_chart([series], label="gaps")
    page = parse(svg)
    assert page.problems == []
    paths = page.find("path")
    assert len(paths) == 2
    assert len(page.find("circle")) == 1
    assert len(page.find("svg", "chart")) == 1


def test_no_data_means_no_chart() -> None:
    assert line_chart([Series("p95", [(0, None), (1, None)], "s0")], label="empty") == ""
    assert line_chart([], label="nothing") == ""


def test_phases_rules_and_marks_are_drawn() -> None:
    svg = line_chart(
        [Series("p95", [(t, 100.0 + t) for t in range(100)], "s1")],
        label="latency",
        bands=[Band("warmup", 0, 30), Band("load", 30, 100)],
        rules=[Rule("p95 < 200 ms", 200.0), Rule("far away", 100_000.0)],
        marks=[Mark(50, 150.0, "missed")],
        time_axis=True,
    )
    page = parse(svg)
    assert len(page.find("g", "band")) == 2
    assert len(page.find("g", "rule")) == 1  # the far rule would flatten the data: left out
    assert len(page.find("g", "mark")) == 1
    assert "warmup" in page.text and "p95 < 200 ms" in page.text
    hover = page.find("g", "hover")
    assert hover


def test_hover_columns_are_bounded() -> None:
    svg = line_chart([Series("rps", [(t, 1.0) for t in range(5000)], "s0")], label="long")
    hover = svg.split('<g class="hover">', 1)[1]
    assert 200 <= hover.count("<rect") <= 240


def _span(span_id: str, parent: str | None, start: int, end: int, name: str = "op") -> SpanRecord:
    return SpanRecord(
        trace_id="t" * 32,
        span_id=span_id,
        parent_id=parent,
        name=name,
        kind="internal",
        service="svc",
        start_ns=start,
        end_ns=end,
    )


def test_span_rows_put_parents_first_and_siblings_by_start() -> None:
    spans = [
        _span("c2", "root", 30, 40),
        _span("c1", "root", 10, 20),
        _span("g1", "c1", 12, 18),
        _span("root", None, 0, 50),
        _span("orphan", "missing", 5, 6),
    ]
    rows = [(span.span_id, depth, orphan) for span, depth, orphan in span_rows(spans)]
    assert rows == [("root", 0, False), ("c1", 1, False), ("g1", 2, False), ("c2", 1, False), ("orphan", 0, True)]


def test_span_rows_survive_parent_cycles() -> None:
    spans = [_span("a", "b", 0, 10), _span("b", "a", 1, 9), _span("self", "self", 2, 3)]
    rows = span_rows(spans)
    assert sorted(span.span_id for span, _, _ in rows) == ["a", "b", "self"]


def test_waterfall_draws_one_bar_per_span_on_the_trace_axis() -> None:
    spans = sample_traces()[TRACE_P95]
    svg, hidden = waterfall(spans, {"pp-gateway": "c0", "pp-retrieval": "c1"}, label="trace")
    page = parse(svg)
    assert hidden == 0 and page.problems == []
    bars = page.find("rect", "bar")
    assert len(bars) == len(spans)
    widths = [float(bar["width"] or 0) for bar in bars]
    assert max(widths) == widths[0]  # the root spans the whole axis
    assert {bar["class"] for bar in bars} == {"bar c0", "bar c1"}
    assert "index.search" in page.text and "178 ms" in page.text


def test_waterfall_marks_errors_and_truncates_long_traces() -> None:
    spans = sample_traces()[TRACE_FAIL]
    svg, _ = waterfall(spans, {}, label="failure")
    assert len(parse(svg).find("g", "err")) == sum(span.error for span in spans)
    many = [_span(f"{i:016x}", None, i, i + 5) for i in range(300)]
    svg, hidden = waterfall(many, {}, label="big", max_rows=100)
    assert hidden == 200
    assert len(parse(svg).find("rect", "bar")) == 100


def test_interval_places_the_change_between_its_bounds() -> None:
    svg = interval(0.2, 0.1, 0.3, scale=0.5, css="worse")
    x1, x2 = (float(v) for v in re.findall(r'class="range" x1="([\d.]+)" x2="([\d.]+)"', svg)[0])
    cx = float(re.findall(r'<circle cx="([\d.]+)"', svg)[0])
    assert 80 < x1 < cx < x2
