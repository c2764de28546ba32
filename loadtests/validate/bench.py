"""How long validating a big run takes, and how much memory: the goal is 1,000,000 spans in < 30 s and < 1 GB.

``python -m loadtests.validate.bench [--spans 1000000] [--keep DIR] [--store]`` writes a synthetic run in our
services' exact shape as OTLP JSON lines (what the Collector's file exporter writes: one export request per line,
each service's batch processor sending up to 512 ended spans at a time, gateway and retrieval lines interleaved,
metric exports every 10 s), then runs ``validate(ValidateOptions(run_id=..., sources=["otlp:FILE"], out_dir=...))``
in a fresh interpreter, so the peak RSS is the validator's own, and prints seconds and memory per stage.

The traces copy a real ``just load`` run: gateway SERVER ``POST /mcp`` (its parent the load generator's unexported
span, ``pp.run.id`` and ``pp.scenario`` copied from baggage) → INTERNAL ``tools/call <tool>`` → CLIENT ``POST
/v1/...`` → retrieval SERVER → ``cache.get`` L1 (and L2 with its Redis ``GET``) → on a miss, ``search <index>`` and
a Redis ``SET``. The mix: seven tools (four cached), about 58 % L1 hits, 20 % L2 hits, a few not-found,
unavailable and invalid-argument failures, log-normal latencies with event-loop stalls and a long tail; about 1 %
of the traces belong to another run sharing the collector (they must be left out). There is no load summary: the
validator then judges every traced call.

Generating the file is not timed. ``--keep DIR`` keeps it (and reuses it when its parameters match) and the reports.
``--store`` also measures the same run from the embedded receiver's SQLite store (the validator's default source),
built from the same spans through the receiver's own ingest path (protobuf requests → rows → SQLite; not timed).
"""

from __future__ import annotations

import argparse
import heapq
import math
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec

from otel import contract

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from typing import BinaryIO

__all__ = ("Generated", "StageFigures", "generate", "main", "measure")

_MB = 1024 * 1024
_BATCH = 512
_EXPORT_EVERY_NS = 5 * 10**9
_METRICS_EVERY_NS = 10 * 10**9
_T0 = 1_767_225_600_000_000_000  # 2026-01-01 00:00 UTC, in ns
_REDIS_SCOPE = "opentelemetry.instrumentation.redis"
_SCOPE_JSON = (
    msgspec.json.encode({"name": contract.INSTRUMENTATION_SCOPE}),
    msgspec.json.encode({"name": _REDIS_SCOPE, "version": "0.66b2"}),
)
_FILE = "spans.jsonl"
_META = "bench.json"
_VERSION = 1
"""Of the generator: a kept file written by another version is written again."""


class _Tool(NamedTuple):
    name: str
    route: str
    weight: float
    content_type: str | None
    """The cache's content type: ``None`` for a tool that does not use the cache."""
    searches: str | None
    """The index searched on a miss (or always, for an uncached tool that searches)."""


_TOOLS = (
    _Tool("search_runbooks", "/v1/runbooks/search", 0.34, "runbooks", "runbooks"),
    _Tool("get_decision_tree", "/v1/decision-tree", 0.20, "decision_trees", "runbooks"),
    _Tool("get_procedure", "/v1/procedure", 0.18, "procedures", "runbooks"),
    _Tool("search_knowledge_base", "/v1/knowledge-base/search", 0.12, "knowledge_base", "knowledge_base"),
    _Tool("get_escalation_path", "/v1/escalation", 0.08, None, "runbooks"),
    _Tool("record_resolution_feedback", "/v1/feedback", 0.04, None, None),
    _Tool("list_sources", "/v1/sources", 0.04, None, None),
)
_TOOL_WEIGHTS = [tool.weight for tool in _TOOLS]


class StageFigures(msgspec.Struct, kw_only=True):
    """What the measured child reports: seconds and memory per stage, and what it judged."""

    seconds: dict[str, float]
    """Wall time per stage, in the order they ran; ``other`` is the rest of ``validate`` (config, exemplars, and
    freeing the spans as it returns)."""
    cpu_s: dict[str, float]
    """CPU time (user + system) per stage: what the stage costs when other work shares the cores."""
    rss_mb: dict[str, float]
    """Resident set size after each stage."""
    peak_mb: dict[str, float]
    """Peak resident set size after each stage (so the stage that raised it shows)."""
    validate_s: float
    validate_cpu_s: float
    import_s: float
    load: float
    """The machine's 1-minute load average when ``validate`` returned: above ~1 the wall times include waiting."""
    spans: int
    calls: int
    traces: int
    grade: str
    exit_code: int


# --- the synthetic run ------------------------------------------------------------------------------------------


def _value(value: object) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": str(value)}


def _attributes(attributes: Mapping[str, object]) -> list[dict[str, Any]]:
    return [{"key": key, "value": _value(value)} for key, value in attributes.items()]


class _Service:
    """One service's batch span processor: spans queue when they end and leave in export requests of ≤ 512."""

    def __init__(self, name: str, instance: str) -> None:
        self.name = name
        resource_attributes: dict[str, object] = {
            "telemetry.sdk.language": "python",
            "telemetry.sdk.name": "opentelemetry",
            "telemetry.sdk.version": "1.45.2",
            "service.name": name,
            "service.version": "0.1.0",
            "service.instance.id": instance,
        }
        self.resource = msgspec.json.encode({"attributes": _attributes(resource_attributes)})
        self.running: list[tuple[int, int, int, bytes]] = []
        """Heap of spans not yet ended at the simulated clock: ``(end, sequence, scope, JSON)``."""
        self.ended: list[tuple[int, bytes]] = []
        self.last_export = _T0

    def line(self) -> bytes:
        by_scope: dict[int, list[bytes]] = {}
        for scope, span in self.ended:
            by_scope.setdefault(scope, []).append(span)
        self.ended = []
        blocks = [
            b'{"scope":' + _SCOPE_JSON[scope] + b',"spans":[' + b",".join(spans) + b"]}"
            for scope, spans in sorted(by_scope.items())
        ]
        return b'{"resourceSpans":[{"resource":' + self.resource + b',"scopeSpans":[' + b",".join(blocks) + b"]}]}\n"


class _Metrics:
    """The cumulative metrics the services export: MCP durations per tool, cache lookups, memory, CPU, drops."""

    def __init__(self) -> None:
        self.bounds = list(contract.DURATION_BUCKETS_S)
        self.durations: dict[tuple[str, str], list[int]] = {}
        self.sums: dict[tuple[str, str], float] = {}
        self.cache: dict[tuple[str, str, str], int] = {}

    def call(self, tool: str, outcome: str, seconds: float) -> None:
        key = (tool, outcome)
        counts = self.durations.get(key)
        if counts is None:
            counts = self.durations[key] = [0] * (len(self.bounds) + 1)
            self.sums[key] = 0.0
        bucket = next((i for i, bound in enumerate(self.bounds) if seconds <= bound), len(self.bounds))
        counts[bucket] += 1
        self.sums[key] += seconds

    def lookup(self, tier: str, content_type: str, hit: bool) -> None:
        key = (tier, content_type, "hit" if hit else "miss")
        self.cache[key] = self.cache.get(key, 0) + 1

    def lines(self, gateway: _Service, retrieval: _Service, now: int, rng: random.Random) -> list[bytes]:
        def point(attributes: dict[str, object], **fields: Any) -> dict[str, Any]:
            stamps = {"startTimeUnixNano": str(_T0), "timeUnixNano": str(now)}
            return {"attributes": _attributes(attributes), **stamps, **fields}

        def process(base_mb: float, cpu: float) -> list[dict[str, Any]]:
            memory = int((base_mb + (now - _T0) / 1e9 * 0.01 + rng.uniform(0, 4)) * _MB)
            return [
                {"name": contract.PROCESS_MEMORY, "unit": "By", "sum": {"dataPoints": [point({}, asInt=str(memory))],
                                                                        "aggregationTemporality": 2}},
                {"name": contract.PROCESS_CPU_UTILIZATION, "unit": "1",
                 "gauge": {"dataPoints": [{"timeUnixNano": str(now), "asDouble": cpu + rng.uniform(-0.05, 0.05)}]}},
                {"name": contract.SPANS_DROPPED, "unit": "{span}",
                 "sum": {"dataPoints": [point({}, asInt="0")], "aggregationTemporality": 2, "isMonotonic": True}},
            ]  # fmt: skip

        histogram = [
            point(
                {
                    contract.MCP_METHOD_NAME: "tools/call",
                    contract.GEN_AI_TOOL_NAME: tool,
                    contract.TOOL_OUTCOME: outcome,
                    **({} if outcome == "ok" else {contract.ERROR_TYPE: outcome}),
                },
                count=str(sum(counts)),
                sum=self.sums[(tool, outcome)],
                bucketCounts=[str(c) for c in counts],
                explicitBounds=self.bounds,
            )
            for (tool, outcome), counts in sorted(self.durations.items())
        ]
        gateway_metrics = [
            {"name": contract.MCP_SERVER_DURATION, "unit": "s",
             "histogram": {"dataPoints": histogram, "aggregationTemporality": 2}},
            *process(92.0, 0.35),
        ]  # fmt: skip
        cache = [
            point(
                {contract.CACHE_TIER: tier, contract.CACHE_CONTENT_TYPE: content, contract.CACHE_RESULT: result},
                asInt=str(count),
            )
            for (tier, content, result), count in sorted(self.cache.items())
        ]
        retrieval_metrics = [
            {"name": contract.CACHE_REQUESTS, "unit": "{request}",
             "sum": {"dataPoints": cache, "aggregationTemporality": 2, "isMonotonic": True}},
            *process(180.0, 0.55),
        ]  # fmt: skip
        out = []
        for service, found in ((gateway, gateway_metrics), (retrieval, retrieval_metrics)):
            doc = {
                "resourceMetrics": [
                    {
                        "resource": msgspec.json.decode(service.resource),
                        "scopeMetrics": [{"scope": {"name": contract.INSTRUMENTATION_SCOPE}, "metrics": found}],
                    }
                ]
            }
            out.append(msgspec.json.encode(doc) + b"\n")
        return out


class _Synth:
    """Traces one after another in start order (Poisson arrivals); spans leave in batches as they end."""

    def __init__(self, out: BinaryIO, seed: int, rps: float) -> None:
        self.out = out
        self.rng = random.Random(seed)
        self.rps = rps
        self.gateway = _Service(contract.GATEWAY_SERVICE, "5ebc719c-1634-4cca-b256-38b1cd9479f3")
        self.retrieval = _Service(contract.RETRIEVAL_SERVICE, "2caa397a-9e66-4328-a1b5-66a1876b6e08")
        self.metrics = _Metrics()
        self.clock = _T0
        self.next_metrics = _T0 + _METRICS_EVERY_NS
        self.sequence = 0
        self.request_id = 0
        self.spans = 0
        """Spans written, the other run's included."""
        self.traces = 0
        """Traces of the run."""
        self.lines = 0
        self.bytes = 0

    # -- times --

    def _ms(self, median_ms: float, sigma: float = 0.45) -> int:
        return int(self.rng.lognormvariate(math.log(median_ms), sigma) * 1e6)

    def _stall(self, p: float, median_ms: float) -> int:
        return self._ms(median_ms, 0.8) if self.rng.random() < p else 0

    # -- spans --

    def _id(self) -> str:
        return f"{self.rng.getrandbits(64):016x}"

    def _span(
        self,
        service: _Service,
        ids: tuple[str, str, str | None],
        name: str,
        kind: int,
        start: int,
        end: int,
        attributes: Mapping[str, object],
        *,
        error: str | None = None,
        remote_parent: bool = False,
        scope: int = 0,
    ) -> None:
        """Queue one span; ``ids`` are its trace id, span id and parent's span id."""
        trace_id, span_id, parent = ids
        doc: dict[str, Any] = {"traceId": trace_id, "spanId": span_id}
        if parent is not None:
            doc["parentSpanId"] = parent
        doc["flags"] = 768 if remote_parent else 256
        doc["name"] = name
        doc["kind"] = kind
        doc["startTimeUnixNano"] = str(start)
        doc["endTimeUnixNano"] = str(end)
        doc["attributes"] = _attributes(attributes)
        doc["status"] = {} if error is None else {"message": error, "code": 2}
        self.sequence += 1
        heapq.heappush(service.running, (end, self.sequence, scope, msgspec.json.encode(doc)))

    def _redis(self, trace_id: str, parent: str, command: str, start: int, end: int) -> None:
        attributes: dict[str, object] = {
            "db.statement": "GET ?" if command == "GET" else "SET ? ? ? ?",
            "db.redis.args_length": 2 if command == "GET" else 5,
            "db.system": "redis",
            "db.redis.database_index": 0,
            "net.peer.name": "127.0.0.1",
            "net.peer.port": 6379,
            "net.transport": "ip_tcp",
        }
        self._span(self.retrieval, (trace_id, self._id(), parent), command, 3, start, end, attributes, scope=1)

    def _lookup(self, ids: tuple[str, str, str], tier: str, content: str, hit: bool, start: int, end: int) -> None:
        self.metrics.lookup(tier, content, hit)
        attributes: dict[str, object] = {
            contract.CACHE_TIER: tier,
            contract.CACHE_CONTENT_TYPE: content,
            contract.CACHE_HIT: hit,
        }
        self._span(self.retrieval, ids, contract.CACHE_SPAN, 1, start, end, attributes)

    def _retrieval(self, trace_id: str, parent: str, tool: _Tool, r0: int, run_id: str, outcome: str) -> int:
        """The retrieval side of one call, starting at ``r0``; returns its server span's end."""
        rng = self.rng
        server = self._id()
        t = r0 + self._ms(0.06) + self._stall(0.02, 12.0)  # routing, decoding; sometimes the event loop is busy
        content = tool.content_type
        search = tool.searches is not None
        if content is not None:
            roll = rng.random()
            l1_hit = roll < 0.58 and outcome == "ok"
            l2_hit = not l1_hit and roll < 0.78 and outcome == "ok"
            a, t = t, t + self._ms(0.012)
            self._lookup((trace_id, self._id(), server), "l1", content, l1_hit, a, t)
            search = not (l1_hit or l2_hit)
            if not l1_hit:
                a = t + self._ms(0.01)
                get_start = a + self._ms(0.03)
                get_end = get_start + self._ms(0.28) + self._stall(0.01, 8.0)
                t = get_end + self._ms(0.04)
                lookup = self._id()
                self._lookup((trace_id, lookup, server), "l2", content, l2_hit, a, t)
                self._redis(trace_id, lookup, "GET", get_start, get_end)
        if search and outcome in ("ok", "not_found"):
            index = tool.searches or "runbooks"
            a = t + self._ms(0.02)
            t = a + self._ms(1.1) + self._stall(0.01, 40.0) + self._stall(0.002, 450.0)
            results = 0 if outcome == "not_found" else rng.randrange(1, 100)
            self._span(
                self.retrieval, (trace_id, self._id(), server), contract.SEARCH_SPAN.format(index=index), 1, a, t,
                {contract.SEARCH_RESULTS: results},
            )  # fmt: skip
            if content is not None and outcome == "ok":
                a = t + self._ms(0.02)
                t = a + self._ms(0.3) + self._stall(0.005, 5.0)
                self._redis(trace_id, server, "SET", a, t)
        end = t + self._ms(0.08)
        attributes: dict[str, object] = {
            contract.HTTP_REQUEST_METHOD: "POST",
            contract.URL_PATH: tool.route,
            contract.URL_SCHEME: "http",
            contract.HTTP_ROUTE: tool.route,
            contract.RUN_ID: run_id,
            contract.SCENARIO: "load",
            contract.HTTP_RESPONSE_STATUS_CODE: 404 if outcome == "not_found" else 200,
        }
        self._span(
            self.retrieval, (trace_id, server, parent), f"POST {tool.route}", 2, r0, end, attributes,
            remote_parent=True,
        )  # fmt: skip
        return end

    def trace(self, run_id: str) -> None:
        """One tool call: gateway server → tools/call → client → retrieval (module docstring)."""
        rng = self.rng
        self.clock += int(rng.expovariate(self.rps) * 1e9)
        t0 = self.clock
        self._advance(t0)
        tool = rng.choices(_TOOLS, _TOOL_WEIGHTS)[0]
        roll = rng.random()
        outcome = "ok"
        if roll < 0.001:
            outcome = "invalid_arguments"
        elif roll < 0.0025:
            outcome = "unavailable"
        elif roll < 0.008 and tool.name in ("get_procedure", "get_decision_tree"):
            outcome = "not_found"
        trace_id = f"{rng.getrandbits(128):032x}"
        generator, server, call = self._id(), self._id(), self._id()  # the generator's span is never exported
        self.request_id += 1
        call_start = t0 + self._ms(0.25) + self._stall(0.01, 6.0)
        t = call_start + self._ms(0.05)
        if outcome != "invalid_arguments":
            client = self._id()
            client_start = t
            attributes: dict[str, object] = {
                contract.HTTP_REQUEST_METHOD: "POST",
                contract.URL_FULL: f"http://127.0.0.1:44055{tool.route}",
                contract.SERVER_ADDRESS: "127.0.0.1",
                contract.SERVER_PORT: 44055,
            }
            error = None
            if outcome == "unavailable":
                t = client_start + self._ms(1.5)  # refused, or the breaker failing fast
                attributes[contract.ERROR_TYPE] = "ConnectionRefusedError"
                error = ""
            else:
                r0 = client_start + self._ms(0.15)
                t = self._retrieval(trace_id, client, tool, r0, run_id, outcome) + self._ms(0.12)
                status = 404 if outcome == "not_found" else 200
                attributes[contract.HTTP_RESPONSE_STATUS_CODE] = status
                if status >= 400:
                    attributes[contract.ERROR_TYPE] = str(status)
                    error = ""
            self._span(
                self.gateway, (trace_id, client, call), f"POST {tool.route}", 3, client_start, t, attributes,
                error=error,
            )  # fmt: skip
        call_end = t + self._ms(0.06)
        end = call_end + self._ms(0.2)
        self._span(
            self.gateway, (trace_id, call, server), contract.TOOL_CALL_SPAN.format(tool=tool.name), 1, call_start,
            call_end,
            {
                contract.MCP_METHOD_NAME: "tools/call", contract.GEN_AI_TOOL_NAME: tool.name,
                contract.JSONRPC_REQUEST_ID: str(self.request_id), contract.TOOL_OUTCOME: outcome,
            }
            | ({} if outcome == "ok" else {contract.ERROR_TYPE: outcome}),
            error=None if outcome == "ok" else f"{outcome} ({tool.name})",
        )  # fmt: skip
        self._span(
            self.gateway, (trace_id, server, generator), "POST /mcp", 2, t0, end,
            {
                contract.HTTP_REQUEST_METHOD: "POST", contract.URL_PATH: "/mcp", contract.URL_SCHEME: "http",
                contract.HTTP_ROUTE: "/mcp", contract.RUN_ID: run_id, contract.SCENARIO: "load",
                contract.HTTP_RESPONSE_STATUS_CODE: 200,
            },
            remote_parent=True,
        )  # fmt: skip
        self.metrics.call(tool.name, outcome, (call_end - call_start) / 1e9)

    # -- export --

    def _advance(self, now: int) -> None:
        """Spans that ended by ``now`` join their service's queue; full queues (or 5 s old ones) are exported."""
        while now >= self.next_metrics:
            self._write(self.metrics.lines(self.gateway, self.retrieval, self.next_metrics, self.rng))
            self.next_metrics += _METRICS_EVERY_NS
        for service in (self.gateway, self.retrieval):
            running = service.running
            while running and running[0][0] <= now:
                _, _, scope, span = heapq.heappop(running)
                service.ended.append((scope, span))
                if len(service.ended) >= _BATCH:
                    self._export(service, now)
            if service.ended and now - service.last_export >= _EXPORT_EVERY_NS:
                self._export(service, now)

    def _export(self, service: _Service, now: int) -> None:
        self.spans += len(service.ended)
        self._write([service.line()])
        service.last_export = now

    def _write(self, lines: list[bytes]) -> None:
        for line in lines:
            self.out.write(line)
            self.lines += 1
            self.bytes += len(line)

    def finish(self) -> None:
        self._advance(self.clock + 60 * 10**9)
        for service in (self.gateway, self.retrieval):
            if service.ended:
                self._export(service, self.clock)


class Generated(msgspec.Struct, kw_only=True):
    """What ``generate`` wrote: the file, its run, and how much of it there is."""

    file: str
    run_id: str
    spans: int
    """Every span in the file, the other run's included."""
    run_spans: int
    traces: int
    lines: int
    bytes: int
    seed: int
    requested: int
    seconds: float
    version: int = 0


def generate(file: Path, spans: int, *, seed: int = 1, rps: float = 150.0, noise: float = 0.01) -> Generated:
    """Write about ``spans`` spans of one run (plus ``noise`` × as many traces of another run) to ``file``."""
    started = time.perf_counter()
    run_id = "20260101-000000-bench1"
    other = "20260101-000000-other1"
    with file.open("wb") as out:
        synth = _Synth(out, seed, rps)
        run_spans = 0
        while run_spans < spans:
            before = synth.sequence
            if synth.rng.random() < noise:
                synth.trace(other)
            else:
                synth.trace(run_id)
                run_spans += synth.sequence - before
                synth.traces += 1
        synth.finish()
    return Generated(
        file=str(file),
        run_id=run_id,
        spans=synth.spans,
        run_spans=run_spans,
        traces=synth.traces,
        lines=synth.lines,
        bytes=synth.bytes,
        seed=seed,
        requested=spans,
        seconds=time.perf_counter() - started,
        version=_VERSION,
    )


# --- the measurement --------------------------------------------------------------------------------------------


def _rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / _MB


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class _Stages:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.rss: dict[str, float] = {}
        self.peak: dict[str, float] = {}
        self.spans = 0

    def timed(self, stage: str, function: Callable[..., Any], *, memory: bool = True) -> Callable[..., Any]:
        """``function`` timed into ``stage``; ``memory=False`` for one called per trace (reading RSS costs ~20 µs)."""

        def run(*args: Any, **kwargs: Any) -> Any:
            started, cpu = time.perf_counter(), time.process_time()
            try:
                result = function(*args, **kwargs)
                if function.__name__.startswith("spans_"):
                    self.spans += len(result)
                return result
            finally:
                self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - started
                self.cpu[stage] = self.cpu.get(stage, 0.0) + time.process_time() - cpu
                if memory:
                    self.rss[stage] = _rss_mb()
                    self.peak[stage] = _peak_mb()

        return run


def _child(source: str, run_id: str, out_dir: Path) -> StageFigures:
    """Inside the fresh interpreter: validate once with every stage of ``run.validate`` timed."""
    started = time.perf_counter()
    from loadtests.validate import run

    import_s = time.perf_counter() - started
    stages = _Stages()
    open_source = getattr(run, "open_source")  # noqa: B009 (the module does not export it; it is patched here)
    spans_stage, metrics_stage = "read + convert spans", "metrics"

    def opened(*specs: str) -> Any:
        found = open_source(*specs)
        for name, stage in (
            ("spans_of_run", spans_stage),
            ("spans_in_window", spans_stage),
            ("histogram", metrics_stage),
            ("gauge", metrics_stage),
            ("counter", metrics_stage),
        ):
            setattr(found, name, stages.timed(stage, getattr(found, name)))
        return found

    path_stage = "group + critical path"
    wrapped = {
        "group_by_trace": path_stage,
        "_reroot": path_stage,
        "aggregate_paths": path_stage,
        "judge": "judge (targets, gates, grade)",
        "to_otlp_json": "exemplar traces",
        "write_reports": "reports (JSON, JUnit, HTML)",
    }
    setattr(run, "open_source", opened)  # noqa: B010
    for name, stage in wrapped.items():
        setattr(run, name, stages.timed(stage, getattr(run, name), memory=name != "_reroot"))
    started, cpu = time.perf_counter(), time.process_time()
    validation = run.validate(run.ValidateOptions(run_id=run_id, sources=[source], out_dir=out_dir))
    total, total_cpu = time.perf_counter() - started, time.process_time() - cpu
    stages.seconds["other"] = max(0.0, total - sum(stages.seconds.values()))
    stages.cpu["other"] = max(0.0, total_cpu - sum(stages.cpu.values()))
    stages.rss["other"] = _rss_mb()
    stages.peak["other"] = _peak_mb()
    verdict = validation.verdict
    traced = next((t for t in verdict.tools if t.tool == "all" and t.cache == "all"), None)
    return StageFigures(
        seconds=stages.seconds,
        cpu_s=stages.cpu,
        rss_mb=stages.rss,
        peak_mb=stages.peak,
        validate_s=total,
        validate_cpu_s=total_cpu,
        load=os.getloadavg()[0],
        import_s=import_s,
        spans=stages.spans,
        calls=0 if traced is None else traced.count,
        traces=0 if verdict.slowest_path is None else verdict.slowest_path.traces,
        grade=verdict.grade,
        exit_code=verdict.exit_code,
    )


def measure(source: str, run_id: str, out_dir: Path) -> tuple[StageFigures, float, float]:
    """Validate in a fresh interpreter: its figures, its wall time from spawn to exit, and its peak RSS (MB).

    The peak is the child's own ``ru_maxrss`` (``RUSAGE_CHILDREN`` would keep the largest of every child so far).
    """
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "loadtests.validate.bench", "--child", source, run_id, str(out_dir)],
        capture_output=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.stderr.write(done.stderr.decode(errors="replace"))
        raise SystemExit(f"the measured validator exited with {done.returncode}")
    figures = msgspec.json.decode(done.stdout.splitlines()[-1], type=StageFigures)
    return figures, wall, max(figures.peak_mb.values())


def _report(label: str, figures: StageFigures, wall: float, peak: float, write: Callable[[str], object]) -> None:
    write(f"\n{label}\n")
    write(f"  {'stage':<32} {'wall s':>8} {'CPU s':>8} {'RSS after':>10} {'peak so far':>12}\n")
    for stage, seconds in figures.seconds.items():
        cpu, rss, peak_so_far = figures.cpu_s[stage], figures.rss_mb.get(stage, 0.0), figures.peak_mb.get(stage, 0.0)
        write(f"  {stage:<32} {seconds:8.2f} {cpu:8.2f} {rss:8.0f} MB {peak_so_far:9.0f} MB\n")
    write(f"  {'validate() total':<32} {figures.validate_s:8.2f} {figures.validate_cpu_s:8.2f}\n")
    write(f"  {'interpreter + imports':<32} {figures.import_s:8.2f}\n")
    write(f"  {'process, spawn to exit':<32} {wall:8.2f}\n")
    write(f"  peak RSS (ru_maxrss of the validating process): {peak:.0f} MB\n")
    write(f"  load average {figures.load:.2f} on {os.cpu_count()} cores (above ~1, wall times include waiting)\n")
    write(
        f"  read {figures.spans:,} spans, judged {figures.calls:,} calls, critical path over {figures.traces:,} "
        f"traces; grade {figures.grade}, exit code {figures.exit_code}\n"
    )
    goal = figures.validate_s < 30 and peak < 1024
    write(f"  goal (< 30 s, < 1 GB): {'met' if goal else 'MISSED'}\n")


_PROTOBUF_FIELDS = {"stringValue": "string_value", "boolValue": "bool_value", "doubleValue": "double_value"}


def _protobuf_value(value: dict[str, Any]) -> Any:
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue

    ((kind, found),) = value.items()
    if kind == "intValue":
        return AnyValue(int_value=int(found))
    return AnyValue(**{_PROTOBUF_FIELDS[kind]: found})


def _protobuf_traces(line: bytes) -> bytes:
    """An export request line as protobuf, built field by field (``json_format`` would take ~100 µs a span)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope, KeyValue
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource
    from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

    def attributes(entries: list[dict[str, Any]]) -> list[KeyValue]:
        return [KeyValue(key=e["key"], value=_protobuf_value(e["value"])) for e in entries]

    request = ExportTraceServiceRequest()
    for resource_spans in msgspec.json.decode(line)["resourceSpans"]:
        scopes = []
        for scope_spans in resource_spans["scopeSpans"]:
            spans = [
                Span(
                    trace_id=bytes.fromhex(span["traceId"]),
                    span_id=bytes.fromhex(span["spanId"]),
                    parent_span_id=bytes.fromhex(span.get("parentSpanId", "")),
                    flags=span["flags"],
                    name=span["name"],
                    kind=span["kind"],
                    start_time_unix_nano=int(span["startTimeUnixNano"]),
                    end_time_unix_nano=int(span["endTimeUnixNano"]),
                    attributes=attributes(span["attributes"]),
                    status=Status(**span["status"]),
                )
                for span in scope_spans["spans"]
            ]
            scopes.append(ScopeSpans(scope=InstrumentationScope(**scope_spans["scope"]), spans=spans))
        resource = Resource(attributes=attributes(resource_spans["resource"]["attributes"]))
        request.resource_spans.append(ResourceSpans(resource=resource, scope_spans=scopes))
    return request.SerializeToString()


def _build_store(file: Path, store: Path) -> float:
    """The receiver's store of ``file``'s spans and metrics, through its own ingest path (protobuf → rows → SQLite)."""
    from otel.receiver.decode import Compression, Encoding, Signal, decode
    from otel.receiver.store import SpanStore

    started = time.perf_counter()
    writer = SpanStore(store)
    try:
        batches = []
        for line in _lines(file):
            if line.startswith(b'{"resourceSpans"'):
                body, signal, encoding = _protobuf_traces(line), Signal.TRACES, Encoding.PROTOBUF
            else:
                body, signal, encoding = line, Signal.METRICS, Encoding.JSON
            batches.append(decode(signal, body, encoding, compression=Compression.NONE, limit=1 << 30, keep=False))
            if len(batches) >= 8:
                writer.write(batches)
                batches = []
        if batches:
            writer.write(batches)
    finally:
        writer.close()
    return time.perf_counter() - started


def _lines(file: Path) -> Iterator[bytes]:
    with file.open("rb", buffering=4 << 20) as stream:
        yield from stream


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests.validate.bench", description=__doc__)
    parser.add_argument("--spans", type=int, default=1_000_000, help="spans of the run (default 1000000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="write (and reuse) the input and the reports here")
    parser.add_argument("--store", action="store_true", help="also measure from a SQLite store of the same spans")
    parser.add_argument("--child", nargs=3, metavar=("SOURCE", "RUN_ID", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    write = sys.stdout.write
    if args.child:
        source, run_id, out = args.child
        figures = _child(source, run_id, Path(out))
        sys.stdout.buffer.write(msgspec.json.encode(figures) + b"\n")
        return 0

    work = args.keep or Path(tempfile.mkdtemp(prefix="validate-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        file, meta = work / _FILE, work / _META
        generated: Generated | None = None
        if file.exists() and meta.exists():
            generated = msgspec.json.decode(meta.read_bytes(), type=Generated)
            if (generated.requested, generated.seed, generated.version) != (args.spans, args.seed, _VERSION):
                generated = None
        store = work / "telemetry.sqlite3"
        if generated is None:
            for stale in (store, store.with_name(f"{store.name}-wal"), store.with_name(f"{store.name}-shm")):
                stale.unlink(missing_ok=True)  # built from the previous file
            write(f"generating about {args.spans:,} spans in {file} …\n")
            generated = generate(file, args.spans, seed=args.seed)
            meta.write_bytes(msgspec.json.encode(generated))
        write(
            f"input: {generated.run_spans:,} spans in {generated.traces:,} traces of run {generated.run_id} "
            f"(+ {generated.spans - generated.run_spans:,} spans of another run), {generated.lines:,} lines, "
            f"{generated.bytes / _MB:.0f} MB (generated in {generated.seconds:.1f} s, not measured)\n"
        )
        figures, wall, peak = measure(f"otlp:{file}", generated.run_id, work / "reports-otlp")
        _report(f"otlp:{file}", figures, wall, peak, write)
        if args.store:
            if not store.exists():
                write(f"\nbuilding {store} through the receiver's ingest path …\n")
                write(f"  built in {_build_store(file, store):.1f} s (not measured)\n")
            figures, wall, peak = measure(f"store:{store}", generated.run_id, work / "reports-store")
            _report(f"store:{store}", figures, wall, peak, write)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
