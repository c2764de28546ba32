"""How long the validator's slowest-path analysis takes on a big run, and how much memory it needs.

``python -m loadtests.validate.bench_critical_path [--traces 100000]`` builds synthetic traces in our services'
shape (10 spans each: gateway server → tools/call → client → retrieval server → L1 and L2 cache lookups, Redis GET
and SET, two index searches; a few percent slow Redis or search calls), then times grouping by trace, the critical
path of every trace with the run's aggregation, and the per-trace ``critical_path`` alone. Span decoding is not
timed: each source converts to ``SpanRecord`` before this step. Peak RSS is the process's, spans included.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time

from loadtests.validate.critical_path import aggregate_paths, critical_path, group_by_trace
from loadtests.validate.spans import SpanKind, SpanRecord

GATEWAY = "pp-gateway"
RETRIEVAL = "pp-retrieval"
TOOLS = ("search_runbooks", "get_decision_tree", "get_procedure", "search_knowledge_base")
ROUTES = {
    "search_runbooks": "/v1/runbooks/search",
    "get_decision_tree": "/v1/decision-tree",
    "get_procedure": "/v1/procedure",
    "search_knowledge_base": "/v1/knowledge-base/search",
}
_SERVED: dict[str, object] = {"http.request.method": "POST", "http.response.status_code": 200}
_REDIS: dict[str, object] = {"db.system": "redis", "db.namespace": "0"}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class _Synth:
    """Builds one trace at a time; every span gets its own id strings and attribute dict, as decoding gives."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.next_id = 1
        self.clock = 1_767_225_600_000_000_000  # 2026-01-01, in ns

    def _span(
        self,
        trace_id: str,
        parent: SpanRecord | None,
        name: str,
        kind: SpanKind,
        service: str,
        start: int,
        end: int,
        attributes: dict[str, object],
    ) -> SpanRecord:
        span_id = f"{self.next_id:016x}"
        self.next_id += 1
        return SpanRecord(
            trace_id=trace_id,
            span_id=span_id,
            parent_id=None if parent is None else f"{parent.span_id}",  # a fresh string, as a decoder makes
            name=name,
            kind=kind,
            service=service,
            start_ns=start,
            end_ns=end,
            attributes=attributes,
        )

    def _ms(self, mean_ms: float, slow_p: float, slow_ms: float) -> int:
        rng = self.rng
        ms = rng.expovariate(1 / mean_ms) * 0.5 + mean_ms * 0.5
        if rng.random() < slow_p:
            ms += rng.uniform(0.5, 1.5) * slow_ms
        return int(ms * 1_000_000)

    def trace(self, run_id: str) -> list[SpanRecord]:
        self.clock += 200_000  # 5000 calls/s
        t0 = self.clock
        trace_id = f"{self.rng.getrandbits(128):032x}"
        tool = TOOLS[self.rng.randrange(len(TOOLS))]
        route = ROUTES[tool]
        us = 1_000
        # Retrieval, inside out.
        r0 = t0 + 350 * us
        l1_end = r0 + 20 * us + 15 * us
        l2_start = l1_end + 10 * us
        get_start = l2_start + 30 * us
        get_end = get_start + self._ms(0.25, 0.03, 40)
        l2_end = get_end + 40 * us
        search1_end = l2_end + 20 * us + self._ms(1.5, 0.02, 25)
        search2_end = search1_end + 10 * us + self._ms(0.6, 0.0, 0)
        r_end = search2_end + 120 * us
        set_start = search2_end + 30 * us
        set_end = set_start + self._ms(0.2, 0.01, 5)  # the L2 write may outlive the request: clipped
        end = r_end + 300 * us

        root = self._span(
            trace_id,
            None,
            "POST /mcp",
            "server",
            GATEWAY,
            t0,
            end,
            {**_SERVED, "http.route": "/mcp", "pp.run.id": run_id},
        )
        call = self._span(
            trace_id,
            root,
            f"tools/call {tool}",
            "internal",
            GATEWAY,
            t0 + 120 * us,
            end - 80 * us,
            {"mcp.method.name": "tools/call", "gen_ai.tool.name": tool, "jsonrpc.request.id": self.next_id},
        )
        client = self._span(
            trace_id,
            call,
            f"POST {route}",
            "client",
            GATEWAY,
            t0 + 200 * us,
            end - 150 * us,
            {"http.request.method": "POST", "url.full": f"http://127.0.0.1:8081{route}"},
        )
        server = self._span(
            trace_id,
            client,
            f"POST {route}",
            "server",
            RETRIEVAL,
            r0,
            r_end,
            {**_SERVED, "http.route": route},
        )
        l1 = self._span(
            trace_id,
            server,
            "cache.get",
            "internal",
            RETRIEVAL,
            r0 + 20 * us,
            l1_end,
            {"cache.tier": "l1", "pp.cache.content_type": "runbooks", "cache.hit": False},
        )
        l2 = self._span(
            trace_id,
            server,
            "cache.get",
            "internal",
            RETRIEVAL,
            l2_start,
            l2_end,
            {"cache.tier": "l2", "pp.cache.content_type": "runbooks", "cache.hit": False},
        )
        get = self._span(trace_id, l2, "GET", "client", RETRIEVAL, get_start, get_end, dict(_REDIS))
        index = "knowledge_base" if tool == "search_knowledge_base" else "runbooks"
        search1 = self._span(
            trace_id,
            server,
            f"search {index}",
            "internal",
            RETRIEVAL,
            l2_end + 20 * us,
            search1_end,
            {"pp.search.results": 5},
        )
        search2 = self._span(
            trace_id,
            server,
            "search knowledge_base",
            "internal",
            RETRIEVAL,
            search1_end + 10 * us,
            search2_end,
            {"pp.search.results": 3},
        )
        put = self._span(trace_id, server, "SET", "client", RETRIEVAL, set_start, set_end, dict(_REDIS))
        return [root, call, client, server, l1, l2, get, search1, search2, put]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests.validate.bench_critical_path", description=__doc__)
    parser.add_argument("--traces", type=int, default=100_000, help="traces of 10 spans (default 100000)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    out = sys.stdout

    rss_start = _rss_mb()
    started = time.perf_counter()
    synth = _Synth(args.seed)
    spans: list[SpanRecord] = []
    for _ in range(args.traces):
        spans.extend(synth.trace("bench-run"))
    built = time.perf_counter() - started
    rss_built = _rss_mb()
    out.write(f"built {len(spans):,} spans in {built:.2f} s; peak RSS {rss_built:.0f} MB (start {rss_start:.0f} MB)\n")

    started = time.perf_counter()
    traces = group_by_trace(spans)
    grouped = time.perf_counter() - started
    started = time.perf_counter()
    report = aggregate_paths(traces, root_filter=lambda span: span.service == GATEWAY)
    aggregated = time.perf_counter() - started
    rss_aggregated = _rss_mb()
    out.write(
        f"group_by_trace {grouped:.2f} s + aggregate_paths {aggregated:.2f} s = {grouped + aggregated:.2f} s "
        f"for {report.traces:,} traces; peak RSS {rss_aggregated:.0f} MB\n"
    )

    started = time.perf_counter()
    sections = 0
    for trace in traces:
        sections += len(critical_path(trace))
    alone = time.perf_counter() - started
    out.write(f"critical_path alone: {alone:.2f} s, {sections:,} sections; peak RSS {_rss_mb():.0f} MB\n")
    out.write(f"{report.sentence}\n")
    for share in report.shares[:5]:
        out.write(
            f"  {share.service} → {share.operation}: slow {share.share_slow:.1%}, median {share.share_median:.1%}, "
            f"all {share.share_all:.1%}, self p95 {share.self_ms_p95:.2f} ms\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
