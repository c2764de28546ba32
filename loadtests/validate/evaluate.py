"""Targets checked per tool and per cache outcome, from server spans, client samples and metrics; their disagreements.

**One call = one trace.** The load generator sends a fresh ``traceparent`` per request, so each gateway
``tools/call`` span is one call. Its duration is the gateway SERVER span's (the whole request as the service saw it;
the ``tools/call`` span's when the server span is missing), its tool is ``gen_ai.tool.name``, its outcome
``pp.tool.outcome`` (an error status or a 5xx without one: ``failed``).

**Cache outcome**, from the ``cache.get`` spans under the call:

* ``hit``: a ``cache.get`` with ``cache.hit`` true — served from L1 or from L2 (Redis); the tier is kept;
* ``miss``: ``cache.get`` spans, none a hit — answered by the index (or by another call's fill: with Redis in use a
  miss whose trace has no L2 lookup waited on a concurrent miss of the same key, single-flight; ``coalesced``);
* ``uncached``: a tool that does not use the cache (escalation, feedback, list_sources) and has no ``cache.get``;
* ``unknown``: a cached tool without any ``cache.get`` span (it failed before the cache, or its trace is broken):
  counted in "all" only.

"Cached" targets use hits; "uncached" ones use misses and uncached tools together. **Cold**: per tool, its first
call of the run (every phase, set-up included) that was not a cache hit — the first time the run made the service
compute that tool's answer; the target bounds the slowest of them, so it needs one sample, not twenty.

**Phase.** Only the load phase counts (not warm-up or cool-down) when the summary's scenarios are tagged ``phase``:
a call belongs to the scenario named in its server span's ``pp.scenario`` (copied from baggage); without that
attribute, to the scenario whose time window (the summary's start plus ``startTime``, for its length) holds its
start. Client figures use the same ``phase`` tag on the generator's samples. A script without phase tags counts as a
whole.

**Errors and availability.** The error rate counts every call whose outcome is not ``ok`` (the tool failed, for
whatever reason); availability counts only calls that got no usable answer — retrieval unreachable
(``unavailable``) or a 5xx — from the spans, and requests with no 2xx/3xx response at all from the client (which
also sees what never reached a span: refused connections, timeouts).

**Throughput** is the client's: requests in the phase over the phase's length. The phase's arrival-rate scenarios
say what was *offered*; ``throughput_offered`` checks that at least 95 % of it was served (the service kept up, no
iterations dropped). The seed's 10 RPS minimum and 25 RPS target apply only when the scenario offered at least
that much: a 5 RPS scenario cannot show 10 RPS, so they are reported as not applicable ("the scenario offered
5 RPS") instead of failing — the original failed its own normal scenario that way, every time. A closed-model
scenario offers no rate: the bounds apply as they are.

**Sources.** Server spans are the primary evidence; client figures (uncorrected: from the actual send; corrected:
from the intended start) and metric histograms (``mcp.server.operation.duration``, interpolated within the bucket
that holds the quantile — the bucket's edges are reported, and a target at a bucket bound is decided exactly) are
checked too. Metric latency targets are warnings: a histogram covers a time window, not the run's traces. Where two
sources disagree beyond :class:`~loadtests.validate.targets.DisagreementRules`, a :class:`Disagreement` says what it
usually means.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from loadtests.errors import ConfigError
from loadtests.metrics import Aggregate
from loadtests.options import (
    ConstantArrivalRate,
    RampingArrivalRate,
    apply_overrides,
    load_options,
    scenario_length,
)
from loadtests.validate.sources.base import BucketHistogram
from loadtests.validate.targets import (
    DEFAULT_CACHED_TOOLS,
    Config,
    Effective,
    check,
    effective_targets,
)
from loadtests.validate.verdict import Disagreement, TargetResult, ToolStats
from otel import contract

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Mapping, Sequence

    from loadtests.metrics import Histogram
    from loadtests.options import Scenario
    from loadtests.output.results import Summary
    from loadtests.validate.spans import SpanRecord
    from loadtests.validate.targets import Severity

__all__ = (
    "ALL",
    "CacheOutcome",
    "Call",
    "ClientView",
    "Evaluation",
    "MetricInputs",
    "PhaseSelection",
    "cold_calls",
    "evaluate",
    "extract_calls",
    "nearest_rank",
    "phase_selection",
)

CacheOutcome = Literal["hit", "miss", "uncached", "unknown"]
ALL = "all"
"""The tool name of the every-tool row in ``ToolStats`` and ``DurationSamples``."""

_TOOL_PREFIX = contract.TOOL_CALL_SPAN.split("{", 1)[0]
_NS_PER_MS = 1_000_000


class Call(msgspec.Struct, frozen=True, kw_only=True):
    """One traced tool call, classified."""

    trace_id: str
    tool: str
    start_ns: int
    duration_ms: float
    outcome: str
    """``pp.tool.outcome``: ``ok``, ``invalid_arguments``, ``unknown_tool``, ``not_found``, ``unavailable`` or
    ``failed``."""
    error: bool
    unavailable: bool
    """No usable answer: retrieval unreachable (``unavailable``) or a 5xx from the gateway."""
    cache: CacheOutcome
    tier: str | None = None
    """``l1`` or ``l2`` for a hit."""
    coalesced: bool = False
    scenario: str | None = None
    has_server_span: bool = True


# -- spans → calls ------------------------------------------------------------------------------------------------


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true") or value == 1


def _is_tool_call(span: SpanRecord) -> bool:
    if span.service != contract.GATEWAY_SERVICE or span.kind == "server":
        return False
    return span.attributes.get(contract.MCP_METHOD_NAME) == "tools/call" or span.name.startswith(_TOOL_PREFIX)


def _descends(span: SpanRecord, ancestor: SpanRecord, by_id: Mapping[str, SpanRecord]) -> bool:
    seen = 0
    current: SpanRecord | None = span
    while current is not None and seen < 64:
        if current.span_id == ancestor.span_id:
            return True
        current = by_id.get(current.parent_id) if current.parent_id else None
        seen += 1
    return False


def _server_of(span: SpanRecord, by_id: Mapping[str, SpanRecord]) -> SpanRecord | None:
    current = by_id.get(span.parent_id) if span.parent_id else None
    for _ in range(64):
        if current is None:
            return None
        if current.kind == "server" and current.service == contract.GATEWAY_SERVICE:
            return current
        current = by_id.get(current.parent_id) if current.parent_id else None
    return None


def _status(span: SpanRecord | None) -> int:
    if span is None:
        return 0
    try:
        return int(span.attributes.get(contract.HTTP_RESPONSE_STATUS_CODE, 0))
    except (TypeError, ValueError):
        return 0


def extract_calls(spans: Iterable[SpanRecord], cached_tools: Collection[str] = DEFAULT_CACHED_TOOLS) -> list[Call]:
    """Every traced tool call in ``spans``, classified (module docstring), in start order."""
    traces: dict[str, list[SpanRecord]] = defaultdict(list)
    l2_in_use = False
    for span in spans:
        traces[span.trace_id].append(span)
        if span.name == contract.CACHE_SPAN and span.attributes.get(contract.CACHE_TIER) == "l2":
            l2_in_use = True
    calls: list[Call] = []
    for members in traces.values():
        tool_spans = [s for s in members if _is_tool_call(s)]
        if not tool_spans:
            continue
        by_id = {s.span_id: s for s in members}
        for tool_span in tool_spans:
            own = members if len(tool_spans) == 1 else [s for s in members if _descends(s, tool_span, by_id)]
            calls.append(_call(tool_span, own, members, by_id, cached_tools, l2_in_use))
    calls.sort(key=lambda c: (c.start_ns, c.trace_id))
    return calls


def _call(
    tool_span: SpanRecord,
    own: Sequence[SpanRecord],
    members: Sequence[SpanRecord],
    by_id: Mapping[str, SpanRecord],
    cached_tools: Collection[str],
    l2_in_use: bool,
) -> Call:
    tool = str(tool_span.attributes.get(contract.GEN_AI_TOOL_NAME) or tool_span.name[len(_TOOL_PREFIX) :] or "?")
    server = _server_of(tool_span, by_id)
    status = _status(server)
    outcome = tool_span.attributes.get(contract.TOOL_OUTCOME)
    if outcome is None:
        outcome = "failed" if tool_span.error or status >= 500 else "ok"
    outcome = str(outcome)
    timed = server if server is not None else tool_span
    scenario = None
    for span in (server, tool_span, *members):
        if span is not None and span.attributes.get(contract.SCENARIO) is not None:
            scenario = str(span.attributes[contract.SCENARIO])
            break
    lookups = sorted((s for s in own if s.name == contract.CACHE_SPAN), key=lambda s: s.start_ns)
    hits = [s for s in lookups if _truthy(s.attributes.get(contract.CACHE_HIT))]
    cache: CacheOutcome
    tier = None
    coalesced = False
    if hits:
        cache = "hit"
        tier = str(hits[0].attributes.get(contract.CACHE_TIER, "")) or None
    elif lookups:
        cache = "miss"
        coalesced = l2_in_use and not any(s.attributes.get(contract.CACHE_TIER) == "l2" for s in lookups)
    else:
        cache = "unknown" if tool in cached_tools else "uncached"
    return Call(
        trace_id=tool_span.trace_id,
        tool=tool,
        start_ns=timed.start_ns,
        duration_ms=timed.duration_ns / _NS_PER_MS,
        outcome=outcome,
        error=outcome != "ok" or status >= 500 or (server is not None and server.error),
        unavailable=outcome == "unavailable" or status >= 500,
        cache=cache,
        tier=tier,
        coalesced=coalesced,
        scenario=scenario,
        has_server_span=server is not None,
    )


def cold_calls(calls: Iterable[Call]) -> list[Call]:
    """Per tool, its first call (by start) that was not a cache hit: see the module docstring."""
    first: dict[str, Call] = {}
    for call in sorted(calls, key=lambda c: c.start_ns):
        if call.cache != "hit" and call.tool not in first:
            first[call.tool] = call
    return sorted(first.values(), key=lambda c: c.tool)


def nearest_rank(ordered: Sequence[float], p: float) -> float:
    """Percentile ``p`` (0..100) of ascending ``ordered`` by nearest rank: the ⌈p·n/100⌉-th value."""
    if not ordered:
        raise ValueError("no values")
    rank = max(1, math.ceil(p * len(ordered) / 100 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


# -- the phase ----------------------------------------------------------------------------------------------------


class PhaseSelection(msgspec.Struct, kw_only=True):
    """Which calls and client samples belong to the judged phase, and what the scenario offered in it."""

    method: Literal["scenario", "window", "none"]
    phase: str = "load"
    scenarios: list[str] = []
    windows_ns: list[tuple[int, int]] = []
    client_tags: dict[str, str] = {}
    duration_s: float | None = None
    offered_rps: float | None = None
    """Iterations per second the phase's arrival-rate scenarios scheduled, on average; None for closed models."""
    detail: str = ""

    def includes(self, call: Call) -> bool:
        if self.method == "none":
            return True
        if self.method == "scenario":
            return call.scenario in self.scenarios
        return any(start <= call.start_ns < end for start, end in self.windows_ns)


def _union_length(intervals: Iterable[tuple[float, float]]) -> float:
    total, reach = 0.0, -math.inf
    for start, end in sorted(intervals):
        if end <= reach:
            continue
        total += end - max(start, reach)
        reach = end
    return total


def _offered_iterations(scenario: Scenario) -> float | None:
    if isinstance(scenario, ConstantArrivalRate):
        return scenario.rate / scenario.time_unit * scenario.duration
    if isinstance(scenario, RampingArrivalRate):
        area, rate = 0.0, scenario.start_rate
        for stage in scenario.stages:
            area += (rate + stage.target) / 2 * stage.duration
            rate = stage.target
        return area / scenario.time_unit
    return None


def _overrides(summary: Summary) -> dict[str, Any]:
    known = ("vus", "duration", "iterations", "rate", "tags")
    return {k: v for k, v in summary.overrides.items() if k in known and v not in (None, {})}


def phase_selection(summary: Summary | None, calls: Sequence[Call], phase: str = "load") -> PhaseSelection:
    """The calls of ``phase`` (see the module docstring); every call when the summary cannot say."""
    if summary is None:
        return PhaseSelection(method="none", detail="no load summary: every traced call of the run counts")
    try:
        options = load_options(summary.options, source=summary.script)
        options = apply_overrides(options, **_overrides(summary))  # --duration etc. reshaped the run's timeline
    except ConfigError as error:
        return PhaseSelection(method="none", detail=f"the summary's options do not parse ({error}): every call counts")
    tagged = {name: s for name, s in options.scenarios.items() if "phase" in s.tags}
    chosen = {name: s for name, s in tagged.items() if s.tags["phase"] == phase} if tagged else options.scenarios
    if not chosen:
        return PhaseSelection(
            method="none", detail=f"no scenario is tagged phase={phase}: every traced call of the run counts"
        )
    client_tags = {"phase": phase} if tagged else {}
    windows = [(s.start_time, s.start_time + scenario_length(s)) for s in chosen.values()]
    duration = _union_length(windows)
    offered: list[float] = []
    for scenario in chosen.values():
        iterations = _offered_iterations(scenario)
        if iterations is None:
            offered = []
            break
        offered.append(iterations)
    offered_rps = sum(offered) / duration if offered and duration > 0 else None
    names = sorted(chosen)
    what = f"phase={phase} ({', '.join(names)})" if tagged else f"the whole run ({', '.join(names)})"
    if any(c.scenario is not None for c in calls):
        method: Literal["scenario", "window"] = "scenario"
        how = f"{what}, by each call's pp.scenario attribute"
    else:
        method = "window"
        how = f"{what}, by time window (the spans carry no pp.scenario)"
    try:
        started_ns = int(dt.datetime.fromisoformat(summary.started).timestamp() * 1e9)
    except ValueError:
        if method == "window":
            return PhaseSelection(method="none", detail=f"{what}: no usable start time, so every call counts")
        started_ns = 0
    return PhaseSelection(
        method=method,
        phase=phase,
        scenarios=names,
        windows_ns=[(started_ns + int(a * 1e9), started_ns + int(b * 1e9)) for a, b in windows],
        client_tags=client_tags,
        duration_s=duration,
        offered_rps=offered_rps,
        detail=how,
    )


# -- the load generator's figures ---------------------------------------------------------------------------------


class ClientView:
    """The load summary's figures for the selected phase: its aggregate's histograms, else its per-tool summaries."""

    def __init__(self, summary: Summary, tags: Mapping[str, str]) -> None:
        self.summary = summary
        self.tags = dict(tags)
        self._aggregate: Aggregate | None
        try:
            self._aggregate = Aggregate.from_struct(summary.aggregate)
        except Exception:  # a summary from another version: fall back to its summarised values
            self._aggregate = None

    def _filter(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        return {**self.tags, **(extra or {})}

    def histogram(self, metric: str, extra: Mapping[str, str] | None = None) -> Histogram | None:
        if self._aggregate is None or self._aggregate.metric_type(metric) is None:
            return None
        return self._aggregate.histogram(metric, self._filter(extra))

    def quantile(self, metric: str, p: float, extra: Mapping[str, str] | None = None) -> tuple[float | None, int]:
        """Percentile ``p`` and the sample count (``None, 0`` without data)."""
        hist = self.histogram(metric, extra)
        if hist is not None:
            return hist.percentile(p), hist.count
        if self._aggregate is not None and self._aggregate.metric_type(metric) is not None:
            return None, 0
        values = self._summarised(metric, extra)
        key = f"p({p:g})"
        if values is None or key not in values:
            return None, 0
        return values[key], int(values.get("count", 0))

    def _summarised(self, metric: str, extra: Mapping[str, str] | None) -> dict[str, float] | None:
        # Fallback without the aggregate: the summary's per-tool values (every phase: the best there is).
        extra = extra or {}
        if not extra:
            found = self.summary.metrics.get(metric)
        elif set(extra) == {"tool"}:
            found = self.summary.submetrics.get(f"{metric}{{tool:{extra['tool']}}}")
        else:
            found = None
        return None if found is None else found.values

    def rate(self, metric: str, extra: Mapping[str, str] | None = None) -> tuple[float, int] | None:
        """A rate metric's share of passes and its total, or None."""
        if self._aggregate is not None and self._aggregate.metric_type(metric) is not None:
            values = self._aggregate.values(metric, self._filter(extra))
        else:
            values = self._summarised(metric, extra) or {}
        if "rate" not in values:
            return None
        total = int(values.get("passes", 0) + values.get("fails", 0))
        return values["rate"], total

    def count(self, metric: str, extra: Mapping[str, str] | None = None) -> float | None:
        if self._aggregate is not None and self._aggregate.metric_type(metric) is not None:
            values = self._aggregate.values(metric, self._filter(extra))
        else:
            values = self._summarised(metric, extra) or {}
        return values.get("count")


# -- metrics ------------------------------------------------------------------------------------------------------


def _exact_share(hist: BucketHistogram, bound: float) -> float | None:
    """The share of observations ≤ ``bound`` when it is one of the bucket bounds (exact), else None."""
    on_a_bound = any(math.isclose(le, bound, rel_tol=1e-9) for le in hist.bounds)
    return hist.share_below(bound) if on_a_bound and hist.count > 0 else None


class MetricInputs(msgspec.Struct, kw_only=True):
    """What the orchestrator fetched from a metrics source for the run's window; everything optional."""

    mcp_duration: BucketHistogram | None = None
    """``mcp.server.operation.duration`` (seconds), every tool."""
    mcp_duration_by_tool: dict[str, BucketHistogram] = {}
    memory_bytes: dict[str, list[float]] = {}
    """``process.memory.usage`` samples per instance (``service/instance``)."""
    cpu_utilization: dict[str, list[float]] = {}
    """``process.cpu.utilization`` samples per instance: fractions of one core."""
    spans_dropped: float | None = None
    """``pp.telemetry.spans.dropped`` increase over the run, every process."""
    cache_hits: float | None = None
    cache_lookups: float | None = None
    """Request-level cache counts from ``pp.cache.requests``: L1 and L2 hits, and L1 lookups."""


# -- the evaluation -----------------------------------------------------------------------------------------------


class Evaluation(msgspec.Struct, kw_only=True):
    targets: list[TargetResult]
    tools: list[ToolStats]
    disagreements: list[Disagreement]
    selection: PhaseSelection
    effective: Effective
    calls: list[Call]
    """Every traced call of the run (every phase)."""
    selected: list[Call]
    """The judged phase's calls."""
    cold: list[Call]
    client_requests: float | None
    """Tool calls the generator sent in the phase."""
    sampling_ratio: float | None
    """Traced calls / client requests in the phase."""
    achieved_rps: float | None
    offered_rps: float | None
    """Requests per second the phase offered (iterations × requests per iteration)."""
    hit_rate: float | None
    hit_rate_by_tool: dict[str, float]
    errors_by_tool: dict[str, dict[str, int]]
    """Failed calls per tool and outcome (the phase's)."""
    notes: list[str]


_LATENCY = {
    "p95": "p95 of tool calls",
    "cached_p95": "p95 of calls served from cache (L1 or L2)",
    "uncached_p95": "p95 of cache misses and uncached tools",
}


def evaluate(
    spans: Iterable[SpanRecord],
    *,
    config: Config | None = None,
    summary: Summary | None = None,
    metrics: MetricInputs | None = None,
) -> Evaluation:
    """Check every target that the spans, the load summary and the metrics can support."""
    config = config or Config()
    calls = extract_calls(spans, config.cache.tools)
    selection = phase_selection(summary, calls)
    selected = [c for c in calls if selection.includes(c)]
    effective = effective_targets(config, summary.targets if summary is not None else None)
    client = ClientView(summary, selection.client_tags) if summary is not None else None
    ev = _Evaluator(config, effective, selection, calls, selected, client, metrics or MetricInputs())
    return ev.run()


class _Evaluator:
    def __init__(
        self,
        config: Config,
        effective: Effective,
        selection: PhaseSelection,
        calls: list[Call],
        selected: list[Call],
        client: ClientView | None,
        metrics: MetricInputs,
    ) -> None:
        self.config = config
        self.t = effective.targets
        self.effective = effective
        self.selection = selection
        self.calls = calls
        self.selected = selected
        self.client = client
        self.metrics = metrics
        self.results: list[TargetResult] = []
        self.disagreements: list[Disagreement] = []
        self.notes: list[str] = [selection.detail, *effective.notes]
        self.tools = sorted({c.tool for c in selected})

    # -- helpers --

    def _durations(self, calls: Iterable[Call]) -> list[float]:
        return sorted(c.duration_ms for c in calls)

    def _p(self, ordered: Sequence[float], p: float, needed: int) -> float | None:
        return nearest_rank(ordered, p) if len(ordered) >= needed and ordered else None

    def _latency(self, id_: str, bound: float, scope: str, calls: Iterable[Call], note: str = "") -> None:
        ordered = self._durations(calls)
        if not ordered:
            return
        self.results.append(
            check(
                id=id_,
                description=f"{_LATENCY[id_]} < {bound:g} ms",
                scope=scope,
                source="server_spans",
                observed=nearest_rank(ordered, 95),
                op="<",
                bound=bound,
                unit="ms",
                samples=len(ordered),
                needed=self.config.samples.p95,
                note=note,
            )
        )

    def _levels(self, what: Literal["throughput", "cache_hit"]) -> list[tuple[str, float, Severity]]:
        """A minimum (error severity) and an aspiration (warning severity) of the same quantity."""
        if what == "throughput":
            return [
                ("throughput_min", self.t.throughput_min_rps, "error"),
                ("throughput_target", self.t.throughput_target_rps, "warning"),
            ]
        return [
            ("cache_hit_min", self.t.cache_hit_min, "error"),
            ("cache_hit_target", self.t.cache_hit_target, "warning"),
        ]

    # -- the run --

    def run(self) -> Evaluation:
        client_requests = self._client_requests()
        ratio = len(self.selected) / client_requests if client_requests else None
        self._latency_targets()
        self._client_latency_targets()
        self._metric_latency_targets()
        self._error_targets()
        achieved, offered = self._throughput_targets()
        hit_rate, by_tool = self._cache_targets()
        cold = self._cold_target()
        self._resource_targets()
        tools = self._tool_stats(ratio)
        self._disagreements(hit_rate)
        errors: dict[str, dict[str, int]] = {}
        for call in self.selected:
            if call.error:
                per_tool = errors.setdefault(call.tool, {})
                per_tool[call.outcome] = per_tool.get(call.outcome, 0) + 1
        coalesced = sum(1 for c in self.selected if c.coalesced)
        if coalesced:
            self.notes.append(f"{coalesced} misses waited on a concurrent fill of the same key (single-flight)")
        return Evaluation(
            targets=self.results,
            tools=tools,
            disagreements=self.disagreements,
            selection=self.selection,
            effective=self.effective,
            calls=self.calls,
            selected=self.selected,
            cold=cold,
            client_requests=client_requests,
            sampling_ratio=ratio,
            achieved_rps=achieved,
            offered_rps=offered,
            hit_rate=hit_rate,
            hit_rate_by_tool=by_tool,
            errors_by_tool=errors,
            notes=[n for n in self.notes if n],
        )

    def _client_requests(self) -> float | None:
        if self.client is None:
            return None
        for metric in ("mcp_tool_calls", "http_reqs"):
            count = self.client.count(metric)
            if count:
                return count
        return None

    def _latency_targets(self) -> None:
        t = self.t
        selected = self.selected
        self._latency("p95", t.p95_ms, "overall", selected)
        hits = [c for c in selected if c.cache == "hit"]
        uncached = [c for c in selected if c.cache in ("miss", "uncached")]
        self._latency("cached_p95", t.cached_p95_ms, "cache:hit", hits)
        self._latency("uncached_p95", t.uncached_p95_ms, "cache:miss+uncached", uncached)
        for tool in self.tools:
            mine = [c for c in selected if c.tool == tool]
            self._latency("p95", t.p95_ms, f"tool:{tool}", mine)
            self._latency(
                "cached_p95", t.cached_p95_ms, f"tool:{tool}/cache:hit", [c for c in mine if c.cache == "hit"]
            )
            for kind in ("miss", "uncached"):
                self._latency(
                    "uncached_p95", t.uncached_p95_ms, f"tool:{tool}/cache:{kind}", [c for c in mine if c.cache == kind]
                )

    def _client_latency_targets(self) -> None:
        if self.client is None:
            return
        needed = self.config.samples.p95
        for metric, source in (("http_req_duration", "client"), ("http_req_duration_corrected", "client_corrected")):
            value, count = self.client.quantile(metric, 95)
            if count:
                self.results.append(
                    check(
                        id="p95",
                        description=f"{_LATENCY['p95']} < {self.t.p95_ms:g} ms",
                        scope="overall",
                        source="client_corrected" if source == "client_corrected" else "client",
                        observed=value,
                        op="<",
                        bound=self.t.p95_ms,
                        unit="ms",
                        samples=count,
                        needed=needed,
                    )
                )
        value, count = self.client.quantile("http_req_duration", 95, {"cache": "hot"})
        if count:
            self.results.append(
                check(
                    id="cached_p95",
                    description=f"{_LATENCY['cached_p95']} < {self.t.cached_p95_ms:g} ms",
                    scope="cache:hot",
                    source="client",
                    observed=value,
                    op="<",
                    bound=self.t.cached_p95_ms,
                    unit="ms",
                    samples=count,
                    needed=needed,
                    note="calls the traffic model sent to warm keys (cache=hot): intended hits, not observed ones",
                )
            )

    def _metric_latency_targets(self) -> None:
        m = self.metrics
        scoped: list[tuple[str, BucketHistogram]] = []
        if m.mcp_duration is not None:
            scoped.append(("overall", m.mcp_duration))
        scoped.extend((f"tool:{tool}", hist) for tool, hist in sorted(m.mcp_duration_by_tool.items()))
        for scope, hist in scoped:
            estimate = hist.quantile(0.95)
            if math.isnan(estimate.value):
                continue
            bound_s = self.t.p95_ms / 1000
            exact = _exact_share(hist, bound_s)
            if exact is not None:
                how = f"{exact:.1%} of calls at or below the {self.t.p95_ms:g} ms bucket bound (exact)"
            else:
                how = f"the p95 lies in the bucket ({estimate.lower * 1000:g}, {estimate.upper * 1000:g}] ms"
            self.results.append(
                check(
                    id="p95",
                    description=f"{_LATENCY['p95']} < {self.t.p95_ms:g} ms",
                    scope=scope,
                    source="metrics",
                    observed=estimate.value * 1000,
                    op="<",
                    bound=self.t.p95_ms,
                    unit="ms",
                    samples=hist.count,
                    needed=self.config.samples.p95,
                    severity="warning",
                    note=f"interpolated within its bucket; {how}; a time window, not the run's traces",
                )
            )

    def _error_targets(self) -> None:
        t, needed = self.t, self.config.samples.rate
        groups: list[tuple[str, list[Call]]] = [("overall", self.selected)]
        groups.extend((f"tool:{tool}", [c for c in self.selected if c.tool == tool]) for tool in self.tools)
        for scope, calls in groups:
            if not calls:
                continue
            failed = sum(1 for c in calls if c.error)
            self.results.append(
                check(
                    id="error_rate",
                    description=f"share of tool calls that failed < {t.error_rate:g}",
                    scope=scope,
                    source="server_spans",
                    observed=failed / len(calls),
                    op="<",
                    bound=t.error_rate,
                    unit="ratio",
                    samples=len(calls),
                    needed=needed,
                )
            )
        if self.selected:
            down = sum(1 for c in self.selected if c.unavailable)
            self.results.append(self._availability("server_spans", 1 - down / len(self.selected), len(self.selected)))
        if self.client is None:
            return
        errors = self.client.rate("mcp_tool_errors")
        if errors is not None and errors[1]:
            self.results.append(
                check(
                    id="error_rate",
                    description=f"share of tool calls that failed < {t.error_rate:g}",
                    scope="overall",
                    source="client",
                    observed=errors[0],
                    op="<",
                    bound=t.error_rate,
                    unit="ratio",
                    samples=errors[1],
                    needed=needed,
                )
            )
        failed_http = self.client.rate("http_req_failed")
        if failed_http is not None and failed_http[1]:
            self.results.append(self._availability("client", 1 - failed_http[0], failed_http[1]))

    def _availability(self, source: Literal["server_spans", "client"], observed: float, samples: int) -> TargetResult:
        what = (
            "calls answered without a 5xx and with retrieval reachable"
            if source == "server_spans"
            else "requests answered at all (a 2xx/3xx response)"
        )
        return check(
            id="availability",
            description=f"share of {what} ≥ {self.t.availability:g}",
            scope="overall",
            source=source,
            observed=observed,
            op=">=",
            bound=self.t.availability,
            unit="ratio",
            samples=samples,
            needed=self.config.samples.rate,
        )

    def _throughput_targets(self) -> tuple[float | None, float | None]:
        duration = self.selection.duration_s
        if self.client is None or not duration:
            return self._server_throughput(), None
        requests = self.client.count("http_reqs") or 0.0
        iterations = self.client.count("iterations")
        achieved = requests / duration
        offered_iterations = self.selection.offered_rps
        offered: float | None = None
        if offered_iterations is not None:
            per_iteration = max(1.0, requests / iterations) if iterations else 1.0
            offered = offered_iterations * per_iteration
            achieved_iterations = (iterations if iterations is not None else requests) / duration
            tolerance = self.config.throughput.keep_up_tolerance
            floor = offered_iterations * (1 - tolerance)
            self.results.append(
                check(
                    id="throughput_offered",
                    description="the load the scenario offered was served (iterations per second)",
                    scope=f"phase:{self.selection.phase}",
                    source="client",
                    observed=achieved_iterations,
                    op=">=",
                    bound=floor,
                    unit="rps",
                    samples=int(requests),
                    needed=1,
                    note=f"offered {offered_iterations:.3g}/s; at least {1 - tolerance:.0%} of it must be served",
                )
            )
        for id_, bound, severity in self._levels("throughput"):
            self.results.append(self._throughput(id_, bound, severity, achieved, offered, int(requests)))
        return achieved, offered

    def _throughput(
        self, id_: str, bound: float, severity: Severity, achieved: float, offered: float | None, samples: int
    ) -> TargetResult:
        return check(
            id=id_,
            description=f"requests per second ≥ {bound:g}",
            scope=f"phase:{self.selection.phase}",
            source="client",
            observed=achieved,
            op=">=",
            bound=bound,
            unit="rps",
            samples=samples,
            needed=1,
            severity=severity,
            inapplicable=(
                f"the scenario offered {offered:.3g} RPS"
                if offered is not None and offered < bound * (1 - 1e-9)
                else None
            ),
        )

    def _server_throughput(self) -> float | None:
        # Without a load summary the offered load is unknown: report the traced rate over the traced window.
        if len(self.selected) < 2:
            return None
        start = self.selected[0].start_ns
        end = max(c.start_ns + int(c.duration_ms * _NS_PER_MS) for c in self.selected)
        seconds = (end - start) / 1e9
        if seconds <= 0:
            return None
        achieved = len(self.selected) / seconds
        for id_, bound, severity in self._levels("throughput"):
            self.results.append(
                check(
                    id=id_,
                    description=f"requests per second ≥ {bound:g}",
                    scope="overall",
                    source="server_spans",
                    observed=achieved,
                    op=">=",
                    bound=bound,
                    unit="rps",
                    samples=len(self.selected),
                    needed=1,
                    severity=severity,
                    note="traced calls over the traced window (no load summary: unsampled and unaware of the offer)",
                )
            )
        return achieved

    def _cache_targets(self) -> tuple[float | None, dict[str, float]]:
        lookups = [c for c in self.selected if c.cache in ("hit", "miss")]
        by_tool: dict[str, float] = {}
        for tool in sorted({c.tool for c in lookups}):
            mine = [c for c in lookups if c.tool == tool]
            by_tool[tool] = sum(1 for c in mine if c.cache == "hit") / len(mine)
        if not lookups:
            return None, by_tool
        hits = sum(1 for c in lookups if c.cache == "hit")
        rate = hits / len(lookups)
        needed = self.config.samples.rate
        intended = self.effective.intended_hit_ratio
        tiers = Counter(c.tier for c in lookups if c.cache == "hit")
        split = ", ".join(f"{tier}: {count}" for tier, count in sorted(tiers.items(), key=lambda kv: str(kv[0])))
        note = f"{hits} of {len(lookups)} cached-tool calls hit ({split})" if split else ""
        if intended is not None:
            tolerance = self.config.cache.hit_ratio_tolerance
            self.results.append(
                check(
                    id="cache_hit_intended",
                    description=f"cache hit rate ≥ the scenario's intended {intended:g} − {tolerance:g}",
                    scope="overall",
                    source="server_spans",
                    observed=rate,
                    op=">=",
                    bound=max(0.0, intended - tolerance),
                    unit="ratio",
                    samples=len(lookups),
                    needed=needed,
                    note=note,
                )
            )
        for id_, bound, severity in self._levels("cache_hit"):
            # A scenario whose intended ratio sits within the tolerance of the bound cannot tell a cache at the
            # bound from one below it: only cache_hit_intended judges it.
            tolerance = self.config.cache.hit_ratio_tolerance
            self.results.append(
                check(
                    id=id_,
                    description=f"cache hit rate ≥ {bound:g}",
                    scope="overall",
                    source="server_spans",
                    observed=rate,
                    op=">=",
                    bound=bound,
                    unit="ratio",
                    samples=len(lookups),
                    needed=needed,
                    severity=severity,
                    note=note,
                    inapplicable=(
                        f"the scenario intends a {intended:g} hit ratio, not above {bound:g} by the "
                        f"{tolerance:g} tolerance"
                        if intended is not None and intended < bound + tolerance - 1e-9
                        else None
                    ),
                )
            )
        return rate, by_tool

    def _cold_target(self) -> list[Call]:
        cold = cold_calls(self.calls)
        if not cold:
            return cold
        slowest = max(cold, key=lambda c: c.duration_ms)
        listing = ", ".join(f"{c.tool} {c.duration_ms:.0f} ms ({c.cache})" for c in cold)
        self.results.append(
            check(
                id="cold_max",
                description=f"every cold call (a tool's first uncached call of the run) < {self.t.cold_max_ms:g} ms",
                scope="cold",
                source="server_spans",
                observed=slowest.duration_ms,
                op="<",
                bound=self.t.cold_max_ms,
                unit="ms",
                samples=len(cold),
                needed=1,
                note=listing,
            )
        )
        return cold

    def _resource_targets(self) -> None:
        m = self.metrics
        memory = {k: max(v) / 2**20 for k, v in m.memory_bytes.items() if v}
        cpu = {k: 100 * sum(v) / len(v) for k, v in m.cpu_utilization.items() if v}
        memory_n = {k: len(v) for k, v in m.memory_bytes.items()}
        cpu_n = {k: len(v) for k, v in m.cpu_utilization.items()}
        memory_what = f"peak resident memory per instance < {self.t.memory_mb:g} MB"
        self._per_instance("memory", memory_what, memory, "MB", memory_n)
        self._per_instance("cpu", f"mean CPU per instance < {self.t.cpu_percent:g} % of a core", cpu, "percent", cpu_n)

    def _per_instance(
        self,
        id_: str,
        description: str,
        observed: Mapping[str, float],
        unit: Literal["MB", "percent"],
        counts: Mapping[str, int],
    ) -> None:
        bound = self.t.memory_mb if unit == "MB" else self.t.cpu_percent
        metric = contract.PROCESS_MEMORY if unit == "MB" else contract.PROCESS_CPU_UTILIZATION
        if not observed:
            self.results.append(
                check(
                    id=id_,
                    description=description,
                    scope="instances",
                    source="metrics",
                    observed=None,
                    op="<",
                    bound=bound,
                    unit=unit,
                    note=f"no {metric} samples",
                )
            )
            return
        for instance, value in sorted(observed.items()):
            self.results.append(
                check(
                    id=id_,
                    description=description,
                    scope=f"instance:{instance}",
                    source="metrics",
                    observed=value,
                    op="<",
                    bound=bound,
                    unit=unit,
                    samples=counts.get(instance, 1),
                    needed=1,
                )
            )

    def _tool_stats(self, ratio: float | None) -> list[ToolStats]:
        s = self.config.samples
        sampled = ratio is not None and ratio < 1 - self.config.quality.sampling_tolerance
        out: list[ToolStats] = []
        for tool in [*self.tools, ALL]:
            mine = self.selected if tool == ALL else [c for c in self.selected if c.tool == tool]
            for kind in ("all", "hit", "miss", "uncached"):
                group = mine if kind == "all" else [c for c in mine if c.cache == kind]
                if not group:
                    continue
                ordered = self._durations(group)
                stats = ToolStats(
                    tool=tool,
                    cache=kind,
                    count=len(group),
                    errors=sum(1 for c in group if c.error),
                    p50_ms=self._p(ordered, 50, s.p50),
                    p95_ms=self._p(ordered, 95, s.p95),
                    p99_ms=self._p(ordered, 99, s.p99),
                    max_ms=ordered[-1],
                    count_estimated=len(group) / ratio if sampled and ratio else None,
                )
                if kind == "all" and self.client is not None:
                    extra = {} if tool == ALL else {"tool": tool}
                    stats.client_p95_ms = self._client_p("http_req_duration", 95, extra)
                    stats.client_corrected_p95_ms = self._client_p("http_req_duration_corrected", 95, extra)
                out.append(stats)
        return out

    def _client_p(self, metric: str, p: float, extra: Mapping[str, str]) -> float | None:
        assert self.client is not None
        value, count = self.client.quantile(metric, p, extra)
        needed = self.config.samples.p99 if p >= 99 else self.config.samples.p95
        return value if count >= needed else None

    # -- disagreements --

    def _disagreements(self, hit_rate: float | None) -> None:
        rules = self.config.disagreement
        scopes: list[tuple[str, list[Call], dict[str, str]]] = [("overall", self.selected, {})]
        scopes.extend(
            (f"tool:{tool}", [c for c in self.selected if c.tool == tool], {"tool": tool}) for tool in self.tools
        )
        for scope, calls, extra in scopes:
            ordered = self._durations(calls)
            p, stat = (99.0, "p99") if len(ordered) >= self.config.samples.p99 else (95.0, "p95")
            server = self._p(ordered, p, self.config.samples.p99 if p >= 99 else self.config.samples.p95)
            if self.client is not None and server is not None:
                self._client_vs_server(scope, stat, p, server, extra)
            if scope == "overall" and server is not None and self.metrics.mcp_duration is not None:
                self._metrics_vs_spans(self.metrics.mcp_duration, ordered)
            elif scope != "overall" and self.metrics.mcp_duration_by_tool.get(extra.get("tool", "")) is not None:
                self._metrics_vs_spans(self.metrics.mcp_duration_by_tool[extra["tool"]], ordered, scope)
        m = self.metrics
        if hit_rate is not None and m.cache_hits is not None and m.cache_lookups:
            from_metrics = m.cache_hits / m.cache_lookups
            if abs(from_metrics - hit_rate) > rules.rate_gap:
                self.disagreements.append(
                    Disagreement(
                        what="cache hit rate: spans vs metrics",
                        values={"server_spans": hit_rate, "metrics": from_metrics},
                        explanation=(
                            "the metric counts every lookup in its time window (set-up warming, other phases, other "
                            "clients) while the spans count this run's phase; trust the spans for the run"
                        ),
                    )
                )
        self._error_rate_disagreement()

    def _client_vs_server(self, scope: str, stat: str, p: float, server: float, extra: dict[str, str]) -> None:
        assert self.client is not None
        rules = self.config.disagreement
        needed = self.config.samples.p99 if p >= 99 else self.config.samples.p95
        client, count = self.client.quantile("http_req_duration", p, extra)
        corrected, count_c = self.client.quantile("http_req_duration_corrected", p, extra)
        if client is not None and count >= needed:
            if client > server * rules.ratio and client - server > rules.min_gap_ms:
                lag = self.client.summary.health.loop_lag_p99_ms
                lag_note = f" (the generator's loop lag p99 was {lag:.1f} ms)" if lag is not None else ""
                self.disagreements.append(
                    Disagreement(
                        what=f"{scope} {stat}: client vs server spans",
                        values={"client_ms": client, "server_spans_ms": server},
                        explanation=(
                            "time spent outside the services' spans: the network, connection set-up, or the "
                            f"client's own queueing{lag_note}"
                        ),
                    )
                )
            elif server > client * rules.ratio and server - client > rules.min_gap_ms:
                self.disagreements.append(
                    Disagreement(
                        what=f"{scope} {stat}: server spans above the client",
                        values={"client_ms": client, "server_spans_ms": server},
                        explanation=(
                            "the services cannot take longer than the client waited: spans from other traffic carry "
                            "this run id, the phase selection differs, or clocks are skewed"
                        ),
                    )
                )
        if (
            client is not None
            and corrected is not None
            and min(count, count_c) >= needed
            and corrected > client * rules.ratio
            and corrected - client > rules.min_gap_ms
        ):
            self.disagreements.append(
                Disagreement(
                    what=f"{scope} {stat}: corrected vs uncorrected client latency",
                    values={"client_corrected_ms": corrected, "client_ms": client},
                    explanation=(
                        "coordinated omission: requests started late against their schedule, so latency from "
                        "the intended start is far above latency from the send — the server stalled or the "
                        "scenario ran out of VUs (raise maxVUs), unless the generator itself lagged"
                    ),
                )
            )

    def _metrics_vs_spans(self, hist: BucketHistogram, ordered: Sequence[float], scope: str = "overall") -> None:
        if len(ordered) < self.config.samples.p95:
            return
        estimate = hist.quantile(0.95)
        if math.isnan(estimate.value):
            return
        spans_p95 = nearest_rank(ordered, 95)
        low, high = estimate.lower * 1000, estimate.upper * 1000
        if low - self.config.disagreement.min_gap_ms <= spans_p95 <= high + self.config.disagreement.min_gap_ms:
            return
        self.disagreements.append(
            Disagreement(
                what=f"{scope} p95: server spans vs {contract.MCP_SERVER_DURATION}",
                values={"server_spans_ms": spans_p95, "metrics_low_ms": low, "metrics_high_ms": high},
                explanation=(
                    "the spans' p95 lies outside the histogram bucket that holds the metric's p95: the metric's time "
                    "window holds other traffic, or spans were dropped or sampled unevenly"
                ),
            )
        )

    def _error_rate_disagreement(self) -> None:
        if self.client is None or not self.selected:
            return
        errors = self.client.rate("mcp_tool_errors")
        if errors is None or not errors[1]:
            return
        server = sum(1 for c in self.selected if c.error) / len(self.selected)
        if abs(errors[0] - server) <= self.config.disagreement.rate_gap:
            return
        explanation = (
            "the client saw failures the services never traced: timeouts, refused connections, or requests that "
            "never reached the gateway"
            if errors[0] > server
            else "the services recorded failures the client counted as successes: check the script's error handling"
        )
        self.disagreements.append(
            Disagreement(
                what="error rate: client vs server spans",
                values={"client": errors[0], "server_spans": server},
                explanation=explanation,
            )
        )
