"""``POST /mcp/call``: the tools over plain REST. A failure is never a 200, and every answer has the same envelope."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from services.gateway.tools import TOOLS
from tests.support.ports import free_port

if TYPE_CHECKING:
    from tests.support.http import JsonClient, Reply
    from tests.support.processes import Stack, StartGateway

pytestmark = pytest.mark.redis

MEMORY_ALERT = {"alert_type": "memory_pressure", "severity": "high", "affected_systems": ["java-app"]}
POOL = 4


@pytest.fixture(scope="module")
def gateway_env() -> dict[str, str]:
    """A small pool to retrieval, so that concurrent calls queue for connections and reuse them."""
    return {"PP_RETRIEVAL_CONNECTIONS": str(POOL)}


def envelope(reply: Reply, status: int) -> dict[str, Any]:
    """Check the envelope every answer shares; return the body."""
    assert reply.status == status, (reply.status, reply.body)
    assert reply.headers["Content-Type"].startswith("application/json")
    body: dict[str, Any] = reply.body
    assert body["success"] is (status == 200)
    assert isinstance(body["execution_time_ms"], (int, float))
    assert body["execution_time_ms"] >= 0
    stamp = datetime.fromisoformat(body["timestamp"])
    assert stamp.tzinfo is not None
    assert abs(datetime.now(UTC) - stamp) < timedelta(minutes=5)
    if status == 200:
        assert "error" not in body
    else:
        assert "data" not in body
        assert body["error"]["code"]
        assert body["error"]["message"]
    return body


async def call(http: JsonClient, stack: Stack, tool: str, arguments: object = None) -> Reply:
    body: dict[str, Any] = {"tool": tool}
    if arguments is not None:
        body["arguments"] = arguments
    return await http.post(stack.call_url, body)


async def test_every_tool_succeeds(stack: Stack, http: JsonClient) -> None:
    found = envelope(await call(http, stack, "search_runbooks", MEMORY_ALERT), 200)["data"]
    runbook = found["runbooks"][0]["runbook"]
    step = runbook["procedures"][0]
    calls: dict[str, dict[str, Any]] = {
        "search_runbooks": MEMORY_ALERT,
        "get_decision_tree": {"alert_context": {**MEMORY_ALERT, "memory_percent": 95}, "runbook_id": runbook["id"]},
        "get_procedure": {"runbook_id": runbook["id"], "step_name": step["id"]},
        "get_escalation_path": {"severity": "high", "business_hours": True, "alert_type": "memory_pressure"},
        "list_sources": {"include_health": True},
        "search_knowledge_base": {"query": "disk space", "max_results": 2},
        "record_resolution_feedback": {
            "runbook_id": runbook["id"],
            "procedure_id": step["id"],
            "outcome": "partial_success",
            "resolution_time_minutes": 7,
        },
    }
    for tool, arguments in calls.items():
        data = envelope(await call(http, stack, tool, arguments), 200)["data"]
        msgspec.convert(data, TOOLS[tool].result, strict=False)  # the same shape retrieval answers with
    procedure = envelope(await call(http, stack, "get_procedure", calls["get_procedure"]), 200)["data"]
    assert procedure["procedure"] == step


async def test_same_answer_as_retrieval(stack: Stack, http: JsonClient) -> None:
    """The gateway forwards, it does not reshape: ``data`` is retrieval's own answer."""
    arguments = {"query": "certificate renewal", "max_results": 3}
    direct = await http.post(stack.retrieval.url + TOOLS["search_knowledge_base"].path, arguments)
    through = envelope(await call(http, stack, "search_knowledge_base", arguments), 200)
    assert through["data"] == direct.body


async def test_concurrent_calls_get_their_own_answers(stack: Stack, http: JsonClient) -> None:
    """Many more calls than pooled connections, all at once: each gets the answer to its own request."""
    queries = [f"{topic} {n}" for n in range(8) for topic in ("disk full", "ssl certificate", "memory leak", "dns")]
    requests = [{"query": query, "max_results": 1 + n % 5} for n, query in enumerate(queries)]
    kb = stack.retrieval.url + TOOLS["search_knowledge_base"].path
    direct = [(await http.post(kb, arguments)).body for arguments in requests]
    assert len({msgspec.json.encode(body) for body in direct}) > len(requests) // 2, "the requests must differ"
    for _ in range(3):
        replies = await asyncio.gather(*(call(http, stack, "search_knowledge_base", a) for a in requests))
        assert [envelope(reply, 200)["data"] for reply in replies] == direct


async def test_large_answer_passes_intact(stack: Stack, http: JsonClient) -> None:
    arguments = {"alert_type": "disk_full", "severity": "high", "affected_systems": [], "limit": 50}
    direct = await http.post(stack.retrieval.url + TOOLS["search_runbooks"].path, arguments)
    assert len(msgspec.json.encode(direct.body)) > 100_000, "a large answer, over many reads"
    assert envelope(await call(http, stack, "search_runbooks", arguments), 200)["data"] == direct.body


async def test_arguments_may_be_left_out(stack: Stack, http: JsonClient) -> None:
    assert envelope(await call(http, stack, "list_sources"), 200)["data"]["sources"]


@pytest.mark.parametrize(
    ("tool", "arguments", "names"),
    [
        ("search_runbooks", {"alert_type": "x", "severity": "sev0", "affected_systems": []}, "severity"),
        ("search_runbooks", {"severity": "high", "affected_systems": []}, "alert_type"),
        ("get_procedure", {"runbook_id": "r", "step_name": "s", "extra": 1}, "extra"),
        ("search_knowledge_base", {"query": "disk", "max_results": 1000}, "max_results"),
        ("list_sources", [1, 2], "object"),
        ("list_sources", "include_health", "object"),
    ],
)
async def test_bad_arguments_are_400(stack: Stack, http: JsonClient, tool: str, arguments: object, names: str) -> None:
    body = envelope(await call(http, stack, tool, arguments), 400)
    assert body["error"]["code"] == "invalid_arguments"
    assert names in body["error"]["message"]


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"[]", b'{"arguments": {}}', b'{"tool": 5}', b'{"tool": "list_sources", "args": {}}'],
    ids=["text", "array", "no-tool", "tool-not-a-string", "unknown-field"],
)
async def test_malformed_request_is_400(stack: Stack, http: JsonClient, raw: bytes) -> None:
    body = envelope(await http.post(stack.call_url, raw=raw), 400)
    assert body["error"]["code"] == "invalid_request"


async def test_unknown_tool_is_404(stack: Stack, http: JsonClient) -> None:
    body = envelope(await call(http, stack, "drop_tables", {}), 404)
    assert body["error"]["code"] == "unknown_tool"
    assert "drop_tables" in body["error"]["message"]
    assert "search_runbooks" in body["error"]["message"], "the message lists the tools that exist"


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("get_procedure", {"runbook_id": "no-such-runbook", "step_name": "restart"}),
        ("get_decision_tree", {"alert_context": {"alert_type": "memory_pressure"}, "runbook_id": "no-such-runbook"}),
        ("get_escalation_path", {"severity": "high", "business_hours": True, "runbook_id": "no-such-runbook"}),
        (
            "record_resolution_feedback",
            {"runbook_id": "no-such-runbook", "procedure_id": "p", "outcome": "success", "resolution_time_minutes": 1},
        ),
    ],
)
async def test_unknown_runbook_is_404(stack: Stack, http: JsonClient, tool: str, arguments: dict[str, Any]) -> None:
    body = envelope(await call(http, stack, tool, arguments), 404)
    assert body["error"]["code"] == "not_found"
    assert "no-such-runbook" in body["error"]["message"]


async def test_unknown_step_is_404(stack: Stack, http: JsonClient) -> None:
    found = envelope(await call(http, stack, "search_runbooks", MEMORY_ALERT), 200)["data"]
    runbook_id = found["runbooks"][0]["runbook"]["id"]
    body = envelope(await call(http, stack, "get_procedure", {"runbook_id": runbook_id, "step_name": "nope"}), 404)
    assert body["error"]["code"] == "not_found"


async def test_get_is_not_a_call(stack: Stack, http: JsonClient) -> None:
    async with http.session.get(stack.call_url) as response:
        assert response.status == 405


async def test_retrieval_down_is_503_never_200(start_gateway: StartGateway, http: JsonClient) -> None:
    """A gateway whose retrieval never ran: every call is a 503 with ``success: false``, health says so, and the
    gateway itself stays live and ready (retrieval may come up later)."""
    gateway = start_gateway(f"http://127.0.0.1:{free_port()}")
    url = gateway.url + "/mcp/call"
    for _ in range(8):  # through the breaker's threshold and past it
        reply = await http.post(url, {"tool": "search_runbooks", "arguments": MEMORY_ALERT})
        body = envelope(reply, 503)
        assert body["error"]["code"] == "unavailable"
        assert "retrieval" in body["error"]["message"]
    bad = await http.post(url, {"tool": "search_runbooks", "arguments": {"severity": "x"}})
    assert envelope(bad, 400)["error"]["code"] == "invalid_arguments", "arguments are checked before retrieval"
    unknown = await http.post(url, {"tool": "nope", "arguments": {}})
    assert envelope(unknown, 404)["error"]["code"] == "unknown_tool"

    health = await http.get(gateway.url + "/health")
    assert health.status == 503
    assert health.body["status"] == "degraded"
    assert (await http.get(gateway.url + "/ready")).status == 200
    assert (await http.get(gateway.url + "/live")).status == 200
