"""The MCP gateway through the official client (``mcp`` 2.3): Streamable HTTP in both client modes, and stdio.

Real processes all the way: retrieval on the shipped corpus and the shared test Redis, the gateway in front of it,
and ``mcp.Client`` speaking to the gateway exactly as an agent host would. ``mode="legacy"`` starts with
``initialize``; ``mode="auto"`` first probes ``server/discover`` (2026-07-28) and must fall back by itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import msgspec
import pytest
from mcp import Client, MCPError, StdioServerParameters
from mcp.types import CallToolResult, TextContent

from services.gateway.tools import TOOLS
from tests.support.processes import ROOT

if TYPE_CHECKING:
    from tests.support.processes import Stack

pytestmark = pytest.mark.redis

READERS = {
    "search_runbooks",
    "get_decision_tree",
    "get_procedure",
    "get_escalation_path",
    "list_sources",
    "search_knowledge_base",
}
WRITER = "record_resolution_feedback"
MEMORY_ALERT = {"alert_type": "memory_pressure", "severity": "high", "affected_systems": ["java-app"]}

# Bad arguments and the field (or phrase) the tool error must name so that a model can correct itself.
BAD_ARGUMENTS: list[tuple[str, dict[str, Any], str]] = [
    ("search_runbooks", {"alert_type": "disk_full", "severity": "urgent", "affected_systems": []}, "severity"),
    ("search_runbooks", {"severity": "high", "affected_systems": []}, "alert_type"),
    ("search_runbooks", {**MEMORY_ALERT, "limit": 0}, "limit"),
    ("search_runbooks", {**MEMORY_ALERT, "sevrity": "high"}, "sevrity"),
    ("get_escalation_path", {"severity": "high", "business_hours": "sometimes"}, "business_hours"),
    ("get_procedure", {"runbook_id": "x"}, "step_name"),
    ("search_knowledge_base", {"query": ""}, "query"),
    ("get_decision_tree", {"alert_context": "memory"}, "alert_context"),
    ("list_sources", {"include_health": "yes"}, "include_health"),
    (WRITER, {"runbook_id": "r", "procedure_id": "p", "outcome": "great", "resolution_time_minutes": 5}, "outcome"),
    (
        WRITER,
        {"runbook_id": "r", "procedure_id": "p", "outcome": "success", "resolution_time_minutes": -1},
        "resolution",
    ),
]

MODES = ["legacy", "auto"]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """The client's connect mode. Clients are opened inside each test, never in a fixture: anyio's cancel scopes
    must be entered and left in the same task, and pytest-asyncio sets fixtures up and tears them down in others."""
    mode: str = request.param
    return mode


def stdio_parameters(stack: Stack) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "services.gateway", "--stdio"],
        env={"PP_RETRIEVAL_URL": stack.retrieval.url, "PP_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)},
        cwd=str(ROOT),
    )


def structured(result: CallToolResult) -> dict[str, Any]:
    """The structured result of a successful call, checked against the tool's text block and returned."""
    assert result.is_error is not True, f"unexpected tool error: {error_text(result)}"
    assert isinstance(result.structured_content, dict)
    texts = [block.text for block in result.content if isinstance(block, TextContent)]
    assert texts, "a successful result must also carry its JSON as text, for clients without structuredContent"
    assert json.loads(texts[0]) == result.structured_content
    return result.structured_content


def error_text(result: CallToolResult) -> str:
    return " ".join(block.text for block in result.content if isinstance(block, TextContent))


def check_shape(tool: str, value: dict[str, Any]) -> Any:
    """Decode ``value`` into the Struct the tool's outputSchema was generated from (raises if it does not fit)."""
    return msgspec.convert(value, TOOLS[tool].result, strict=False)


async def first_runbook(client: Client) -> dict[str, Any]:
    found = structured(await client.call_tool("search_runbooks", MEMORY_ALERT))
    assert found["runbooks"], "the shipped corpus has memory_pressure runbooks"
    runbook: dict[str, Any] = found["runbooks"][0]["runbook"]
    return runbook


# --- Streamable HTTP -------------------------------------------------------------------------------------------


async def test_handshake(stack: Stack, mode: str) -> None:
    async with Client(stack.mcp_url, mode=mode) as client:
        assert client.protocol_version == "2025-11-25"
        assert client.server_info is not None
        assert client.server_info.name == "personal-pipeline"
        capabilities = client.server_capabilities
        assert capabilities is not None
        assert capabilities.tools is not None
        assert capabilities.resources is None
        assert capabilities.prompts is None


async def test_seven_tools_with_schemas_and_annotations(stack: Stack, mode: str) -> None:
    async with Client(stack.mcp_url, mode=mode) as client:
        tools = (await client.list_tools()).tools
        assert [tool.name for tool in tools] == list(TOOLS)
        assert {tool.name for tool in tools} == READERS | {WRITER}
        for tool in tools:
            assert tool.description, tool.name
            assert tool.input_schema["type"] == "object", tool.name
            assert tool.output_schema is not None, tool.name
            assert tool.output_schema["type"] == "object", tool.name
            annotations = tool.annotations
            assert annotations is not None, tool.name
            assert annotations.read_only_hint is (tool.name in READERS), tool.name
            assert annotations.destructive_hint is False, tool.name
        by_name = {tool.name: tool for tool in tools}
        search = by_name["search_runbooks"].input_schema
        assert set(search["required"]) == {"alert_type", "severity", "affected_systems"}
        assert set(search["properties"]["severity"]["enum"]) == {"critical", "high", "medium", "low", "info"}
        assert search.get("additionalProperties") is False, "unknown arguments are errors, so the schema must say so"
        feedback = by_name[WRITER].input_schema
        assert {"runbook_id", "procedure_id", "outcome", "resolution_time_minutes"} <= set(feedback["required"])
        assert "runbooks" in by_name["search_runbooks"].output_schema["properties"]  # type: ignore[index]


async def test_every_tool_answers(stack: Stack, mode: str) -> None:
    async with Client(stack.mcp_url, mode=mode) as client:
        runbook = await first_runbook(client)
        step = runbook["procedures"][0]
        calls: dict[str, dict[str, Any]] = {
            "search_runbooks": MEMORY_ALERT,
            "get_decision_tree": {"alert_context": {**MEMORY_ALERT, "memory_percent": 97}},
            "get_procedure": {"runbook_id": runbook["id"], "step_name": step["name"]},
            "get_escalation_path": {"severity": "critical", "business_hours": False, "runbook_id": runbook["id"]},
            "list_sources": {},
            "search_knowledge_base": {"query": "ssl certificate expired", "max_results": 3},
            WRITER: {
                "runbook_id": runbook["id"],
                "procedure_id": step["id"],
                "outcome": "success",
                "resolution_time_minutes": 12.5,
                "notes": "recorded by the gateway MCP test",
            },
        }
        assert set(calls) == set(TOOLS)
        answers = {}
        for tool, arguments in calls.items():
            answers[tool] = structured(await client.call_tool(tool, arguments))
            check_shape(tool, answers[tool])

        assert "memory_pressure" in answers["search_runbooks"]["runbooks"][0]["runbook"]["alert_types"]
        assert answers["get_decision_tree"]["recommended_action"]
        assert answers["get_procedure"]["procedure"] == step
        assert answers["get_procedure"]["runbook_id"] == runbook["id"]
        assert answers["get_escalation_path"]["path"]
        assert {source["name"] for source in answers["list_sources"]["sources"]} >= {"runbooks", "knowledge_base"}
        assert answers["search_knowledge_base"]["results"]
        feedback = answers[WRITER]
        assert feedback["runbook_id"] == runbook["id"]
        assert feedback["feedback_count"] >= 1


async def test_tools_without_arguments(stack: Stack, mode: str) -> None:
    """``arguments`` is optional in tools/call: a tool whose arguments all have defaults works without it."""
    async with Client(stack.mcp_url, mode=mode) as client:
        check_shape("list_sources", structured(await client.call_tool("list_sources")))


@pytest.mark.parametrize(("tool", "arguments", "names"), BAD_ARGUMENTS)
async def test_bad_arguments_are_tool_errors_naming_the_field(
    stack: Stack, tool: str, arguments: dict[str, Any], names: str
) -> None:
    async with Client(stack.mcp_url, mode="legacy") as client:
        result = await client.call_tool(tool, arguments)
    assert result.is_error is True
    assert result.structured_content is None, "an error result must not carry structuredContent"
    message = error_text(result)
    assert names in message, message


async def test_unknown_runbook_is_a_tool_error(stack: Stack, mode: str) -> None:
    async with Client(stack.mcp_url, mode=mode) as client:
        result = await client.call_tool("get_procedure", {"runbook_id": "no-such-runbook", "step_name": "restart"})
        assert result.is_error is True
        message = error_text(result)
        assert "no-such-runbook" in message
        assert "not found" in message


async def test_unknown_tool_is_a_protocol_error(stack: Stack, mode: str) -> None:
    async with Client(stack.mcp_url, mode=mode) as client:
        with pytest.raises(MCPError) as raised:
            await client.call_tool("delete_all_runbooks", {})
        assert raised.value.error.code == -32602
        assert "delete_all_runbooks" in raised.value.error.message


async def test_feedback_changes_the_track_record(stack: Stack, mode: str) -> None:
    """The one writer really writes: a second failure report raises the count and lowers the success rate."""
    async with Client(stack.mcp_url, mode=mode) as client:
        runbook = await first_runbook(client)
        arguments = {
            "runbook_id": runbook["id"],
            "procedure_id": runbook["procedures"][0]["id"],
            "outcome": "failure",
            "resolution_time_minutes": 30,
        }
        first = structured(await client.call_tool(WRITER, arguments))
        second = structured(await client.call_tool(WRITER, arguments))
        assert second["feedback_count"] == first["feedback_count"] + 1
        assert second["success_rate"] <= first["success_rate"]
        assert second["feedback_id"] != first["feedback_id"]


# --- stdio -----------------------------------------------------------------------------------------------------


async def test_stdio(stack: Stack, mode: str) -> None:
    """``python -m services.gateway --stdio`` as an agent host launches it: same tools, same answers, same errors."""
    async with Client(stack.mcp_url, mode="legacy") as http_client:
        over_http = (await http_client.list_tools()).tools
    async with Client(stdio_parameters(stack), mode=mode) as client:
        assert client.protocol_version == "2025-11-25"
        assert client.server_info is not None
        assert client.server_info.name == "personal-pipeline"
        over_stdio = (await client.list_tools()).tools
        assert [tool.model_dump() for tool in over_stdio] == [tool.model_dump() for tool in over_http]

        runbook = await first_runbook(client)
        step = runbook["procedures"][-1]
        arguments = {"runbook_id": runbook["id"], "step_name": step["name"]}
        procedure = structured(await client.call_tool("get_procedure", arguments))
        assert procedure["procedure"] == step
        check_shape("list_sources", structured(await client.call_tool("list_sources", {"include_health": False})))

        bad = await client.call_tool("get_escalation_path", {"severity": "sev1", "business_hours": True})
        assert bad.is_error is True
        assert "severity" in error_text(bad)

        with pytest.raises(MCPError) as raised:
            await client.call_tool("no_such_tool", {})
        assert raised.value.error.code == -32602


# --- stdio framing, raw ----------------------------------------------------------------------------------------


def run_stdio(lines: list[bytes], timeout: float = 30.0) -> tuple[int, list[dict[str, Any]], str]:
    """Feed ``lines`` to ``python -m services.gateway --stdio``, close stdin; (exit code, replies, stderr)."""
    env = {**os.environ, "PP_RETRIEVAL_URL": "http://127.0.0.1:9", "PP_LOG_LEVEL": "WARNING"}
    done = subprocess.run(
        [sys.executable, "-m", "services.gateway", "--stdio"],
        input=b"".join(line + b"\n" for line in lines),
        capture_output=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )
    replies = [json.loads(line) for line in done.stdout.splitlines()]
    return done.returncode, replies, done.stderr.decode(errors="replace")


def test_stdio_framing() -> None:
    """One reply line per request line, none for notifications and blank lines, errors for what is not a request,
    nothing else on stdout, and a clean exit when stdin closes."""
    code, replies, stderr = run_stdio(
        [
            b'{"jsonrpc":"2.0","id":1,"method":"ping"}',
            b"",
            b'{"jsonrpc":"2.0","method":"notifications/initialized"}',
            b"not json",
            b'[{"jsonrpc":"2.0","id":2,"method":"ping"}]',
            b'{"jsonrpc":"2.0","id":"three","method":"server/discover"}',
            b'{"jsonrpc":"2.0","id":4,"result":{}}',
            b'{"jsonrpc":"2.0","id":5,"method":"initialize","params":{"protocolVersion":"2099-01-01"}}',
            b'{"jsonrpc":"2.0","id":6,"method":"tools/list"}',
        ]
    )
    assert code == 0, stderr
    assert [reply.get("id") for reply in replies] == [1, None, None, "three", 5, 6]
    assert replies[0]["result"] == {}
    assert replies[1]["error"]["code"] == -32700
    assert replies[2]["error"]["code"] == -32600
    assert replies[3]["error"]["code"] == -32601
    assert replies[4]["result"]["protocolVersion"] == "2025-11-25"
    assert [tool["name"] for tool in replies[5]["result"]["tools"]] == list(TOOLS)


def test_stdio_survives_an_oversized_line() -> None:
    """A line over the reader's 16 MiB limit should be refused like an HTTP body over the limit (413), not crash
    the server and drop every later request."""
    oversized = b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"pad":"' + b"x" * (17 << 20) + b'"}}}'
    code, replies, stderr = run_stdio([oversized, b'{"jsonrpc":"2.0","id":2,"method":"ping"}'])
    answered = [reply.get("id") for reply in replies]
    assert code == 0 and 2 in answered, (
        f"gateway bug (services/gateway/mcp/stdio.py, serve_stdio: reader.readline() raises ValueError past "
        f"_MAX_LINE and nothing catches it): exit code {code}, answered ids {answered}; expected an error reply "
        f"for the oversized line and an answer to the next request. stderr tail: {stderr[-300:]}"
    )
    assert replies[-1] == {"jsonrpc": "2.0", "id": 2, "result": {}}
