"""Retrieval failing under a running gateway: stopped, SIGKILLed, hung (SIGSTOP), or not started yet.

What must hold: a tool call is then an MCP tool error (``isError``) or a REST 503 saying retrieval is unavailable,
never a hang and never a 200; after a few failures the circuit breaker answers at once instead of letting every
call wait out the retrieval timeout; and once retrieval is back on its port, calls succeed again on their own.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from typing import TYPE_CHECKING, Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.types import CallToolResult, TextContent

from services.retrieval.schemas import TOOL_PATHS
from tests.support.ports import free_port
from tests.support.processes import ROOT, retrieval_process

if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.http import JsonClient
    from tests.support.processes import ServiceProcess, StartGateway, StartRetrieval

pytestmark = pytest.mark.redis

BREAKER_THRESHOLD = 5
"""Consecutive failures after which the gateway's breaker opens (``services/gateway/app.py``)."""
RECOVERY_DEADLINE_S = 20.0


def alert(n: int) -> dict[str, Any]:
    return {"alert_type": "disk_full", "severity": "high", "affected_systems": [f"host-{n}"]}


def text_of(result: CallToolResult) -> str:
    return " ".join(block.text for block in result.content if isinstance(block, TextContent))


def says_unavailable(message: str) -> bool:
    return "retrieval" in message and ("unavailable" in message or "did not answer" in message)


async def rest_call(http: JsonClient, gateway: ServiceProcess, n: int) -> tuple[int, dict[str, Any]]:
    reply = await http.post(gateway.url + "/mcp/call", {"tool": "search_runbooks", "arguments": alert(n)})
    return reply.status, reply.body


async def wait_until_calls_succeed(client: Client, http: JsonClient, gateway: ServiceProcess) -> float:
    """Poll MCP and REST until both succeed; the seconds it took."""
    started = time.monotonic()
    deadline = started + RECOVERY_DEADLINE_S
    last = ""
    n = 1000
    while time.monotonic() < deadline:
        n += 1
        result = await client.call_tool("search_runbooks", alert(n))
        if result.is_error is not True:
            status, body = await rest_call(http, gateway, n)
            if status == 200:
                assert body["success"] is True
                assert isinstance(result.structured_content, dict)
                assert result.structured_content["runbooks"]
                return time.monotonic() - started
            last = f"REST {status}: {body}"
        else:
            last = text_of(result)
        await asyncio.sleep(0.2)
    raise AssertionError(f"calls still failing {RECOVERY_DEADLINE_S}s after retrieval came back; last: {last}")


async def assert_failing_fast(client: Client, http: JsonClient, gateway: ServiceProcess) -> None:
    """Ten MCP calls and a REST call while retrieval is gone: errors that say so, the later ones from the breaker."""
    messages = []
    for n in range(10):
        result = await client.call_tool("search_runbooks", alert(n))
        assert result.is_error is True, f"call {n} succeeded with retrieval down"
        assert result.structured_content is None
        messages.append(text_of(result))
    assert all(says_unavailable(message) for message in messages), messages
    # After BREAKER_THRESHOLD failures the breaker answers without touching the network ("failing fast").
    assert all("failing fast" in m for m in messages[BREAKER_THRESHOLD:]), messages
    status, body = await rest_call(http, gateway, 99)
    assert status == 503
    assert body["success"] is False
    assert body["error"]["code"] == "unavailable"
    assert "data" not in body


@pytest.mark.parametrize("how", ["stop", "kill"])
async def test_retrieval_stopped_then_restarted(
    start_retrieval: StartRetrieval, start_gateway: StartGateway, http: JsonClient, how: str
) -> None:
    retrieval = start_retrieval()
    gateway = start_gateway(retrieval.url)
    async with Client(gateway.url + "/mcp", mode="legacy") as client:
        assert (await client.call_tool("search_runbooks", alert(0))).is_error is not True

        if how == "stop":
            retrieval.stop()
        else:
            retrieval.kill()
        await assert_failing_fast(client, http, gateway)
        health = await http.get(gateway.url + "/health")
        assert health.status == 503
        assert (await http.get(gateway.url + "/live")).status == 200
        # Tools that need no retrieval still work.
        assert len((await client.list_tools()).tools) == 7

        retrieval.start()  # same port
        await wait_until_calls_succeed(client, http, gateway)
        assert (await http.get(gateway.url + "/health")).status == 200


async def test_retrieval_restarted_between_calls(
    start_retrieval: StartRetrieval, start_gateway: StartGateway, http: JsonClient
) -> None:
    """Retrieval restarted while the gateway holds idle keep-alive connections to the old process: those are dead,
    and the next calls must still succeed (a stale idle connection is retried once on a fresh one), not fail."""
    retrieval = start_retrieval()
    gateway = start_gateway(retrieval.url, {"PP_RETRIEVAL_CONNECTIONS": "8"})
    for attempt in range(2):
        statuses = await asyncio.gather(*(rest_call(http, gateway, n) for n in range(16)))  # fill the pool
        assert [status for status, _ in statuses] == [200] * 16, attempt
        if attempt:
            retrieval.kill()
        else:
            retrieval.stop()
        retrieval.start()
        after = await asyncio.gather(*(rest_call(http, gateway, 100 + n) for n in range(16)))
        assert [status for status, _ in after] == [200] * 16, [body for _, body in after if not body["success"]]


async def test_hung_retrieval_costs_one_timeout_then_fails_fast(
    start_retrieval: StartRetrieval, start_gateway: StartGateway, http: JsonClient
) -> None:
    """SIGSTOP: connections are accepted and never answered, the case the breaker exists for."""
    retrieval = start_retrieval()
    timeout_s = 1.0
    gateway = start_gateway(retrieval.url, {"PP_RETRIEVAL_TIMEOUT_S": str(timeout_s)})
    assert retrieval.proc is not None
    async with Client(gateway.url + "/mcp", mode="legacy") as client:
        assert (await client.call_tool("search_runbooks", alert(0))).is_error is not True
        retrieval.proc.send_signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            first = await asyncio.gather(*(rest_call(http, gateway, n) for n in range(1, BREAKER_THRESHOLD + 1)))
            waited = time.monotonic() - started
            assert [status for status, _ in first] == [503] * BREAKER_THRESHOLD
            assert all("timed out" in body["error"]["message"] for _, body in first), first
            assert waited >= timeout_s * 0.9, "these calls should have waited for the retrieval timeout"

            results = [await client.call_tool("search_runbooks", alert(n)) for n in range(10)]
            assert all(result.is_error is True for result in results)
            # The breaker is open: these are answered without waiting for the hung retrieval.
            assert all("failing fast" in text_of(result) for result in results), [text_of(r) for r in results]
        finally:
            retrieval.proc.send_signal(signal.SIGCONT)
        await wait_until_calls_succeed(client, http, gateway)
        # Retrieval still answers the requests that timed out; those late answers must reach no one.
        direct_url = retrieval.url + TOOL_PATHS["search_runbooks"]
        for n in (1, 2, 3, 50, 51):
            direct = (await http.post(direct_url, alert(n))).body
            assert (await client.call_tool("search_runbooks", alert(n))).structured_content == direct
            status, body = await rest_call(http, gateway, n)
            assert (status, body["data"]) == (200, direct)


async def test_gateway_first_retrieval_later(
    start_gateway: StartGateway, http: JsonClient, tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    """The gateway is ready without retrieval and starts answering once retrieval comes up on its address."""
    retrieval = retrieval_process(tmp_path / "late-retrieval.log", redis_url, redis_prefix, tmp_path / "data")
    gateway = start_gateway(retrieval.url)
    try:
        async with Client(gateway.url + "/mcp", mode="auto") as client:
            early = await client.call_tool("list_sources", {})
            assert early.is_error is True
            assert says_unavailable(text_of(early)), text_of(early)
            retrieval.start()
            await wait_until_calls_succeed(client, http, gateway)
    finally:
        retrieval.stop()


async def test_stdio_with_retrieval_down() -> None:
    parameters = StdioServerParameters(
        command=sys.executable,
        args=["-m", "services.gateway", "--stdio"],
        env={"PP_RETRIEVAL_URL": f"http://127.0.0.1:{free_port()}", "PP_LOG_LEVEL": "WARNING"},
        cwd=str(ROOT),
    )
    async with Client(parameters, mode="legacy") as client:
        assert len((await client.list_tools()).tools) == 7
        results = [await client.call_tool("search_runbooks", alert(n)) for n in range(BREAKER_THRESHOLD + 2)]
        assert all(result.is_error is True for result in results)
        assert all(says_unavailable(text_of(result)) for result in results)
        assert "unavailable" in text_of(results[-1])
