"""One MCP tools/call through gateway and retrieval is one trace in the embedded store, with the contract's span tree.

Real processes throughout: the receiver (``python -m otel.receiver``), both services with the default (fast) tracer
provider exporting to it, and a raw MCP request carrying a sampled ``traceparent`` and the run id as ``baggage``.
The services are stopped before reading, so their exporters have flushed everything.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING

import msgspec
import pytest

from otel import contract
from otel.receiver import query
from tests.support.processes import ServiceProcess, gateway_process, retrieval_process

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.support.http import JsonClient

pytestmark = pytest.mark.redis

SERVER, CLIENT, INTERNAL = 2, 3, 1  # OTLP span kinds


class Traced:
    def __init__(self, receiver: ServiceProcess, retrieval: ServiceProcess, gateway: ServiceProcess, store: Path):
        self.receiver, self.retrieval, self.gateway, self.store = receiver, retrieval, gateway, store


@pytest.fixture
def traced(tmp_path: Path, redis_url: str, redis_prefix: str) -> Iterator[Traced]:
    store = tmp_path / "telemetry.sqlite3"
    receiver = ServiceProcess(
        "otel.receiver", "PP_RECEIVER_PORT", {"PP_RECEIVER_STORE": str(store)}, tmp_path / "r.log"
    )
    receiver.start()
    telemetry = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "PP_SPAN_FLUSH_INTERVAL_MS": "50"}
    retrieval = retrieval_process(tmp_path / "retrieval.log", redis_url, redis_prefix, tmp_path, telemetry)
    gateway = None
    try:
        retrieval.start()
        gateway = gateway_process(tmp_path / "gateway.log", retrieval.url, telemetry)
        gateway.start()
        yield Traced(receiver, retrieval, gateway, store)
    finally:
        for service in (gateway, retrieval, receiver):
            if service is not None:
                service.stop()


async def call(http: JsonClient, traced: Traced, run_id: str, request_id: int) -> str:
    trace_id = secrets.token_hex(16)
    headers = {
        "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01",
        "baggage": f"{contract.BAGGAGE_RUN_ID}={run_id},{contract.BAGGAGE_SCENARIO}=test",
        "content-type": "application/json",
    }
    message = {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {
            "name": "search_runbooks",
            "arguments": {"alert_type": "disk_full", "severity": "high", "affected_systems": [run_id]},
        },
    }
    async with http.session.post(traced.gateway.url + "/mcp", data=msgspec.json.encode(message), headers=headers) as r:
        assert r.status == 200
        assert "isError" in (await r.json())["result"]
    return trace_id


def wait_for_spans(store: Path, run_id: str, count: int) -> list[query.Trace]:
    deadline = time.monotonic() + 20
    found: list[query.Trace] = []
    while time.monotonic() < deadline:
        found = query.traces_of_run(store, run_id)
        if len(found) >= count:
            return found
        time.sleep(0.2)
    return found


def by_name(trace: query.Trace) -> dict[str, query.SpanNode]:
    return {node.span.name: node for node in trace.walk()}


async def test_one_call_is_one_trace_with_the_contract_tree(traced: Traced, http: JsonClient) -> None:
    run_id = f"run-{secrets.token_hex(4)}"
    miss_trace = await call(http, traced, run_id, 1)
    hit_trace = await call(http, traced, run_id, 2)  # same arguments: an L1 hit this time
    traced.gateway.stop()  # clean shutdown: the exporters flush everything they hold
    traced.retrieval.stop()

    traces = {t.trace_id: t for t in wait_for_spans(traced.store, run_id, 2)}
    assert set(traces) == {miss_trace, hit_trace}
    miss, hit = traces[miss_trace], traces[hit_trace]
    # One tree each (the root's parent is the caller's span, which only the load generator would export).
    assert len(miss.roots) == 1 and len(hit.roots) == 1, "a trace broken across the services"

    root = miss.root.span
    assert (root.name, root.kind, root.service_name) == ("POST /mcp", SERVER, contract.GATEWAY_SERVICE)
    assert root.attributes[contract.RUN_ID] == run_id
    assert root.attributes[contract.HTTP_ROUTE] == "/mcp"
    assert root.parent_span_id is not None  # the caller's traceparent is the parent, though never exported

    spans = by_name(miss)
    tool = spans["tools/call search_runbooks"]
    assert tool.span.kind == INTERNAL and tool.span.parent_span_id == root.span_id
    assert tool.span.attributes[contract.MCP_METHOD_NAME] == "tools/call"
    assert tool.span.attributes[contract.GEN_AI_TOOL_NAME] == "search_runbooks"
    assert tool.span.attributes[contract.JSONRPC_REQUEST_ID] == "1"
    client = next(n for n in miss.walk() if n.span.name == "POST /v1/runbooks/search" and n.span.kind == CLIENT)
    assert client.span.kind == CLIENT and client.span.parent_span_id == tool.span.span_id
    server = next(n for n in client.children if n.span.kind == SERVER)
    assert server.span.service_name == contract.RETRIEVAL_SERVICE
    assert server.span.name == "POST /v1/runbooks/search"
    lookups = [n.span for n in miss.walk() if n.span.name == contract.CACHE_SPAN]
    assert {(s.attributes[contract.CACHE_TIER], s.attributes[contract.CACHE_HIT]) for s in lookups} == {
        ("l1", False),
        ("l2", False),
    }
    l2 = next(
        n for n in miss.walk() if n.span.name == contract.CACHE_SPAN and n.span.attributes[contract.CACHE_TIER] == "l2"
    )
    assert any(child.span.kind == CLIENT for child in l2.children), "the redis instrumentation's GET span"
    search = by_name(miss)["search runbooks"].span
    assert search.attributes[contract.SEARCH_RESULTS] > 0

    hit_lookups = [n.span for n in hit.walk() if n.span.name == contract.CACHE_SPAN]
    assert [(s.attributes[contract.CACHE_TIER], s.attributes[contract.CACHE_HIT]) for s in hit_lookups] == [
        ("l1", True)
    ]
    assert "search runbooks" not in by_name(hit)
