"""Hand-built spans and load summaries for the validator's judgement tests.

A trace is what the services emit for one tools/call: gateway SERVER → tools/call → gateway CLIENT → retrieval
SERVER → cache.get (L1, then L2) → search, with the gateway SERVER span's parent the load generator's request span,
which is never exported.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any, Literal

from loadtests.metrics import Aggregate, Registry
from loadtests.output.results import Health, Summary
from loadtests.validate.spans import SpanRecord
from otel import contract

STARTED = "2025-01-01T00:00:00.000+00:00"
T0_NS = int(dt.datetime.fromisoformat(STARTED).timestamp()) * 1_000_000_000
GENERATOR_PARENT = "00000000000000ff"
_ids = itertools.count(1)

Cache = Literal["l1", "l2", "miss", "miss_l1_only", "none"]


def _id(width: int) -> str:
    return f"{next(_ids):0{width}x}"


def ms(value: float) -> int:
    return int(value * 1_000_000)


def trace(
    tool: str = "search_runbooks",
    *,
    at_s: float = 15.0,
    duration_ms: float = 10.0,
    cache: Cache = "l1",
    outcome: str = "ok",
    scenario: str | None = "load",
    retrieval: bool = True,
    client_status: int | None = 200,
    server_status: int = 200,
) -> list[SpanRecord]:
    """One call's spans; ``at_s`` is seconds after ``STARTED``; ``retrieval=False`` drops retrieval's spans."""
    trace_id = _id(32)
    start = T0_NS + int(at_s * 1e9)
    end = start + ms(duration_ms)
    attrs: dict[str, Any] = {contract.RUN_ID: "run-1", contract.HTTP_RESPONSE_STATUS_CODE: server_status}
    if scenario is not None:
        attrs[contract.SCENARIO] = scenario
    server = SpanRecord(
        trace_id=trace_id,
        span_id=_id(16),
        parent_id=GENERATOR_PARENT,
        name="POST /mcp",
        kind="server",
        service=contract.GATEWAY_SERVICE,
        start_ns=start,
        end_ns=end,
        error=server_status >= 500,
        attributes=attrs,
    )
    tool_attrs = {
        contract.GEN_AI_TOOL_NAME: tool,
        contract.MCP_METHOD_NAME: "tools/call",
        contract.TOOL_OUTCOME: outcome,
    }
    call = SpanRecord(
        trace_id=trace_id,
        span_id=_id(16),
        parent_id=server.span_id,
        name=contract.TOOL_CALL_SPAN.format(tool=tool),
        kind="internal",
        service=contract.GATEWAY_SERVICE,
        start_ns=start + ms(0.05),
        end_ns=end - ms(0.05),
        error=outcome != "ok",
        attributes=tool_attrs,
    )
    client_attrs: dict[str, Any] = {contract.HTTP_REQUEST_METHOD: "POST"}
    if client_status is not None:
        client_attrs[contract.HTTP_RESPONSE_STATUS_CODE] = client_status
    client = SpanRecord(
        trace_id=trace_id,
        span_id=_id(16),
        parent_id=call.span_id,
        name=f"POST /v1/{tool}",
        kind="client",
        service=contract.GATEWAY_SERVICE,
        start_ns=start + ms(0.1),
        end_ns=end - ms(0.1),
        attributes=client_attrs,
    )
    spans = [server, call, client]
    if not retrieval:
        return spans
    rserver = SpanRecord(
        trace_id=trace_id,
        span_id=_id(16),
        parent_id=client.span_id,
        name=f"POST /v1/{tool}",
        kind="server",
        service=contract.RETRIEVAL_SERVICE,
        start_ns=start + ms(0.2),
        end_ns=end - ms(0.2),
        attributes={contract.RUN_ID: "run-1"},
    )
    spans.append(rserver)
    t = rserver.start_ns + ms(0.01)

    def lookup(tier: str, hit: bool) -> SpanRecord:
        return SpanRecord(
            trace_id=trace_id,
            span_id=_id(16),
            parent_id=rserver.span_id,
            name=contract.CACHE_SPAN,
            kind="internal",
            service=contract.RETRIEVAL_SERVICE,
            start_ns=t,
            end_ns=t + ms(0.01),
            attributes={contract.CACHE_TIER: tier, contract.CACHE_HIT: hit},
        )

    if cache != "none":
        spans.append(lookup("l1", cache == "l1"))
    if cache in ("l2", "miss"):
        spans.append(lookup("l2", cache == "l2"))
    if cache in ("miss", "miss_l1_only") and tool == "search_runbooks":
        spans.append(
            SpanRecord(
                trace_id=trace_id,
                span_id=_id(16),
                parent_id=rserver.span_id,
                name=contract.SEARCH_SPAN.format(index="runbooks"),
                kind="internal",
                service=contract.RETRIEVAL_SERVICE,
                start_ns=t + ms(0.02),
                end_ns=rserver.end_ns - ms(0.01),
            )
        )
    return spans


def flatten(traces: list[list[SpanRecord]]) -> list[SpanRecord]:
    return [s for t in traces for s in t]


# -- load summaries ----------------------------------------------------------------------------------------------


def options(rps: float = 10.0, load_s: int = 20, warmup_s: int = 10, cooldown_s: int = 5) -> dict[str, Any]:
    """Warm-up, load and cool-down, tagged ``phase`` like the seed's scenarios (load from ``warmup_s``)."""

    def constant(rate: float, seconds: int, start: int, phase: str) -> dict[str, Any]:
        return {
            "executor": "constant-arrival-rate",
            "rate": rate,
            "timeUnit": "1s",
            "duration": f"{seconds}s",
            "preAllocatedVUs": 10,
            "maxVUs": 10,
            "startTime": f"{start}s",
            "tags": {"phase": phase},
        }

    return {
        "scenarios": {
            "warmup": constant(1, warmup_s, 0, "warmup"),
            "load": constant(rps, load_s, warmup_s, "load"),
            "cooldown": constant(1, cooldown_s, warmup_s + load_s, "cooldown"),
        }
    }


def summary(
    *,
    options_: dict[str, Any] | None = None,
    targets: dict[str, float] | None = None,
    durations: dict[str, list[float]] | None = None,
    corrected: dict[str, list[float]] | None = None,
    requests: int | None = None,
    errors: int = 0,
    failed_http: int = 0,
    trustworthy: bool = True,
    reasons: list[str] | None = None,
    hot: list[float] | None = None,
) -> Summary:
    """A load summary whose load phase holds ``durations`` per tool (client, uncorrected; corrected = same unless
    given), ``requests`` tool calls (default: as many as durations) with ``errors`` tool failures."""
    durations = durations or {}
    registry = Registry(start_unix=0.0)
    load = {"phase": "load", "scenario": "load"}
    total = 0
    for tool, values in durations.items():
        for value in values:
            registry.trend("http_req_duration", {**load, "tool": tool}).add(value)
            total += 1
        for value in (corrected or {}).get(tool, values):
            registry.trend("http_req_duration_corrected", {**load, "tool": tool}).add(value)
    for value in hot or []:
        registry.trend("http_req_duration", {**load, "tool": "search_runbooks", "cache": "hot"}).add(value)
    n = total if requests is None else requests
    if n:
        registry.counter("http_reqs", load).add(n)
        registry.counter("mcp_tool_calls", load).add(n)
        registry.counter("iterations", load).add(n)
        for i in range(n):
            registry.rate("mcp_tool_errors", load).add(i < errors)
            registry.rate("http_req_failed", load).add(i < failed_http)
    # warm-up samples that must not count
    registry.trend("http_req_duration", {"phase": "warmup", "scenario": "warmup", "tool": "search_runbooks"}).add(9999)
    registry.counter("http_reqs", {"phase": "warmup", "scenario": "warmup"}).add(10)
    aggregate = Aggregate(start_unix=0.0)
    report = registry.drain(1.0)
    aggregate.merge_report(report)
    return Summary(
        run_ids=["run-1"],
        script="test.py",
        target="http://127.0.0.1:1/mcp",
        started=STARTED,
        ended=STARTED,
        duration_s=35.0,
        exit_code=0,
        aborted=None,
        options=options() if options_ is None else options_,
        overrides={},
        targets=targets or {},
        thresholds=[],
        metrics={},
        submetrics={},
        checks=[],
        scenarios={},
        health=Health(
            trustworthy=trustworthy,
            reasons=reasons or [],
            loop_lag_p99_ms=1.0,
            iteration_lateness_p99_ms=1.0,
            dropped_iterations=0,
        ),
        errors={},
        exemplars=[],
        aggregate=aggregate.to_struct(),
    )
