"""The page's static style and its two small scripts, inline so the report opens offline.

The scripts are constants (no input ever reaches them) and the page allows exactly these by their SHA-256 in its
Content-Security-Policy. ``HEAD_SCRIPT`` records script errors, rejected promises, CSP violations and ``alert``
calls as ``data-errors`` on ``<html>``; ``TAIL_SCRIPT`` runs last and sets ``data-ok`` and ``data-charts`` there —
the browser test reads both from the dumped DOM.
"""

from __future__ import annotations

import base64
import hashlib

__all__ = ("HEAD_SCRIPT", "STYLE", "TAIL_SCRIPT", "content_security_policy")

HEAD_SCRIPT = """
(function () {
  var root = document.documentElement;
  function note(kind, message) {
    var text = kind + ": " + String(message);
    var before = root.getAttribute("data-errors");
    root.setAttribute("data-errors", before ? before + " | " + text : text);
  }
  window.onerror = function (message, source, line) { note("error", message + " (line " + line + ")"); };
  window.addEventListener("unhandledrejection", function (event) { note("rejection", event.reason); });
  document.addEventListener("securitypolicyviolation", function (event) {
    note("csp", event.violatedDirective + " " + event.blockedURI);
  });
  window.alert = function (message) { note("alert", message); };
})();
"""

TAIL_SCRIPT = """
(function () {
  var root = document.documentElement;
  var toggle = document.getElementById("only-failed");
  var targets = document.getElementById("targets");
  if (toggle && targets) {
    var label = toggle.closest("label");
    if (label) { label.hidden = false; }
    toggle.addEventListener("change", function () { targets.classList.toggle("only-failed", toggle.checked); });
  }
  var opened = [];
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details:not([open])").forEach(function (d) { d.open = true; opened.push(d); });
  });
  window.addEventListener("afterprint", function () {
    opened.forEach(function (d) { d.open = false; });
    opened = [];
  });
  root.setAttribute("data-charts", String(document.querySelectorAll("svg.chart").length));
  root.setAttribute("data-ok", "1");
})();
"""


def _digest(script: str) -> str:
    return base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()


def content_security_policy() -> str:
    """Nothing may be fetched; only our two scripts may run; inline styles (chart bar widths) are allowed."""
    scripts = " ".join(f"'sha256-{_digest(script)}'" for script in (HEAD_SCRIPT, TAIL_SCRIPT))
    return (
        f"default-src 'none'; script-src {scripts}; style-src 'unsafe-inline'; img-src data:;"
        " base-uri 'none'; form-action 'none'"
    )


STYLE = """
:root {
  color-scheme: light dark;
  --fg: #1f2328; --muted: #59636e; --bg: #ffffff; --panel: #f6f8fa; --line: #d8dee4; --accent: #0969da;
  --pass: #1a7f37; --pass-bg: #dafbe1; --fail: #cf222e; --fail-bg: #ffebe9; --warn: #9a6700; --warn-bg: #fff8c5;
  --s0: #0072b2; --s1: #e69f00; --s2: #d55e00; --s3: #009e73;
  --c0: #0072b2; --c1: #e69f00; --c2: #009e73; --c3: #cc79a7; --c4: #56b4e9; --c5: #d55e00; --c6: #8172b3;
  --c7: #937860;
  --band0: rgba(9, 105, 218, 0.05); --band1: rgba(9, 105, 218, 0.11); --hover: rgba(127, 127, 127, 0.14);
}
@media (prefers-color-scheme: dark) {
  :root {
    --fg: #e6edf3; --muted: #9198a1; --bg: #0d1117; --panel: #161b22; --line: #30363d; --accent: #4493f8;
    --pass: #3fb950; --pass-bg: #12261e; --fail: #f85149; --fail-bg: #2d1214; --warn: #d29922; --warn-bg: #272115;
    --s0: #56b4e9; --s1: #f0b429; --s2: #ff7b54; --s3: #3fcf9b;
    --band0: rgba(68, 147, 248, 0.07); --band1: rgba(68, 147, 248, 0.15);
  }
}
@media print {
  :root {
    color-scheme: light;
    --fg: #000; --muted: #444; --bg: #fff; --panel: #f3f4f6; --line: #ccc; --accent: #0969da;
    --pass: #1a7f37; --pass-bg: #dafbe1; --fail: #cf222e; --fail-bg: #ffebe9; --warn: #9a6700; --warn-bg: #fff8c5;
    --s0: #0072b2; --s1: #e69f00; --s2: #d55e00; --s3: #009e73;
    --band0: rgba(9, 105, 218, 0.05); --band1: rgba(9, 105, 218, 0.11);
  }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: var(--bg); color: var(--fg);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif;
  -webkit-print-color-adjust: exact; print-color-adjust: exact;
}
main { max-width: 1200px; margin: 0 auto; padding: 24px clamp(12px, 3vw, 36px) 48px; }
h1 { font-size: 22px; margin: 0 0 6px; line-height: 1.25; overflow-wrap: anywhere; }
h2 { font-size: 18px; margin: 36px 0 12px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 8px; }
a { color: var(--accent); }
code, pre, .mono {
  font-family: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace;
}
code { font-size: 0.9em; overflow-wrap: break-word; }
td.name { min-width: 190px; }
pre {
  margin: 8px 0; padding: 10px 12px; background: var(--panel); border: 1px solid var(--line); border-radius: 6px;
  font-size: 12.5px; line-height: 1.45; white-space: pre-wrap; overflow-wrap: anywhere;
}
.muted { color: var(--muted); }
.small { font-size: 13px; }
.top { display: flex; gap: 20px; align-items: stretch; flex-wrap: wrap; }
.verdict {
  display: flex; flex-direction: column; justify-content: center; align-items: center; min-width: 150px;
  padding: 12px 18px; border-radius: 10px; border: 2px solid currentColor;
}
.verdict .word { font-size: 28px; font-weight: 800; letter-spacing: 0.06em; }
.verdict .sub { font-size: 12px; }
.verdict.pass { color: var(--pass); background: var(--pass-bg); }
.verdict.fail { color: var(--fail); background: var(--fail-bg); }
.verdict.na { color: var(--warn); background: var(--warn-bg); }
.grade {
  display: flex; flex-direction: column; align-items: center; justify-content: center; min-width: 96px;
  border-radius: 10px; border: 1px solid var(--line); background: var(--panel); padding: 8px 14px;
}
.grade .letter { font-size: 40px; font-weight: 800; line-height: 1; }
.grade .sub { font-size: 12px; color: var(--muted); }
.grade.good .letter { color: var(--pass); } .grade.fair .letter { color: var(--warn); }
.grade.poor .letter { color: var(--fail); }
.meta { flex: 1 1 320px; min-width: 0; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0; font-size: 13.5px; }
.facts dt { color: var(--muted); } .facts dd { margin: 0; overflow-wrap: anywhere; }
.rule-text { margin: 14px 0 0; padding: 10px 14px; background: var(--panel); border-left: 3px solid var(--accent);
  border-radius: 0 6px 6px 0; font-size: 13.5px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 10px; margin: 16px 0 0; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; background: var(--bg); }
.card .value { font-size: 20px; font-weight: 700; font-variant-numeric: tabular-nums; }
.card .label { font-size: 12.5px; color: var(--muted); }
nav.toc { margin: 18px 0 0; font-size: 13.5px; display: flex; flex-wrap: wrap; gap: 4px 14px; }
nav.toc a { text-decoration: none; }
nav.toc a:hover { text-decoration: underline; }
.table-wrap { overflow-x: auto; margin: 6px 0; }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; font-variant-numeric: tabular-nums; }
th, td { padding: 6px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
thead th { font-size: 12px; text-transform: uppercase; letter-spacing: 0.03em; color: var(--muted);
  border-bottom: 2px solid var(--line); white-space: nowrap; }
tbody tr:hover { background: var(--hover); }
td.num, th.num { text-align: right; white-space: nowrap; }
td.good { color: var(--pass); } td.bad { color: var(--fail); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 600;
  white-space: nowrap; border: 1px solid transparent; }
.badge.pass { color: var(--pass); background: var(--pass-bg); }
.badge.fail { color: var(--fail); background: var(--fail-bg); }
.badge.na, .badge.warn { color: var(--warn); background: var(--warn-bg); }
.badge.plain { color: var(--muted); border-color: var(--line); }
#targets.only-failed tr.pass { display: none; }
.toggle { display: inline-flex; gap: 6px; align-items: center; font-size: 13px; color: var(--muted); }
.callout { padding: 10px 14px; border: 1px solid var(--line); border-left: 4px solid var(--s1); border-radius: 6px;
  background: var(--panel); font-size: 14.5px; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); gap: 8px 24px; }
figure { margin: 8px 0 18px; }
.chart-box { break-inside: avoid; }
.chart-box h3 { margin-top: 6px; }
svg.chart { display: block; width: 100%; height: auto; overflow: visible; }
svg text { font: 11px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill: var(--muted); }
svg .title { font-weight: 600; }
.axis .grid { stroke: var(--line); stroke-width: 1; }
.axis .base, .axis .tick { stroke: var(--muted); stroke-width: 1; }
.series path { fill: none; stroke-width: 2; stroke-linejoin: round; stroke-linecap: round; }
.series.s0 path { stroke: var(--s0); } .series.s0 circle { fill: var(--s0); }
.series.s1 path { stroke: var(--s1); } .series.s1 circle { fill: var(--s1); }
.series.s2 path { stroke: var(--s2); } .series.s2 circle { fill: var(--s2); }
.series.s3 path { stroke: var(--s3); } .series.s3 circle { fill: var(--s3); }
.band0 rect { fill: var(--band0); } .band1 rect { fill: var(--band1); }
.band line { stroke: var(--muted); stroke-dasharray: 3 3; }
.band text { font-weight: 600; }
.rule line { stroke: var(--fail); stroke-width: 1.2; stroke-dasharray: 6 4; } .rule text { fill: var(--fail); }
.mark circle { fill: none; stroke: var(--fail); stroke-width: 2; }
.hover rect { fill: transparent; } .hover rect:hover { fill: var(--hover); }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 12.5px; color: var(--muted); margin-top: 4px; }
.key::before { content: ""; display: inline-block; width: 16px; height: 3px; border-radius: 2px;
  vertical-align: middle; margin-right: 6px; background: var(--muted); }
.key.s0::before { background: var(--s0); } .key.s1::before { background: var(--s1); }
.key.s2::before { background: var(--s2); } .key.s3::before { background: var(--s3); }
.key.missed::before { width: 10px; height: 10px; border-radius: 50%; background: none;
  border: 2px solid var(--fail); }
.svc::before { content: ""; display: inline-block; width: 10px; height: 10px; border-radius: 3px;
  vertical-align: -1px; margin-right: 6px; background: var(--muted); }
.c0 { --c: var(--c0); } .c1 { --c: var(--c1); } .c2 { --c: var(--c2); } .c3 { --c: var(--c3); }
.c4 { --c: var(--c4); } .c5 { --c: var(--c5); } .c6 { --c: var(--c6); } .c7 { --c: var(--c7); }
.svc.c0::before, .svc.c1::before, .svc.c2::before, .svc.c3::before, .svc.c4::before, .svc.c5::before,
.svc.c6::before, .svc.c7::before { background: var(--c); }
.waterfall .bar, .waterfall .dot { fill: var(--c, var(--muted)); }
.waterfall .zebra { fill: transparent; }
.waterfall .row:nth-of-type(even) .zebra { fill: var(--panel); }
.waterfall .row:hover .zebra { fill: var(--hover); }
.waterfall .name { fill: var(--fg); font-size: 12px; }
.waterfall .dur { font-size: 11px; }
.waterfall .row.err .bar { stroke: var(--fail); stroke-width: 2; }
.waterfall .row.err .name { fill: var(--fail); }
.exemplar { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px 4px; margin: 12px 0; }
.exemplar header { display: flex; flex-wrap: wrap; gap: 6px 12px; align-items: baseline; }
.exemplar .legend { margin: 6px 0; }
.shares { display: grid; gap: 3px; min-width: 220px; }
.share { display: grid; grid-template-columns: 56px 1fr 48px; gap: 8px; align-items: center; font-size: 11.5px;
  color: var(--muted); }
.share .track { height: 8px; border-radius: 4px; background: var(--panel); overflow: hidden; }
.share .fill { display: block; height: 100%; border-radius: 4px; }
.share.all .fill { background: var(--s0); } .share.slow .fill { background: var(--s2); }
.share.median .fill { background: var(--s3); }
.share .pct { text-align: right; font-variant-numeric: tabular-nums; color: var(--fg); }
svg.ci { width: 160px; height: 18px; display: block; }
svg.ci .zero { stroke: var(--muted); stroke-dasharray: 2 2; }
svg.ci .range { stroke: var(--muted); stroke-width: 3; stroke-linecap: round; }
svg.ci circle { fill: var(--fg); }
svg.ci.worse .range { stroke: var(--fail); } svg.ci.worse circle { fill: var(--fail); }
svg.ci.better .range { stroke: var(--pass); } svg.ci.better circle { fill: var(--pass); }
.disagreements { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 12px; }
.values { display: flex; flex-wrap: wrap; gap: 4px 14px; margin: 6px 0; font-size: 13px; }
.values span { font-variant-numeric: tabular-nums; }
ol.recommendations li { margin: 6px 0; }
details summary { cursor: pointer; font-weight: 600; }
footer { margin-top: 40px; font-size: 12px; color: var(--muted); border-top: 1px solid var(--line); padding-top: 10px; }
@media print {
  body { font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  nav.toc, .toggle { display: none !important; }
  h2 { break-after: avoid; }
  tr, figure, .card, .callout { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
  tbody tr:hover, .hover rect:hover { background: none; fill: transparent; }
}
"""
