"""The verdict as one self-contained HTML page: what a person opens after ``just load storm``.

Self-contained means it opens offline and prints: styles, two small scripts and every chart are inline (SVG drawn by
``charts.py``), nothing is fetched — no fonts, no libraries — and the page's Content-Security-Policy forbids
fetching anything and runs only our own scripts, by hash. Every string from the run goes through ``markup.text``,
so a span name or an error message is shown, never interpreted.
"""

from __future__ import annotations

import math
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING

from loadtests.report.assets import HEAD_SCRIPT, STYLE, TAIL_SCRIPT, content_security_policy
from loadtests.report.charts import Band, Mark, Rule, Series, clock, interval, line_chart, waterfall
from loadtests.report.files import write_atomic
from loadtests.report.markup import text
from loadtests.report.units import (
    DASH,
    format_bound,
    format_margin,
    format_ms,
    format_number,
    format_percent,
    format_value,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from loadtests.validate.spans import SpanRecord
    from loadtests.validate.verdict import (
        BaselineChange,
        CapacityPoint,
        Exemplar,
        PathReport,
        TargetResult,
        ToolStats,
        Verdict,
    )

__all__ = ("render_html", "write_html")

_SOURCES = {
    "server_spans": "server spans",
    "client": "client",
    "client_corrected": "client, CO-corrected",
    "metrics": "metrics",
}
_SECTIONS = (
    ("targets", "Targets"),
    ("quality", "Data quality"),
    ("disagreements", "Disagreements"),
    ("recommendations", "Recommendations"),
    ("tools", "Per tool"),
    ("timeseries", "Over time"),
    ("capacity", "Capacity"),
    ("slowest-path", "Slowest path"),
    ("exemplars", "Slowest traces"),
    ("baseline", "Baseline"),
    ("queries", "Queries"),
)
_PALETTE_SIZE = 8


def _section(anchor: str, body: str) -> str:
    title = dict(_SECTIONS)[anchor]
    return f'<section id="sec-{anchor}"><h2>{text(title)}</h2>{body}</section>'


def _muted(message: str) -> str:
    return f'<p class="muted">{text(message)}</p>'


def _table(head: Iterable[tuple[str, bool]], rows: Iterable[str], *, table_id: str = "") -> str:
    cells = "".join(f'<th{" class=num" if numeric else ""} scope="col">{text(name)}</th>' for name, numeric in head)
    ident = f' id="{table_id}"' if table_id else ""
    body = "".join(rows)
    return f'<div class="table-wrap"><table{ident}><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table></div>'


def _num(value: str) -> str:
    return f'<td class="num">{text(value)}</td>'


def _cell(value: str) -> str:
    return f"<td>{text(value)}</td>"


def _badge(kind: str, label: str) -> str:
    return f'<span class="badge {kind}">{text(label)}</span>'


def _status(passed: bool | None, severity: str) -> tuple[str, str]:
    if passed is None:
        return "na", "not evaluable"
    if passed:
        return "pass", "pass"
    return ("fail", "fail") if severity == "error" else ("warn", "missed (warning)")


def _service_classes(verdict: Verdict, traces: Mapping[str, Sequence[SpanRecord]]) -> dict[str, str]:
    """One colour per service, the same in the critical-path table and in every waterfall."""
    services = {share.service for share in verdict.slowest_path.shares} if verdict.slowest_path else set()
    services |= {span.service for spans in traces.values() for span in spans}
    return {service: f"c{index % _PALETTE_SIZE}" for index, service in enumerate(sorted(services))}


def _header(verdict: Verdict, title: str) -> str:
    kind, word = {0: ("pass", "PASS"), 1: ("fail", "FAIL"), 2: ("na", "NO VERDICT")}.get(
        verdict.exit_code, ("pass", "PASS") if verdict.passed else ("fail", "FAIL")
    )
    letter = verdict.grade.strip()[:1].upper()
    quality = "good" if letter in {"A", "B"} else "fair" if letter == "C" else "poor"
    facts = [
        ("Run", verdict.run_id or DASH),
        ("Source", verdict.source),
        ("Window", f"{verdict.window_start} \u2192 {verdict.window_end}"),
        ("Schema", verdict.schema),
    ]
    dl = "".join(f"<dt>{text(name)}</dt><dd>{text(value)}</dd>" for name, value in facts)
    return (
        f'<header class="top"><div class="verdict {kind}"><span class="word">{text(word)}</span>'
        f'<span class="sub">exit code {verdict.exit_code}</span></div>'
        f'<div class="grade {quality}"><span class="letter">{text(verdict.grade)}</span>'
        f'<span class="sub">grade</span></div>'
        f'<div class="meta"><h1>{text(title)}</h1><dl class="facts">{dl}</dl></div></header>'
        f'<p class="rule-text"><strong>Grade rule.</strong> {text(verdict.grade_rule)}</p>'
        f"{_cards(verdict)}"
    )


def _cards(verdict: Verdict) -> str:
    passed = sum(t.passed is True for t in verdict.targets)
    failed = sum(t.passed is False and t.severity == "error" for t in verdict.targets)
    missed = sum(t.passed is False and t.severity != "error" for t in verdict.targets)
    unknown = sum(t.passed is None for t in verdict.targets)
    gates = sum(not g.ok and g.severity == "error" for g in verdict.quality)
    cards = [
        (f"{passed} / {len(verdict.targets)}", "targets passed"),
        (str(failed), "targets failed"),
        (str(missed), "warning targets missed"),
        (str(unknown), "not evaluable"),
        (str(gates), "data-quality errors"),
    ]
    if verdict.slowest_path is not None:
        cards.append((f"{format_ms(verdict.slowest_path.p95_root_ms)} ms", "p95 of traces"))
        cards.append((format_number(verdict.slowest_path.traces, 9), "traces analysed"))
    body = "".join(
        f'<div class="card"><div class="value">{text(value)}</div><div class="label">{text(label)}</div></div>'
        for value, label in cards
    )
    return f'<div class="cards">{body}</div>'


def _nav() -> str:
    links = "".join(f'<a href="#sec-{anchor}">{text(title)}</a>' for anchor, title in _SECTIONS)
    return f'<nav class="toc" aria-label="Sections">{links}</nav>'


def _target_row(target: TargetResult) -> str:
    kind, label = _status(target.passed, target.severity)
    row_class = "pass" if kind == "pass" else kind
    margin_class = "" if target.margin is None else " good" if target.margin >= 0 else " bad"
    severity = "" if target.severity == "error" else f" {_badge('plain', target.severity)}"
    return (
        f'<tr class="{row_class}"><td>{_badge(kind, label)}</td>'
        f'<td class="name"><code>{text(target.id)}</code>{severity}'
        f'<div class="muted small">{text(target.description)}</div></td>'
        f"{_cell(target.scope)}{_cell(_SOURCES.get(target.source, target.source))}"
        f"{_num(format_value(target.observed, target.unit))}{_num(format_bound(target.op, target.bound, target.unit))}"
        f'<td class="num{margin_class}">{text(format_margin(target.margin))}</td>'
        f'{_num(format_number(target.samples, 12))}<td class="small">{text(target.note)}</td></tr>'
    )


def _targets(verdict: Verdict) -> str:
    if not verdict.targets:
        return _muted("No targets were checked.")
    rank = {False: 0, None: 1, True: 2}
    ordered = sorted(verdict.targets, key=lambda t: rank[t.passed])
    head = [
        ("Status", False),
        ("Target", False),
        ("Scope", False),
        ("Source", False),
        ("Observed", True),
        ("Bound", True),
        ("Margin", True),
        ("Samples", True),
        ("Note", False),
    ]
    toggle = (
        '<label class="toggle" hidden><input type="checkbox" id="only-failed"> '
        "show only targets that did not pass</label>"
    )
    return toggle + _table(head, map(_target_row, ordered), table_id="targets")


def _quality(verdict: Verdict) -> str:
    if not verdict.quality:
        return _muted("No data-quality gates were evaluated.")
    rows = []
    for gate in sorted(verdict.quality, key=lambda g: (g.ok, g.severity != "error")):
        kind, label = (
            ("pass", "ok") if gate.ok else ("fail", "failed") if gate.severity == "error" else ("warn", "warning")
        )
        value = DASH if gate.value is None else format_number(gate.value)
        rows.append(
            f"<tr><td>{_badge(kind, label)}</td><td><code>{text(gate.name)}</code></td>{_cell(gate.severity)}"
            f"{_num(value)}{_cell(gate.detail)}</tr>"
        )
    note = _muted("A failed error gate means the data cannot support a verdict (exit code 2).")
    head = [("Status", False), ("Gate", False), ("Severity", False), ("Value", True), ("Detail", False)]
    return note + _table(head, rows)


def _disagreements(verdict: Verdict) -> str:
    if not verdict.disagreements:
        return _muted("The sources agree: server spans, client samples and metrics tell the same story.")
    cards = []
    for item in verdict.disagreements:
        values = "".join(
            f"<span><strong>{text(name)}</strong> {text(format_number(value))}</span>"
            for name, value in item.values.items()
        )
        cards.append(
            f'<div class="card"><h3>{text(item.what)}</h3><div class="values">{values}</div>'
            f'<p class="small">{text(item.explanation)}</p></div>'
        )
    return f'<div class="disagreements">{"".join(cards)}</div>'


def _recommendations(verdict: Verdict) -> str:
    if not verdict.recommendations:
        return _muted("No recommendations: nothing in this run calls for action.")
    items = "".join(f"<li>{text(line)}</li>" for line in verdict.recommendations)
    return f'<ol class="recommendations">{items}</ol>'


def _tool_row(stats: ToolStats, client: bool, corrected: bool) -> str:
    rate = f" ({format_percent(stats.errors / stats.count)})" if stats.count else ""
    cells = [
        f"<td><code>{text(stats.tool)}</code></td>",
        _cell(stats.cache),
        _num(format_number(stats.count, 12)),
        _num(f"{format_number(stats.errors, 12)}{rate}"),
        *(_num(format_ms(v)) for v in (stats.p50_ms, stats.p95_ms, stats.p99_ms, stats.max_ms)),
    ]
    if client:
        cells.append(_num(format_ms(stats.client_p95_ms)))
    if corrected:
        cells.append(_num(format_ms(stats.client_corrected_p95_ms)))
    return f"<tr>{''.join(cells)}</tr>"


def _tools(verdict: Verdict) -> str:
    if not verdict.tools:
        return _muted("No tool calls were found.")
    client = any(t.client_p95_ms is not None for t in verdict.tools)
    corrected = any(t.client_corrected_p95_ms is not None for t in verdict.tools)
    head = [("Tool", False), ("Cache", False), ("Requests", True), ("Errors", True)]
    head += [(name, True) for name in ("p50", "p95", "p99", "max")]
    if client:
        head.append(("Client p95", True))
    if corrected:
        head.append(("Client p95 (CO)", True))
    note = _muted(
        "Milliseconds. p50 to max come from the gateway's server spans. The client p95 is measured from the actual "
        "send; the CO-corrected one from the intended start, so it includes time spent waiting to be sent."
    )
    return note + _table(head, (_tool_row(t, client, corrected) for t in verdict.tools))


def _overall_rules(verdict: Verdict) -> list[Rule]:
    rules: dict[float, Rule] = {}
    for target in verdict.targets:
        if target.unit == "ms" and target.scope == "overall" and math.isfinite(target.bound):
            rules.setdefault(
                target.bound, Rule(f"{target.id} {format_bound(target.op, target.bound, 'ms')}", target.bound)
            )
    return list(rules.values())


def _timeseries(verdict: Verdict) -> str:
    points = verdict.timeseries
    if not points:
        return _muted("No time series was recorded for this run.")
    bands = [Band(phase.name, phase.start_s, phase.end_s) for phase in verdict.phases]

    def over_time(
        series: list[Series], label: str, y_title: str, size: tuple[int, int], rules: Sequence[Rule] = ()
    ) -> str:
        return line_chart(
            series,
            label=label,
            x_title="time since start",
            y_title=y_title,
            x_format=clock,
            time_axis=True,
            bands=bands,
            rules=rules,
            width=size[0],
            height=size[1],
        )

    rate = over_time([Series("requests/s", [(p.t, p.rps) for p in points], "s0")], "Request rate", "req/s", (520, 220))
    errors = over_time([Series("errors", [(p.t, p.errors) for p in points], "s2")], "Errors", "errors", (520, 220))
    latency = over_time(
        [
            Series("p50", [(p.t, p.p50_ms) for p in points], "s0"),
            Series("p95", [(p.t, p.p95_ms) for p in points], "s1"),
            Series("p99", [(p.t, p.p99_ms) for p in points], "s2"),
        ],
        "Latency percentiles",
        "ms",
        (1080, 300),
        _overall_rules(verdict),
    )
    phases = ", ".join(f"{p.name} {clock(p.start_s)}\u2013{clock(p.end_s)}" for p in verdict.phases)
    parts = [
        f"<h3>Latency</h3>{latency or _muted('No latency samples.')}",
        '<div class="grid2">',
        f"<div><h3>Request rate</h3>{rate or _muted('No requests.')}</div>",
        f"<div><h3>Errors</h3>{errors or _muted('No error counts.')}</div>",
        "</div>",
    ]
    if phases:
        parts.append(f'<p class="small muted">Phases: {text(phases)}.</p>')
    return "".join(parts)


def _capacity_row(point: CapacityPoint) -> str:
    return (
        f"<tr><td>{_badge('pass', 'met') if point.ok else _badge('fail', 'missed')}</td>"
        f"{_num(format_value(point.offered_rps, 'rps'))}{_num(format_value(point.achieved_rps, 'rps'))}"
        f"{_num(format_ms(point.p50_ms))}{_num(format_ms(point.p95_ms))}{_num(format_ms(point.p99_ms))}"
        f"{_num(format_percent(point.error_rate))}</tr>"
    )


def _capacity(verdict: Verdict) -> str:
    points = sorted(verdict.capacity, key=lambda p: p.offered_rps)
    if not points:
        return _muted("No capacity search in this run (the benchmark's capacity phase draws this curve).")
    marks = []
    for point in points:
        y = next((v for v in (point.p95_ms, point.p99_ms, point.p50_ms) if v is not None and math.isfinite(v)), None)
        if not point.ok and y is not None:
            label = f"{format_value(point.offered_rps, 'rps')} offered: targets missed"
            marks.append(Mark(point.offered_rps, y, label))
    chart = line_chart(
        [
            Series("p50", [(p.offered_rps, p.p50_ms) for p in points], "s0", markers=True),
            Series("p95", [(p.offered_rps, p.p95_ms) for p in points], "s1", markers=True),
            Series("p99", [(p.offered_rps, p.p99_ms) for p in points], "s2", markers=True),
        ],
        label="Latency against offered load",
        x_title="offered load (req/s)",
        y_title="ms",
        marks=marks,
        width=1080,
        height=320,
    )
    sustained = [p for p in points if p.ok]
    if sustained:
        best = max(sustained, key=lambda p: p.offered_rps)
        summary = (
            f"Highest offered rate that met the targets: {format_value(best.offered_rps, 'rps')} "
            f"(achieved {format_value(best.achieved_rps, 'rps')}, p95 {format_ms(best.p95_ms)} ms)."
        )
    else:
        summary = "No offered rate met the targets."
    head = [
        ("Targets", False),
        ("Offered", True),
        ("Achieved", True),
        ("p50 (ms)", True),
        ("p95 (ms)", True),
        ("p99 (ms)", True),
        ("Errors", True),
    ]
    return f'<p class="callout">{text(summary)}</p>{chart}' + _table(head, map(_capacity_row, points))


def _share_bars(all_: float, slow: float, median: float) -> str:
    bars = []
    for kind, label, value in (("all", "all", all_), ("slow", "slow", slow), ("median", "median", median)):
        width = max(0.0, min(1.0, value)) * 100 if math.isfinite(value) else 0.0
        bars.append(
            f'<div class="share {kind}"><span>{label}</span><span class="track">'
            f'<span class="fill" style="width:{width:.1f}%"></span></span>'
            f'<span class="pct">{text(format_percent(value))}</span></div>'
        )
    return f'<div class="shares">{"".join(bars)}</div>'


def _slowest_path(report: PathReport | None, colours: Mapping[str, str]) -> str:
    if report is None:
        return _muted("No traces were available to find the critical path.")
    intro = (
        f"Critical path of {format_number(report.traces, 12)} traces: share of the time on the critical path over all "
        f"traces, over the {format_number(report.slow_traces, 12)} slowest (root at or above the p95, "
        f"{format_ms(report.p95_root_ms)} ms) and over {format_number(report.median_traces, 12)} traces around the "
        "median. Self time is the span's own time on the critical path, children excluded."
    )
    rows = []
    for share in sorted(report.shares, key=lambda s: -s.share_slow if math.isfinite(s.share_slow) else 0.0):
        colour = colours.get(share.service, "c0")
        rows.append(
            f'<tr><td><span class="svc {colour}">{text(share.service)}</span></td>'
            f"<td><code>{text(share.operation)}</code></td>"
            f"<td>{_share_bars(share.share_all, share.share_slow, share.share_median)}</td>"
            f"{_num(format_ms(share.self_ms_mean))}{_num(format_ms(share.self_ms_p50))}{_num(format_ms(share.self_ms_p95))}</tr>"
        )
    head = [
        ("Service", False),
        ("Operation", False),
        ("Share of the critical path", False),
        ("Self mean (ms)", True),
        ("Self p50 (ms)", True),
        ("Self p95 (ms)", True),
    ]
    return f'<p class="callout">{text(report.sentence)}</p>{_muted(intro)}' + _table(head, rows)


def _file_href(file: str) -> str:
    """A link to the trace file: ``file://`` for an absolute path, else a percent-encoded relative reference.

    Percent-encoding the colon keeps a name like ``javascript:x`` a relative path, never a scheme.
    """
    if file.startswith("/"):
        return Path(file).as_uri()
    return urllib.parse.quote(file, safe="/")


def _exemplar(exemplar: Exemplar, spans: Sequence[SpanRecord], colours: Mapping[str, str]) -> str:
    head = [
        _badge("plain", exemplar.label),
        f"<strong>{text(format_ms(exemplar.duration_ms))} ms</strong>",
    ]
    if exemplar.tool:
        head.append(f"<code>{text(exemplar.tool)}</code>")
    head.append(f'<span class="small muted">trace <code>{text(exemplar.trace_id)}</code></span>')
    if exemplar.file:
        head.append(
            f'<a class="small" href="{text(_file_href(exemplar.file))}" title="{text(exemplar.file)}">'
            "OTLP JSON for Jaeger UI</a>"
        )
    body = [f"<header>{''.join(head)}</header>"]
    if exemplar.file:
        body.append(
            '<p class="small muted">Jaeger UI \u2192 Search \u2192 JSON File opens '
            f"<code>{text(exemplar.file)}</code>.</p>"
        )
    drawing, hidden = waterfall(spans, colours, label=f"Waterfall of trace {exemplar.trace_id}")
    if drawing:
        services = sorted({span.service for span in spans})
        legend = "".join(f'<span class="svc {colours.get(s, "c0")}">{text(s)}</span>' for s in services)
        errors = sum(span.error for span in spans)
        facts = f"{len(spans)} spans" + (f", {errors} with errors" if errors else "")
        body.append(f'<div class="legend">{legend}<span>{text(facts)}</span></div>{drawing}')
        if hidden:
            body.append(_muted(f"{hidden} more spans are not drawn; the trace file has them all."))
    else:
        body.append(_muted("The spans of this trace were not loaded; open it in Jaeger by its trace id."))
    return f'<article class="exemplar">{"".join(body)}</article>'


def _exemplars(verdict: Verdict, traces: Mapping[str, Sequence[SpanRecord]], colours: Mapping[str, str]) -> str:
    if not verdict.exemplars:
        return _muted("No exemplar traces were selected.")
    note = _muted(
        "Representative traces at the p50, p95 and p99 and failures, drawn as Jaeger draws them: one row per span, "
        "bars on the trace's time axis, coloured by service. Hover a row for its attributes."
    )
    return note + "".join(_exemplar(e, traces.get(e.trace_id, ()), colours) for e in verdict.exemplars)


def _baseline_row(change: BaselineChange, scale: float) -> str:
    if change.regression:
        kind, label, css = "fail", "regression", "worse"
    elif change.ci_high < 0:
        kind, label, css = "pass", "faster", "better"
    else:
        kind, label, css = "plain", "no clear change", "same"
    ci = f"{format_margin(change.ci_low)} to {format_margin(change.ci_high)}"
    return (
        f"<tr><td><code>{text(change.tool)}</code></td>{_cell(change.stat)}"
        f"{_num(format_ms(change.baseline_ms))}{_num(format_ms(change.current_ms))}"
        f'<td class="num{" bad" if change.regression else ""}">{text(format_margin(change.change))}</td>'
        f"{_num(ci)}<td>{interval(change.change, change.ci_low, change.ci_high, scale=scale, css=css)}</td>"
        f"<td>{_badge(kind, label)}</td></tr>"
    )


def _baseline(changes: list[BaselineChange] | None) -> str:
    if changes is None:
        return _muted("No baseline run was given (--baseline).")
    if not changes:
        return _muted("The baseline run has no statistics in common with this one.")
    extremes = [abs(v) for c in changes for v in (c.change, c.ci_low, c.ci_high) if math.isfinite(v)]
    scale = max([0.05, *extremes]) * 1.1
    head = [
        ("Tool", False),
        ("Stat", False),
        ("Baseline (ms)", True),
        ("Current (ms)", True),
        ("Change", True),
        ("95 % CI", True),
        ("Interval", False),
        ("Verdict", False),
    ]
    note = _muted("Change is relative (+25 % is slower); the interval is a 95 % bootstrap confidence interval.")
    return note + _table(head, (_baseline_row(c, scale) for c in changes))


def _queries(verdict: Verdict) -> str:
    if not verdict.queries:
        return _muted("The source recorded no queries.")
    blocks = "".join(f"<pre><code>{text(query)}</code></pre>" for query in verdict.queries)
    return (
        f"<details><summary>{len(verdict.queries)} queries the sources ran \u2014 the evidence behind every "
        f"number</summary>{blocks}</details>"
    )


def render_html(
    verdict: Verdict, traces: Mapping[str, Sequence[SpanRecord]] | None = None, *, title: str | None = None
) -> str:
    """The report page. ``traces`` maps an exemplar's trace id to its spans, drawn as a waterfall."""
    traces = traces or {}
    colours = _service_classes(verdict, traces)
    title = title or f"Load test report \u2014 {verdict.run_id or verdict.source}"
    sections = [
        _section("targets", _targets(verdict)),
        _section("quality", _quality(verdict)),
        _section("disagreements", _disagreements(verdict)),
        _section("recommendations", _recommendations(verdict)),
        _section("tools", _tools(verdict)),
        _section("timeseries", _timeseries(verdict)),
        _section("capacity", _capacity(verdict)),
        _section("slowest-path", _slowest_path(verdict.slowest_path, colours)),
        _section("exemplars", _exemplars(verdict, traces, colours)),
        _section("baseline", _baseline(verdict.baseline)),
        _section("queries", _queries(verdict)),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{text(content_security_policy())}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        f'<meta name="generator" content="pp-validate {text(verdict.schema)}">'
        f"<title>{text(title)}</title><script>{HEAD_SCRIPT}</script><style>{STYLE}</style></head>"
        f"<body><main>{_header(verdict, title)}{_nav()}{''.join(sections)}"
        f"<footer>Written by pp-validate ({text(verdict.schema)}). Self-contained: this file fetches nothing."
        f"</footer></main><script>{TAIL_SCRIPT}</script></body></html>\n"
    )


def write_html(
    verdict: Verdict,
    path: Path,
    traces: Mapping[str, Sequence[SpanRecord]] | None = None,
    *,
    title: str | None = None,
) -> None:
    write_atomic(path, render_html(verdict, traces=traces, title=title).encode())
