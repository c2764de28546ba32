"""The validator's sources on one real run: the embedded stack, MCP calls carrying a run id, a real Prometheus.

One module-scoped run: ``python -m services`` (receiver with its JSON-lines copy, retrieval, gateway) on free ports,
Prometheus scraping both services every second, seven ``tools/call`` requests with ``traceparent`` and the run id in
``baggage``, then the stack is stopped (the receiver has everything: the services flush on the way out). Each
source must then give back exactly those calls: the store by run id, the JSON-lines files identically, Prometheus
the same histogram as the store.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from loadtests.client.http import HttpClient
from loadtests.client.mcp import McpClient
from loadtests.client.tracecontext import BAGGAGE, TRACEPARENT, baggage_header, new_traceparent
from loadtests.stack import EmbeddedStack
from loadtests.validate.sources import OtlpFileSource, PrometheusSource, StoreSource
from otel.contract import GATEWAY_SERVICE, MCP_SERVER_DURATION, RETRIEVAL_SERVICE, RUN_ID
from tests.support.prometheus import PrometheusProcess, run_prometheus

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.redis

CALLS: list[tuple[str, dict[str, Any]]] = [
    ("search_runbooks", {"alert_type": "disk_full", "severity": "high", "affected_systems": ["postgres"]}),
    ("search_knowledge_base", {"query": "disk full"}),
    ("search_runbooks", {"alert_type": "disk_full", "severity": "high", "affected_systems": ["postgres"]}),
    ("search_runbooks", {"alert_type": "memory_pressure", "severity": "critical", "affected_systems": ["api"]}),
    ("search_knowledge_base", {"query": "memory leak"}),
    ("search_knowledge_base", {"query": "disk full"}),
    ("search_runbooks", {"alert_type": "disk_full", "severity": "high", "affected_systems": ["postgres"]}),
]
TOOLS = Counter(tool for tool, _ in CALLS)


class _Stack(EmbeddedStack):
    """The embedded stack, with the receiver also writing OTLP JSON lines, and never a user's collector."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.jsonl_dir = workdir / "jsonl"

    def environment(self) -> dict[str, str]:
        env = super().environment()
        env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
        env["PP_RECEIVER_JSONL"] = str(self.jsonl_dir)
        return env


@dataclass(frozen=True)
class Run:
    run_id: str
    trace_ids: list[str]
    store_path: Path
    jsonl_dir: Path
    prometheus: PrometheusProcess
    start_ns: int
    prometheus_end_ns: int
    """When Prometheus had scraped every call."""
    end_ns: int
    """After the stack stopped (its last metrics flushed to the receiver)."""


async def _call(url: str, run_id: str) -> list[str]:
    http = HttpClient(timeout=30.0)
    try:
        client = McpClient(http, url)
        baggage = baggage_header(run_id, "sources-test", 1)
        sent = []
        for tool, arguments in CALLS:
            trace_id, traceparent = new_traceparent()
            result = await client.call_tool(tool, arguments, headers=[(TRACEPARENT, traceparent), (BAGGAGE, baggage)])
            assert result.ok, result
            sent.append(trace_id)
        return sent
    finally:
        await http.close()


def _wait_for(check: Any, what: str, prometheus: PrometheusProcess, timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout_s:g}s; prometheus log:\n{prometheus.log()}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    workdir = tmp_path_factory.mktemp("sources")
    stack = _Stack(workdir / "stack")
    run_id = f"sources-{uuid.uuid4().hex[:8]}"
    with stack:
        jobs = {
            GATEWAY_SERVICE: [f"127.0.0.1:{stack.gateway_port}"],
            RETRIEVAL_SERVICE: [f"127.0.0.1:{stack.retrieval_port}"],
        }
        with run_prometheus(jobs, workdir / "prometheus", wait_ready=True) as prometheus:
            with PrometheusSource(prometheus.url) as probe:

                def both_up() -> bool:
                    result = probe.instant("up", time.time_ns())["result"]
                    return sorted(r["value"][1] for r in result) == ["1", "1"]

                _wait_for(both_up, "both services scraped", prometheus)
                start_ns = time.time_ns()
                trace_ids = asyncio.run(_call(stack.mcp_url, run_id))

                def all_scraped() -> int | None:
                    # every call, and a scrape of each service inside the window (the calls can take less than
                    # one scrape interval, so the gateway's scrape alone does not imply the retrieval's)
                    now = time.time_ns()
                    found = probe.histogram(MCP_SERVER_DURATION, by=(), start_ns=start_ns, end_ns=now)
                    memory = probe.gauge("process.memory.usage", by=("service.name",), start_ns=start_ns, end_ns=now)
                    scraped = set(memory) == {(GATEWAY_SERVICE,), (RETRIEVAL_SERVICE,)}
                    return now if scraped and found and found[()].count == len(CALLS) else None

                prometheus_end_ns = _wait_for(all_scraped, "every call in Prometheus", prometheus)
            stack.stop()
            yield Run(
                run_id=run_id,
                trace_ids=trace_ids,
                store_path=stack.store_path,
                jsonl_dir=stack.jsonl_dir,
                prometheus=prometheus,
                start_ns=start_ns,
                prometheus_end_ns=prometheus_end_ns,
                end_ns=time.time_ns(),
            )


def test_the_store_returns_exactly_the_runs_traces(run: Run) -> None:
    with StoreSource(run.store_path) as store:
        spans = store.spans_of_run(run.run_id)
        assert store.spans_of_run("some-other-run") == []
    assert sorted({span.trace_id for span in spans}) == sorted(run.trace_ids)  # one trace per call, no other
    for trace_id in run.trace_ids:
        trace = [span for span in spans if span.trace_id == trace_id]
        assert {span.service for span in trace} == {GATEWAY_SERVICE, RETRIEVAL_SERVICE}
        (root,) = [span for span in trace if span.service == GATEWAY_SERVICE and span.kind == "server"]
        assert root.attributes[RUN_ID] == run.run_id
        assert not any(span.error for span in trace)
    tool_spans = Counter(span.attributes["gen_ai.tool.name"] for span in spans if span.name.startswith("tools/call"))
    assert tool_spans == TOOLS


def test_the_store_histogram_counts_the_calls(run: Run) -> None:
    with StoreSource(run.store_path) as store:
        by_tool = store.histogram(
            MCP_SERVER_DURATION, by=("service.name", "gen_ai.tool.name"), start_ns=run.start_ns, end_ns=run.end_ns
        )
    assert {key: h.count for key, h in by_tool.items()} == {(GATEWAY_SERVICE, t): n for t, n in TOOLS.items()}
    for histogram in by_tool.values():
        assert sum(histogram.counts) == histogram.count
        assert 0 < histogram.sum < 30 * histogram.count
        assert 0 < histogram.quantile(0.95).value < 30


def test_the_jsonl_files_answer_as_the_store(run: Run) -> None:
    start, end = run.start_ns, run.end_ns
    tools, cache, services = (
        ("service.name", "gen_ai.tool.name"),
        ("service.name", "pp.cache.result"),
        ("service.name",),
    )
    with StoreSource(run.store_path) as store, OtlpFileSource(run.jsonl_dir) as files:
        assert files.spans_of_run(run.run_id) == store.spans_of_run(run.run_id)
        histogram = files.histogram(MCP_SERVER_DURATION, by=tools, start_ns=start, end_ns=end)
        assert histogram == store.histogram(MCP_SERVER_DURATION, by=tools, start_ns=start, end_ns=end)
        counted = files.counter("pp.cache.requests", by=cache, start_ns=start, end_ns=end)
        assert counted == store.counter("pp.cache.requests", by=cache, start_ns=start, end_ns=end)
        assert sum(counted.values()) > 0
        memory = files.gauge("process.memory.usage", by=services, start_ns=start, end_ns=end)
        assert memory == store.gauge("process.memory.usage", by=services, start_ns=start, end_ns=end)
        assert set(memory) == {(GATEWAY_SERVICE,), (RETRIEVAL_SERVICE,)}


def test_prometheus_counts_the_calls_as_the_store_does(run: Run) -> None:
    by = ("service.name", "gen_ai.tool.name")
    with StoreSource(run.store_path) as store:
        stored = store.histogram(MCP_SERVER_DURATION, by=by, start_ns=run.start_ns, end_ns=run.end_ns)
    start, end = run.start_ns, run.prometheus_end_ns
    with PrometheusSource(run.prometheus.url) as prometheus:
        scraped = prometheus.histogram(MCP_SERVER_DURATION, by=by, start_ns=start, end_ns=end)
        assert {key: h.count for key, h in scraped.items()} == {(GATEWAY_SERVICE, t): n for t, n in TOOLS.items()}
        # the same measurements, aggregated by the services' Prometheus reader instead of their OTLP one
        assert {key: h.counts for key, h in scraped.items()} == {key: h.counts for key, h in stored.items()}
        for key, histogram in scraped.items():
            assert histogram.sum == pytest.approx(stored[key].sum)
        assert any("mcp_server_operation_duration_seconds_bucket{" in query for query in prometheus.queries())

        memory = prometheus.gauge("process.memory.usage", by=("service.name",), start_ns=start, end_ns=end)
        assert set(memory) == {(GATEWAY_SERVICE,), (RETRIEVAL_SERVICE,)}
        assert all(value > 10_000_000 for samples in memory.values() for _, value in samples)

    with PrometheusSource(run.prometheus.url, service_label="target_info") as joined:
        assert joined.histogram(MCP_SERVER_DURATION, by=by, start_ns=start, end_ns=end) == scraped

    # increase() needs two samples of a series inside the window and does not count a series' first value, so on a
    # run this short it sees little or nothing: only that Prometheus accepts the PromQL and the shapes are checked
    with PrometheusSource(run.prometheus.url, method="increase") as aggregated:
        estimated = aggregated.histogram(MCP_SERVER_DURATION, by=by, start_ns=start, end_ns=end)
        assert set(estimated) <= set(scraped)
        for key, histogram in estimated.items():
            assert histogram.count <= 2 * scraped[key].count
        assert aggregated.queries()[-1].startswith("sum by (job, gen_ai_tool_name) (increase(")
