"""A realistic verdict with every section filled, and the spans of its exemplar traces; reusable by any test.

``hostile`` turns any verdict or trace set into one where every string carries markup, quotes, control characters
and non-ASCII text, consistently (the same id stays the same id), so escaping is tested everywhere a string goes.
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

import msgspec

from loadtests.validate.spans import SpanRecord
from loadtests.validate.verdict import (
    BaselineChange,
    CapacityPoint,
    Disagreement,
    Exemplar,
    PathReport,
    PathShare,
    Phase,
    QualityGate,
    TargetResult,
    TimeSeriesPoint,
    ToolStats,
    Verdict,
)

T = TypeVar("T")

HOSTILE = (
    '<script>alert(1)</script>"><img src=x onerror=alert(1)></script></style>]]>--><!-- & &amp; \' " '
    "\u00e9\u4e2d\U0001f680 \u202e\x00\x1b[31m"
)

GRADE_RULE = (
    "A: every error target passes with at least 25 % margin and every gate holds; B: every error target passes; "
    "C: only warning targets missed; D: one error target missed by less than 25 %; F: otherwise, or no verdict."
)

TRACE_P50 = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACE_P95 = "5c0a1e8d4d7f4e2b9a1c3f5e7d9b0a12"
TRACE_P99 = "6d1b2f9e5e8a5f3cab2d4a6f8e0c1b23"
TRACE_FAIL = "7e2c3a0f6f9b6a4dbc3e5b7a9f1d2c34"
TRACE_UNLOADED = "8f3d4b1a7a0c7b5ecd4f6c8b0a2e3d45"

PHASES = (("warmup", 0.0, 30.0), ("load", 30.0, 240.0), ("cache", 240.0, 300.0), ("cooldown", 300.0, 330.0))


def _targets() -> list[TargetResult]:
    return [
        TargetResult(
            id="cached_p95",
            description="Cached tool calls p95 < 200 ms",
            scope="tool:search_runbooks/cache:hit",
            source="server_spans",
            observed=3.4,
            op="<",
            bound=200.0,
            unit="ms",
            passed=True,
            margin=0.983,
            samples=8123,
        ),
        TargetResult(
            id="uncached_p95",
            description="Standard (uncached) tool calls p95 < 500 ms",
            scope="tool:search_knowledge_base/cache:miss",
            source="server_spans",
            observed=612.3,
            op="<",
            bound=500.0,
            unit="ms",
            passed=False,
            margin=-0.2246,
            samples=1412,
        ),
        TargetResult(
            id="cold_p95",
            description="Cold tool calls p95 < 2 s",
            scope="tool:get_decision_tree/cache:miss",
            source="server_spans",
            observed=None,
            op="<",
            bound=2000.0,
            unit="ms",
            passed=None,
            samples=7,
            note="7 samples; at least 20 are needed for a p95",
        ),
        TargetResult(
            id="overall_p95",
            description="p95 < 1000 ms overall",
            scope="overall",
            source="client_corrected",
            observed=188.0,
            op="<",
            bound=1000.0,
            unit="ms",
            passed=True,
            margin=0.812,
            samples=14876,
        ),
        TargetResult(
            id="error_rate",
            description="Error rate < 2 %",
            scope="overall",
            source="server_spans",
            observed=0.0041,
            op="<",
            bound=0.02,
            unit="ratio",
            passed=True,
            margin=0.795,
            samples=14876,
        ),
        TargetResult(
            id="throughput_target",
            description="Throughput >= 25 RPS",
            scope="scenario:load",
            source="client",
            observed=29.7,
            op=">=",
            bound=25.0,
            unit="rps",
            passed=True,
            margin=0.188,
            samples=14876,
        ),
        TargetResult(
            id="cache_hit_rate_target",
            description="Cache hit rate >= 85 % (aspiration)",
            scope="overall",
            source="metrics",
            observed=0.78,
            op=">=",
            bound=0.85,
            unit="ratio",
            passed=False,
            margin=-0.0824,
            samples=14876,
            severity="warning",
        ),
        TargetResult(
            id="memory",
            description="Memory < 2 GB per instance",
            scope="service:pp-retrieval",
            source="metrics",
            observed=412.0,
            op="<",
            bound=2048.0,
            unit="MB",
            passed=True,
            margin=0.799,
            samples=330,
        ),
    ]


def _tools() -> list[ToolStats]:
    rows = [
        ("search_runbooks", "all", 6210, 12, 4.1, 180.2, 402.0, 911.0, 196.0, 240.5),
        ("search_runbooks", "hit", 5020, 0, 1.2, 3.4, 8.9, 41.0, 6.1, 7.0),
        ("search_runbooks", "miss", 1190, 12, 160.0, 380.0, 520.0, 911.0, 401.0, 530.0),
        ("search_knowledge_base", "miss", 1412, 31, 220.0, 612.3, 840.0, 1304.0, 640.0, 720.0),
        ("get_decision_tree", "miss", 7, 0, 900.0, 1400.0, 1400.0, 1400.0, None, None),
        ("get_procedure", "all", 3100, 4, 2.0, 9.0, 30.0, 120.0, 11.0, 12.0),
        ("list_sources", "uncached", 320, 0, 0.8, 1.6, 2.2, 5.0, 2.0, 2.1),
    ]
    return [
        ToolStats(
            tool=tool,
            cache=cache,  # type: ignore[arg-type]
            count=count,
            errors=errors,
            p50_ms=p50,
            p95_ms=p95,
            p99_ms=p99,
            max_ms=top,
            client_p95_ms=client,
            client_corrected_p95_ms=corrected,
        )
        for tool, cache, count, errors, p50, p95, p99, top, client, corrected in rows
    ]


def _path() -> PathReport:
    shares = [
        ("pp-retrieval", "index.search", 0.41, 0.63, 0.22, 48.0, 31.0, 170.0),
        ("pp-retrieval", "cache.l2 GET", 0.12, 0.08, 0.18, 1.1, 0.9, 2.6),
        ("pp-gateway", "POST /mcp", 0.21, 0.09, 0.31, 0.9, 0.8, 1.4),
        ("pp-gateway", "tools/call search_runbooks", 0.14, 0.11, 0.17, 0.6, 0.5, 1.2),
        ("pp-retrieval", "POST /v1/search/runbooks", 0.12, 0.09, 0.12, 0.7, 0.6, 1.5),
    ]
    return PathReport(
        traces=14876,
        slow_traces=744,
        median_traces=744,
        p95_root_ms=181.0,
        shares=[
            PathShare(
                service=service,
                operation=operation,
                share_all=a,
                share_slow=s,
                share_median=m,
                self_ms_mean=mean,
                self_ms_p50=p50,
                self_ms_p95=p95,
                traces_on_path=14876,
                share_mean=a,
                share_p50=a,
                share_p95=s,
                exemplar_trace_id=None,
            )
            for service, operation, a, s, m, mean, p50, p95 in shares
        ],
        sentence=(
            "In the slowest 5 % of traces, 63 % of the critical path is pp-retrieval index.search "
            "(vs 22 % in median traces): the slow requests are cache misses waiting on the index."
        ),
    )


def _timeseries() -> list[TimeSeriesPoint]:
    points = []
    for t in range(330):
        rps = 5.0 if t < 30 else 30.0 + 2.0 * math.sin(t / 9) if t < 300 else 3.0
        burst = 1.0 if 240 <= t < 300 else 0.0
        p50 = None if t == 0 else 3.0 + burst
        points.append(
            TimeSeriesPoint(
                t=float(t),
                rps=rps,
                errors=2.0 if 150 <= t < 155 else 0.0,
                p50_ms=p50,
                p95_ms=None if p50 is None else 120.0 + 40.0 * math.sin(t / 15) + 200.0 * burst,
                p99_ms=None if p50 is None else 380.0 + 60.0 * math.sin(t / 11) + 300.0 * burst,
            )
        )
    return points


def _capacity() -> list[CapacityPoint]:
    steps = [
        (25, 25.0, 2.8, 90.0, 210.0, 0.0, True),
        (50, 49.9, 3.1, 110.0, 260.0, 0.0, True),
        (100, 99.6, 3.9, 150.0, 330.0, 0.001, True),
        (200, 198.0, 6.0, 240.0, 480.0, 0.004, True),
        (400, 361.0, 40.0, 810.0, 1500.0, 0.031, False),
        (600, 372.0, 380.0, 2400.0, 4100.0, 0.12, False),
    ]
    return [
        CapacityPoint(
            offered_rps=float(offered),
            achieved_rps=achieved,
            p50_ms=p50,
            p95_ms=p95,
            p99_ms=p99,
            error_rate=errors,
            ok=ok,
        )
        for offered, achieved, p50, p95, p99, errors, ok in steps
    ]


def sample_verdict() -> Verdict:
    return Verdict(
        run_id="storm-20260301T141200Z-7f3a",
        source="embedded",
        window_start="2026-03-01T14:12:00+00:00",
        window_end="2026-03-01T14:17:30+00:00",
        passed=False,
        exit_code=1,
        grade="D",
        grade_rule=GRADE_RULE,
        targets=_targets(),
        tools=_tools(),
        quality=[
            QualityGate(name="generator_lag", ok=True, severity="error", detail="max event-loop lag 4 ms", value=4.0),
            QualityGate(
                name="trace_coverage",
                ok=True,
                severity="error",
                detail="99.8 % of client samples joined a server trace",
                value=0.998,
            ),
            QualityGate(
                name="clock_skew",
                ok=False,
                severity="warning",
                detail="child spans start up to 3 ms before their parents (clock skew between processes)",
                value=3.0,
            ),
            QualityGate(name="dropped_spans", ok=True, severity="warning", detail="no spans dropped"),
        ],
        disagreements=[
            Disagreement(
                what="p95 of search_runbooks",
                values={"server_spans": 180.2, "client": 196.0, "client_corrected": 240.5},
                explanation=(
                    "The corrected client p95 is 33 % above the server's: requests waited to be sent (the "
                    "generator fell behind its schedule) — coordinated omission the server cannot see."
                ),
            )
        ],
        slowest_path=_path(),
        exemplars=[
            Exemplar(label="p50", trace_id=TRACE_P50, duration_ms=4.2, tool="search_runbooks"),
            Exemplar(
                label="p95",
                trace_id=TRACE_P95,
                duration_ms=181.0,
                tool="search_runbooks",
                file="traces/5c0a1e8d.json",
            ),
            Exemplar(
                label="p99",
                trace_id=TRACE_P99,
                duration_ms=402.0,
                tool="search_knowledge_base",
                file="/var/tmp/reports/storm/traces/6d1b2f9e.json",
            ),
            Exemplar(label="failure", trace_id=TRACE_FAIL, duration_ms=1304.0, tool="search_knowledge_base"),
            Exemplar(label="p99", trace_id=TRACE_UNLOADED, duration_ms=399.0),
        ],
        recommendations=[
            "search_knowledge_base misses its 500 ms p95 on cache misses: 63 % of slow traces sit in index.search; "
            "precompute the knowledge-base index or raise its TTL (900 s).",
            "The cache hit rate (78 %) is below the 85 % aspiration: widen L1 (it evicted 12 % of entries).",
            "Clock skew of 3 ms between processes: run the services on one host or sync clocks before comparing.",
        ],
        timeseries=_timeseries(),
        phases=[Phase(name=name, start_s=start, end_s=end) for name, start, end in PHASES],
        capacity=_capacity(),
        baseline=[
            BaselineChange(
                tool="search_runbooks",
                stat="p95",
                baseline_ms=150.0,
                current_ms=180.2,
                change=0.201,
                ci_low=0.12,
                ci_high=0.29,
                regression=True,
            ),
            BaselineChange(
                tool="get_procedure",
                stat="p95",
                baseline_ms=9.4,
                current_ms=9.0,
                change=-0.043,
                ci_low=-0.11,
                ci_high=0.03,
                regression=False,
            ),
            BaselineChange(
                tool="search_runbooks",
                stat="p50",
                baseline_ms=5.0,
                current_ms=4.1,
                change=-0.18,
                ci_low=-0.22,
                ci_high=-0.13,
                regression=False,
            ),
        ],
        queries=[
            "SELECT trace_id, span_id, parent_id, name, start_ns, end_ns FROM spans "
            "WHERE attributes->>'pp.run_id' = 'storm-20260301T141200Z-7f3a'",
            "histogram_quantile(0.95, sum by (le, gen_ai_tool_name) "
            '(rate(mcp_server_operation_duration_seconds_bucket{pp_run_id="storm-20260301T141200Z-7f3a"}[1m])))',
        ],
    )


def _span(
    trace: str, index: int, parent: int | None, name: str, service: str, start_ms: float, end_ms: float, **extra: Any
) -> SpanRecord:
    base = 1_772_374_320_000_000_000
    return SpanRecord(
        trace_id=trace,
        span_id=f"{int(trace[:8], 16) + index:016x}",
        parent_id=None if parent is None else f"{int(trace[:8], 16) + parent:016x}",
        name=name,
        kind=extra.pop("kind", "internal"),
        service=service,
        start_ns=base + round(start_ms * 1e6),
        end_ns=base + round(end_ms * 1e6),
        error=extra.pop("error", False),
        attributes=extra.pop("attributes", {}),
    )


def _request(
    trace: str, total_ms: float, *, hit: bool, fail: bool = False, tool: str = "search_runbooks"
) -> list[SpanRecord]:
    gateway, retrieval = "pp-gateway", "pp-retrieval"
    spans = [
        _span(
            trace,
            0,
            None,
            "POST /mcp",
            gateway,
            0.0,
            total_ms,
            kind="server",
            error=fail,
            attributes={"http.request.method": "POST", "http.route": "/mcp", "http.response.status_code": 200},
        ),
        _span(
            trace,
            1,
            0,
            f"tools/call {tool}",
            gateway,
            0.3,
            total_ms - 0.2,
            error=fail,
            attributes={"mcp.method.name": "tools/call", "gen_ai.tool.name": tool, "jsonrpc.request.id": "17"},
        ),
        _span(trace, 2, 1, "POST", gateway, 0.5, total_ms - 0.4, kind="client", error=fail),
        _span(trace, 3, 2, f"POST /v1/{tool}", retrieval, 0.8, total_ms - 0.6, kind="server", error=fail),
        _span(trace, 4, 3, "cache.l1", retrieval, 0.9, 1.0, attributes={"cache.tier": "l1", "cache.hit": False}),
    ]
    if hit:
        spans.append(
            _span(trace, 5, 3, "cache.l2 GET", retrieval, 1.0, 1.9, attributes={"cache.tier": "l2", "cache.hit": True})
        )
    else:
        spans.append(
            _span(trace, 5, 3, "cache.l2 GET", retrieval, 1.0, 2.1, attributes={"cache.tier": "l2", "cache.hit": False})
        )
        spans.append(
            _span(
                trace,
                6,
                3,
                "index.search",
                retrieval,
                2.2,
                total_ms - 1.0,
                error=fail,
                attributes={"search.query": "alert_type=memory_pressure severity=critical"},
            )
        )
        spans.append(_span(trace, 7, 3, "cache.l2 SET", retrieval, total_ms - 0.95, total_ms - 0.7))
    return spans


def sample_traces() -> dict[str, list[SpanRecord]]:
    """Spans for every exemplar of ``sample_verdict`` but the last, whose spans were 'not loaded'."""
    return {
        TRACE_P50: _request(TRACE_P50, 4.2, hit=True),
        TRACE_P95: _request(TRACE_P95, 181.0, hit=False),
        TRACE_P99: _request(TRACE_P99, 402.0, hit=False, tool="search_knowledge_base"),
        TRACE_FAIL: _request(TRACE_FAIL, 1304.0, hit=False, fail=True, tool="search_knowledge_base"),
    }


def hostile(value: T, payload: str = HOSTILE) -> T:
    """A copy of ``value`` in which every string (field, list item, dict key) has ``payload`` appended."""
    result: Any
    if isinstance(value, str):
        result = value + payload
    elif isinstance(value, msgspec.Struct):
        changes = {name: hostile(getattr(value, name), payload) for name in value.__struct_fields__}
        result = msgspec.structs.replace(value, **changes)
    elif isinstance(value, list):
        result = [hostile(item, payload) for item in value]
    elif isinstance(value, dict):
        result = {hostile(key, payload): hostile(item, payload) for key, item in value.items()}
    else:
        result = value
    return result  # type: ignore[no-any-return]
