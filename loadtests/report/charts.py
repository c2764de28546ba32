"""Inline SVG charts drawn by a few lines of Python instead of a charting library.

The report must open offline and print, so its charts are static SVG inside the page. Colours come from CSS
classes (``s0``… for series, ``c0``… for services), so the page's palette, dark mode and print styles reach them.
Every string that enters the SVG passes through ``markup.text``; coordinates are numbers formatted here.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from loadtests.report.markup import clip, text
from loadtests.report.units import DASH, format_ms, format_number

if TYPE_CHECKING:
    from loadtests.validate.spans import SpanRecord

__all__ = ("Band", "Mark", "Rule", "Series", "interval", "line_chart", "nice_ticks", "span_rows", "waterfall")

Format = Callable[[float], str]

_TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400)
_HOVER_LIMIT = 240


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[float, float | None]]
    """``None`` values leave a gap in the line."""
    style: str
    """A CSS class, ``s0``…``s3``."""
    markers: bool = False


@dataclass(frozen=True)
class Band:
    """A shaded interval of x with a label: a test phase."""

    name: str
    start: float
    end: float


@dataclass(frozen=True)
class Rule:
    """A horizontal reference line: a target's bound."""

    label: str
    value: float


@dataclass(frozen=True)
class Mark:
    """A point to call out (a capacity step that missed its targets)."""

    x: float
    y: float
    label: str


def _f(value: float) -> str:
    return f"{value:.1f}"


def _tick(value: float) -> str:
    return format_number(value, 6)


def _step(span: float, count: int, *, time_axis: bool = False) -> float:
    raw = span / max(count, 1)
    if not math.isfinite(raw) or raw <= 0:
        return 1.0
    if time_axis and raw >= 1:
        return float(next((s for s in _TIME_STEPS if s >= raw), _TIME_STEPS[-1] * math.ceil(raw / _TIME_STEPS[-1])))
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if raw <= m * power * (1 + 1e-9))


def nice_ticks(low: float, high: float, count: int = 5, *, time_axis: bool = False) -> list[float]:
    """Round tick values covering ``[low, high]``: steps of 1, 2, 2.5 or 5 × 10ⁿ (whole minutes for time)."""
    step = _step(high - low, count, time_axis=time_axis)
    first = math.ceil(low / step - 1e-9) * step
    n = math.floor((high - first) / step + 1e-9)
    return [first + i * step for i in range(max(n, 0) + 1)]


def _nice_top(high: float, count: int = 4) -> float:
    if not math.isfinite(high) or high <= 0:
        return 1.0
    step = _step(high, count)
    return math.ceil(high / step - 1e-9) * step


def clock(seconds: float) -> str:
    """Seconds since the run's start as ``m:ss`` (or ``h:mm:ss``)."""
    whole = round(seconds)
    sign, whole = ("\u2212" if whole < 0 else ""), abs(whole)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours}:{minutes:02d}:{secs:02d}" if hours else f"{sign}{minutes}:{secs:02d}"


@dataclass(frozen=True)
class _Frame:
    x0: float
    x1: float
    y0: float
    y1: float
    width: int = 760
    height: int = 240
    left: int = 64
    right: int = 18
    top: int = 24
    bottom: int = 36

    @property
    def plot_w(self) -> float:
        return self.width - self.left - self.right

    @property
    def plot_h(self) -> float:
        return self.height - self.top - self.bottom

    def x(self, value: float) -> float:
        return self.left + (value - self.x0) / (self.x1 - self.x0) * self.plot_w

    def y(self, value: float) -> float:
        return self.top + self.plot_h - (value - self.y0) / (self.y1 - self.y0) * self.plot_h


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _axes(frame: _Frame, x_format: Format, y_format: Format, x_title: str, y_title: str, time_axis: bool) -> list[str]:
    out: list[str] = ['<g class="axis">']
    for value in nice_ticks(frame.y0, frame.y1, 4):
        y = _f(frame.y(value))
        out.append(f'<line class="grid" x1="{frame.left}" x2="{frame.width - frame.right}" y1="{y}" y2="{y}"/>')
        out.append(f'<text x="{frame.left - 6}" y="{y}" dy="0.32em" text-anchor="end">{text(y_format(value))}</text>')
    bottom = frame.top + frame.plot_h
    for value in nice_ticks(frame.x0, frame.x1, 6, time_axis=time_axis):
        x = _f(frame.x(value))
        out.append(f'<line class="tick" x1="{x}" x2="{x}" y1="{bottom}" y2="{bottom + 4}"/>')
        out.append(f'<text x="{x}" y="{bottom + 16}" text-anchor="middle">{text(x_format(value))}</text>')
    out.append(f'<line class="base" x1="{frame.left}" x2="{frame.width - frame.right}" y1="{bottom}" y2="{bottom}"/>')
    if x_title:
        out.append(
            f'<text class="title" x="{frame.width - frame.right}" y="{frame.height - 4}" text-anchor="end">'
            f"{text(x_title)}</text>"
        )
    if y_title:
        out.append(f'<text class="title" x="{frame.left}" y="12" text-anchor="start">{text(y_title)}</text>')
    out.append("</g>")
    return out


def _bands(frame: _Frame, bands: Sequence[Band]) -> list[str]:
    out: list[str] = []
    for index, band in enumerate(sorted(bands, key=lambda b: b.start)):
        start, end = max(band.start, frame.x0), min(band.end, frame.x1)
        if end <= start:
            continue
        x0, x1 = frame.x(start), frame.x(end)
        label = clip(band.name, max(1, int((x1 - x0 - 6) / 7.0)))
        out.append(
            f'<g class="band band{index % 2}"><title>{text(band.name)}: {text(clock(band.start))}\u2013'
            f"{text(clock(band.end))}</title>"
            f'<rect x="{_f(x0)}" y="{frame.top}" width="{_f(x1 - x0)}" height="{_f(frame.plot_h)}"/>'
            f'<line x1="{_f(x0)}" x2="{_f(x0)}" y1="{frame.top}" y2="{_f(frame.top + frame.plot_h)}"/>'
            f'<text x="{_f(x0 + 4)}" y="{frame.top + 11}">{text(label)}</text></g>'
        )
    return out


def _path(frame: _Frame, series: Series) -> list[str]:
    segments: list[list[tuple[float, float]]] = [[]]
    for x, y in sorted(series.points, key=lambda p: p[0]):
        if _finite(y) and math.isfinite(x):
            assert y is not None
            segments[-1].append((frame.x(x), frame.y(y)))
        elif segments[-1]:
            segments.append([])
    out: list[str] = [f'<g class="series {text(series.style)}">']
    for segment in segments:
        if len(segment) > 1:
            d = "M" + " L".join(f"{_f(x)} {_f(y)}" for x, y in segment)
            out.append(f'<path d="{d}"/>')
        if len(segment) == 1 or (series.markers and segment):
            out.extend(f'<circle cx="{_f(x)}" cy="{_f(y)}" r="3"/>' for x, y in segment)
    out.append("</g>")
    return out


def _hover(frame: _Frame, series: Sequence[Series], x_format: Format, y_format: Format) -> list[str]:
    """Transparent columns whose tooltips list every series at that x (at most ``_HOVER_LIMIT`` of them)."""
    values: dict[float, list[str]] = defaultdict(list)
    for line in series:
        for x, y in line.points:
            if math.isfinite(x):
                shown = y_format(y) if y is not None and math.isfinite(y) else DASH
                values[x].append(f"{line.name}: {shown}")
    xs = sorted(values)
    if not xs:
        return []
    xs = xs[:: max(1, math.ceil(len(xs) / _HOVER_LIMIT))]
    pixels = [frame.x(x) for x in xs]
    out = ['<g class="hover">']
    for index, x in enumerate(xs):
        left = frame.left if index == 0 else (pixels[index - 1] + pixels[index]) / 2
        right = frame.width - frame.right if index == len(xs) - 1 else (pixels[index] + pixels[index + 1]) / 2
        tip = "\n".join([x_format(x), *values[x]])
        out.append(
            f'<rect x="{_f(left)}" y="{frame.top}" width="{_f(max(right - left, 0.5))}" height="{_f(frame.plot_h)}">'
            f"<title>{text(tip)}</title></rect>"
        )
    out.append("</g>")
    return out


def line_chart(
    series: Sequence[Series],
    *,
    label: str,
    x_title: str = "",
    y_title: str = "",
    x_format: Format = _tick,
    y_format: Format = _tick,
    bands: Sequence[Band] = (),
    rules: Sequence[Rule] = (),
    marks: Sequence[Mark] = (),
    time_axis: bool = False,
    width: int = 760,
    height: int = 240,
) -> str:
    """A line chart in a ``<figure>`` with an HTML legend; an empty string when there is nothing to draw.

    ``width`` and ``height`` are the viewBox in CSS pixels at which the text is 11 px: give the width the chart will
    roughly occupy, so its labels stay readable when it scales to its box.
    """
    xs = [x for line in series for x, y in line.points if math.isfinite(x) and _finite(y)]
    if not xs:
        return ""
    ys = [y for line in series for _, y in line.points if y is not None and math.isfinite(y)]
    ys += [mark.y for mark in marks if math.isfinite(mark.y)]
    x0 = min([*xs, *(b.start for b in bands if math.isfinite(b.start))])
    x1 = max([*xs, *(b.end for b in bands if math.isfinite(b.end))])
    if x1 <= x0:
        x0, x1 = x0 - 0.5, x1 + 0.5
    data_top = _nice_top(max(ys))
    shown_rules = [rule for rule in rules if math.isfinite(rule.value) and 0 < rule.value <= data_top * 1.5]
    top = _nice_top(max([data_top, *(rule.value for rule in shown_rules)]))
    bottom = min(0.0, min(ys))
    bottom = -_nice_top(-bottom) if bottom < 0 else 0.0
    frame = _Frame(x0, x1, bottom, top, width=width, height=height)
    parts = [
        f'<svg class="chart" viewBox="0 0 {frame.width} {frame.height}" role="img" aria-label="{text(label)}"'
        ' xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet">',
        *_bands(frame, bands),
        *_axes(frame, x_format, y_format, x_title, y_title, time_axis),
    ]
    for rule in shown_rules:
        y = _f(frame.y(rule.value))
        parts.append(
            f'<g class="rule"><line x1="{frame.left}" x2="{frame.width - frame.right}" y1="{y}" y2="{y}"/>'
            f'<text x="{frame.width - frame.right - 4}" y="{y}" dy="-0.35em" text-anchor="end">'
            f"{text(rule.label)}</text></g>"
        )
    for line in series:
        parts.extend(_path(frame, line))
    for mark in marks:
        parts.append(
            f'<g class="mark"><title>{text(mark.label)}</title>'
            f'<circle cx="{_f(frame.x(mark.x))}" cy="{_f(frame.y(mark.y))}" r="6"/></g>'
        )
    parts.extend(_hover(frame, series, x_format, y_format))
    parts.append("</svg>")
    legend = "".join(f'<span class="key {text(line.style)}">{text(line.name)}</span>' for line in series)
    if marks:
        legend += '<span class="key missed">missed targets</span>'
    return f'<figure class="chart-box">{"".join(parts)}<figcaption class="legend">{legend}</figcaption></figure>'


def span_rows(spans: Sequence[SpanRecord]) -> list[tuple[SpanRecord, int, bool]]:
    """Spans in waterfall order — each parent before its children, siblings by start — with depth and orphan flag.

    A span whose parent is not in the trace (an incomplete trace) becomes a root; spans caught in a parent cycle are
    still drawn, once each.
    """
    ids = {span.span_id for span in spans}
    children: dict[str | None, list[SpanRecord]] = defaultdict(list)
    for span in spans:
        parent = span.parent_id if span.parent_id in ids and span.parent_id != span.span_id else None
        children[parent].append(span)
    for group in children.values():
        group.sort(key=lambda s: (s.start_ns, s.span_id))
    rows: list[tuple[SpanRecord, int, bool]] = []
    seen: set[int] = set()

    def walk(root: SpanRecord) -> None:
        stack = [(root, 0)]
        while stack:
            span, depth = stack.pop()
            if id(span) in seen:
                continue
            seen.add(id(span))
            rows.append((span, depth, span.parent_id is not None and span.parent_id not in ids))
            stack.extend((child, depth + 1) for child in reversed(children.get(span.span_id, [])))

    for root in children.get(None, []):
        walk(root)
    for span in sorted(spans, key=lambda s: (s.start_ns, s.span_id)):
        if id(span) not in seen:
            walk(span)
    return rows


def _span_tip(span: SpanRecord, start_ms: float, orphan: bool) -> str:
    lines = [
        f"{span.service} \u00b7 {span.name}",
        f"{format_ms(span.duration_ns / 1e6)} ms, starts at +{format_ms(start_ms)} ms \u00b7 {span.kind}"
        + (" \u00b7 ERROR" if span.error else ""),
        f"span {span.span_id}" + (f" (parent {span.parent_id} not in trace)" if orphan else ""),
    ]
    for key, value in list(span.attributes.items())[:24]:
        lines.append(clip(f"{key} = {value}", 240))
    return "\n".join(lines)


def waterfall(
    spans: Sequence[SpanRecord], colours: Mapping[str, str], *, label: str, max_rows: int = 250
) -> tuple[str, int]:
    """A trace as a waterfall (Jaeger's layout): one row per span, bars on a shared time axis, coloured by service.

    Returns the SVG and how many spans did not fit in ``max_rows``.
    """
    rows = span_rows(spans)
    if not rows:
        return "", 0
    shown = rows[:max_rows]
    t0 = min(span.start_ns for span in spans)
    total_ms = max(max(span.end_ns for span in spans) - t0, 1) / 1e6
    width, label_w, row_h, axis_h = 960, 340, 20, 28
    bar_x0, bar_w = label_w + 12, width - label_w - 12 - 84
    height = axis_h + len(shown) * row_h + 6
    out = [
        f'<svg class="chart waterfall" viewBox="0 0 {width} {height}" role="img" aria-label="{text(label)}"'
        ' xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMinYMin meet"><g class="axis">'
    ]
    for value in nice_ticks(0, total_ms, 6):
        tick_x = _f(bar_x0 + value / total_ms * bar_w)
        out.append(f'<line class="grid" x1="{tick_x}" x2="{tick_x}" y1="{axis_h - 6}" y2="{height}"/>')
        out.append(f'<text x="{tick_x}" y="{axis_h - 10}" text-anchor="middle">{text(_tick(value))} ms</text>')
    out.append("</g>")
    for index, (span, depth, orphan) in enumerate(shown):
        y = axis_h + index * row_h
        indent = min(depth, 14) * 12
        start_ms = (span.start_ns - t0) / 1e6
        duration_ms = max(span.duration_ns, 0) / 1e6
        x = bar_x0 + start_ms / total_ms * bar_w
        w = max(duration_ms / total_ms * bar_w, 1.0)
        colour = text(colours.get(span.service, "c0"))
        name = clip(span.name, max(4, int((label_w - 24 - indent) / 6.4)))
        state, warn = (" err", " \u26a0") if span.error else ("", "")
        out.append(
            f'<g class="row{state}"><title>{text(_span_tip(span, start_ms, orphan))}</title>'
            f'<rect class="zebra" x="0" y="{y}" width="{width}" height="{row_h}"/>'
            f'<rect class="dot {colour}" x="{6 + indent}" y="{y + 6}" width="8" height="8" rx="2"/>'
            f'<text class="name" x="{20 + indent}" y="{y + 14}">{text(name)}{warn}</text>'
            f'<rect class="bar {colour}" x="{_f(x)}" y="{y + 4}" width="{_f(w)}" height="{row_h - 8}" rx="2"/>'
            f'<text class="dur" x="{_f(x + w + 4)}" y="{y + 14}">{text(format_ms(duration_ms))} ms</text></g>'
        )
    out.append("</svg>")
    return "".join(out), len(rows) - len(shown)


def interval(change: float, low: float, high: float, *, scale: float, css: str) -> str:
    """A small forest-plot mark: the relative change with its confidence interval, around a zero line."""
    width, height, pad = 160, 18, 6
    half = width / 2 - pad

    def x(value: float) -> float:
        bounded = max(-scale, min(scale, value)) if math.isfinite(value) else 0.0
        return width / 2 + bounded / scale * half

    tip = f"{change * 100:+.1f} % (95 % CI {low * 100:+.1f} % to {high * 100:+.1f} %)".replace("-", "\u2212")
    return (
        f'<svg class="ci {text(css)}" viewBox="0 0 {width} {height}" role="img" aria-label="{text(tip)}"'
        f' xmlns="http://www.w3.org/2000/svg"><title>{text(tip)}</title>'
        f'<line class="zero" x1="{width / 2}" x2="{width / 2}" y1="1" y2="{height - 1}"/>'
        f'<line class="range" x1="{_f(x(low))}" x2="{_f(x(high))}" y1="{height / 2}" y2="{height / 2}"/>'
        f'<circle cx="{_f(x(change))}" cy="{height / 2}" r="4"/></svg>'
    )
