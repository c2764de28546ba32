"""The MCP client against the responder and small aiohttp.web MCP servers (real sockets)."""

from __future__ import annotations

import asyncio
import json
import types
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web

from loadtests.client.http import HttpClient
from loadtests.client.mcp import McpClient, McpError, sse_data
from loadtests.client.responder import serve_responder
from tests.unit.loadtests.client.servers import free_port, serve_app

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

Message = dict[str, Any]
OnCall = Callable[[Message], Awaitable[web.Response]]

INIT_RESULT = {
    "protocolVersion": "2025-11-25",
    "capabilities": {"tools": {}},
    "serverInfo": {"name": "t", "version": "1"},
}


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    client = HttpClient(timeout=5.0)
    yield client
    await client.close()


def rpc(message: Message, **fields: Any) -> web.Response:
    return web.json_response({"jsonrpc": "2.0", "id": message["id"], **fields})


class FakeMcp:
    """An MCP endpoint at /mcp that answers the handshake itself and hands other requests to ``on_call``."""

    def __init__(self, on_call: OnCall | None = None, *, session: str | None = "s-1") -> None:
        self.on_call = on_call
        self.session = session
        self.seen: list[tuple[str, Message, dict[str, str]]] = []
        """(HTTP method, JSON-RPC message, lower-cased headers) of every request."""
        self.init_status = [200]
        """Statuses for successive initialize requests; the last one repeats."""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/mcp", self.endpoint)
        return app

    def methods(self) -> list[str]:
        return [message.get("method", "") for _, message, _ in self.seen]

    async def endpoint(self, request: web.Request) -> web.Response:
        headers = {name.lower(): value for name, value in request.headers.items()}
        if request.method == "DELETE":
            self.seen.append(("DELETE", {}, headers))
            return web.Response(status=200)
        message = await request.json()
        self.seen.append((request.method, message, headers))
        if "id" not in message:
            return web.Response(status=202)
        if message["method"] == "initialize":
            status = self.init_status.pop(0) if len(self.init_status) > 1 else self.init_status[0]
            if status != 200:
                return web.Response(status=status, text="not now")
            extra = {"Mcp-Session-Id": self.session} if self.session else {}
            response = rpc(message, result=INIT_RESULT)
            response.headers.update(extra)
            return response
        assert self.on_call is not None
        return await self.on_call(message)


async def tool_ok(message: Message) -> web.Response:
    result = {"content": [{"type": "text", "text": "found"}], "structuredContent": {"hits": 3}, "isError": False}
    return rpc(message, result=result)


# --- against the responder ---


async def test_call_tool_against_the_responder(http: HttpClient) -> None:
    responder, port = await serve_responder()
    try:
        mcp = McpClient(http, f"http://127.0.0.1:{port}/mcp")
        result = await mcp.call_tool("echo", {"q": "disk full"})
        again = await mcp.call_tool("echo", types.MappingProxyType({"q": "x"}))  # any Mapping
    finally:
        await responder.close()
    assert (result.ok, result.error, result.status, result.is_error, result.rpc_error) == (True, None, 200, False, None)
    assert result.structured == {"ok": True}
    assert result.text == "ok"
    assert result.tool == "echo"
    assert result.response.sent > 0.0
    assert again.ok
    assert mcp.ready
    assert mcp.protocol_version == "2025-11-25"
    assert responder.mcp_methods == {"initialize": 1, "notifications/initialized": 1, "tools/call": 2}


async def test_concurrent_first_calls_initialize_once(http: HttpClient) -> None:
    responder, port = await serve_responder(delay_s=0.03)
    try:
        mcp = McpClient(http, f"http://127.0.0.1:{port}/mcp")
        results = await asyncio.gather(*(mcp.call_tool("echo", {"i": i}) for i in range(10)))
    finally:
        await responder.close()
    assert all(r.ok for r in results)
    assert responder.mcp_methods == {"initialize": 1, "notifications/initialized": 1, "tools/call": 10}


async def test_sse_replies_from_the_responder(http: HttpClient) -> None:
    responder, port = await serve_responder(sse=True, session_id="abc")
    try:
        mcp = McpClient(http, f"http://127.0.0.1:{port}/mcp")
        result = await mcp.call_tool("echo", {})
        ping = await mcp.ping()
    finally:
        await responder.close()
    assert result.ok
    assert result.response.header(b"content-type") == b"text/event-stream"
    assert result.structured == {"ok": True}
    assert (ping.ok, ping.result) == (True, {})
    assert mcp.session_id == "abc"


# --- the handshake and headers ---


async def test_handshake_and_headers(http: HttpClient) -> None:
    fake = FakeMcp(tool_ok)
    async with serve_app(fake.app()) as url:
        mcp = McpClient(http, url + "/mcp", headers=[(b"authorization", b"Bearer t0k")])
        first = await mcp.call_tool(
            "search_runbooks", {"q": "oom"}, headers=[(b"traceparent", b"00-" + b"a" * 32 + b"-" + b"b" * 16 + b"-01")]
        )
        second = await mcp.call_tool("search_runbooks", {"q": "cpu"})
    assert first.ok and second.ok
    assert first.structured == {"hits": 3}
    assert first.text == "found"
    assert fake.methods() == ["initialize", "notifications/initialized", "tools/call", "tools/call"]
    (_, init, init_headers), (_, _, note_headers), (_, call1, call1_headers), (_, call2, call2_headers) = fake.seen
    assert init["params"]["protocolVersion"] == "2025-11-25"
    assert init["params"]["clientInfo"]["name"] == "pp-loadtests"
    assert "mcp-protocol-version" not in init_headers
    assert "mcp-session-id" not in init_headers
    for headers in (init_headers, note_headers, call1_headers, call2_headers):
        assert headers["authorization"] == "Bearer t0k"
        assert headers["accept"] == "application/json, text/event-stream"
        assert headers["content-type"] == "application/json"
    for headers in (note_headers, call1_headers, call2_headers):
        assert headers["mcp-protocol-version"] == "2025-11-25"
        assert headers["mcp-session-id"] == "s-1"
    assert call1_headers["traceparent"].startswith("00-aaaa")
    assert "traceparent" not in call2_headers
    assert call1["params"] == {"name": "search_runbooks", "arguments": {"q": "oom"}}
    assert call1["jsonrpc"] == "2.0"
    assert call2["id"] == call1["id"] + 1


async def test_stateless_server_gets_no_session_header(http: HttpClient) -> None:
    fake = FakeMcp(tool_ok, session=None)
    async with serve_app(fake.app()) as url:
        mcp = McpClient(http, url + "/mcp")
        assert (await mcp.call_tool("t", {})).ok
    assert mcp.session_id is None
    assert all("mcp-session-id" not in headers for _, _, headers in fake.seen)


async def test_failed_handshake_fails_the_call_and_is_retried(http: HttpClient) -> None:
    fake = FakeMcp(tool_ok)
    fake.init_status = [503, 200]
    async with serve_app(fake.app()) as url:
        mcp = McpClient(http, url + "/mcp")
        failed = await mcp.call_tool("t", {})
        later = await mcp.call_tool("t", {})
    assert (failed.ok, failed.error, failed.status) == (False, "http_503", 503)
    assert later.ok
    assert fake.methods() == ["initialize", "initialize", "notifications/initialized", "tools/call"]


async def test_refused_endpoint(http: HttpClient) -> None:
    mcp = McpClient(http, f"http://127.0.0.1:{free_port()}/mcp")
    result = await mcp.call_tool("t", {})
    assert (result.ok, result.error, result.status) == (False, "connect_refused", 0)
    with pytest.raises(McpError) as caught:
        await mcp.initialize()
    assert caught.value.code == "connect_refused"


async def test_unsupported_revision_is_refused(http: HttpClient) -> None:
    async def old_server(request: web.Request) -> web.Response:
        message = await request.json()
        return rpc(message, result={**INIT_RESULT, "protocolVersion": "2024-11-05"})

    app = web.Application()
    app.router.add_post("/mcp", old_server)
    async with serve_app(app) as url:
        mcp = McpClient(http, url + "/mcp")
        with pytest.raises(McpError) as caught:
            await mcp.initialize()
        result = await mcp.call_tool("t", {})
    assert caught.value.code == "unsupported_version"
    assert result.error == "unsupported_version"


async def test_refused_initialized_notification(http: HttpClient) -> None:
    async def strict(request: web.Request) -> web.Response:
        message = await request.json()
        if "id" not in message:
            return web.Response(status=400)
        return rpc(message, result=INIT_RESULT)

    app = web.Application()
    app.router.add_post("/mcp", strict)
    async with serve_app(app) as url:
        with pytest.raises(McpError) as caught:
            await McpClient(http, url + "/mcp").initialize()
    assert caught.value.code == "http_400"


async def test_expired_session_means_a_new_handshake(http: HttpClient) -> None:
    calls = 0

    async def expire_once(message: Message) -> web.Response:
        nonlocal calls
        calls += 1
        if calls == 2:
            return web.Response(status=404, text="session expired")
        return await tool_ok(message)

    fake = FakeMcp(expire_once)
    async with serve_app(fake.app()) as url:
        mcp = McpClient(http, url + "/mcp")
        results = [await mcp.call_tool("t", {}) for _ in range(3)]
    assert [r.error for r in results] == [None, "http_404", None]
    assert fake.methods().count("initialize") == 2


async def test_list_tools_follows_pages_and_ping(http: HttpClient) -> None:
    async def pages(message: Message) -> web.Response:
        if message["method"] == "ping":
            return rpc(message, result={})
        if message.get("params", {}).get("cursor") == "p2":
            return rpc(message, result={"tools": [{"name": "b"}]})
        return rpc(message, result={"tools": [{"name": "a"}], "nextCursor": "p2"})

    fake = FakeMcp(pages)
    async with serve_app(fake.app()) as url:
        mcp = McpClient(http, url + "/mcp")
        tools = await mcp.list_tools()
        ping = await mcp.ping()
    assert [tool["name"] for tool in tools] == ["a", "b"]
    assert (ping.ok, ping.result, ping.status) == (True, {}, 200)


async def test_close_deletes_the_session(http: HttpClient) -> None:
    fake = FakeMcp(tool_ok)
    async with serve_app(fake.app()) as url:
        mcp = McpClient(http, url + "/mcp")
        assert (await mcp.call_tool("t", {})).ok
        await mcp.close()
    method, _, headers = fake.seen[-1]
    assert (method, headers["mcp-session-id"]) == ("DELETE", "s-1")
    assert not mcp.ready


# --- classifying replies ---


def sse(*events: str) -> web.Response:
    return web.Response(body="".join(events).encode(), content_type="text/event-stream")


async def tool_error(message: Message) -> web.Response:
    return rpc(message, result={"content": [{"type": "text", "text": "no such runbook"}], "isError": True})


async def rpc_error(message: Message) -> web.Response:
    return rpc(message, error={"code": -32602, "message": "unknown tool: nope"})


async def http_500(message: Message) -> web.Response:
    return web.Response(status=500, text="Internal Server Error")


async def http_400_with_rpc_error(message: Message) -> web.Response:
    body = {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "invalid request"}}
    return web.json_response(body, status=400)


async def not_json(message: Message) -> web.Response:
    return web.Response(text="<html>proxy error</html>", content_type="text/html")


async def wrong_id(message: Message) -> web.Response:
    return rpc({"id": message["id"] + 1000}, result={"content": []})


async def sse_with_extras(message: Message) -> web.Response:
    reply = {"jsonrpc": "2.0", "id": message["id"], "result": {"content": [], "structuredContent": {"n": 1}}}
    text = json.dumps(reply, indent=1)  # multi-line JSON, sent as several data lines
    data = "".join(f"data: {line}\r\n" for line in text.splitlines())
    return sse(
        "id: prime-0\r\ndata:\r\n\r\n",  # a 2025-11-25 priming event: empty data
        ": keep-alive comment\r\n\r\n",
        'event: message\r\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}\r\n\r\n',
        'data: {"jsonrpc":"2.0","id":"srv-1","method":"roots/list"}\r\n\r\n',  # a server request
        f"event: message\r\nid: 7\r\n{data}\r\n",
    )


async def sse_without_our_reply(message: Message) -> web.Response:
    return sse(f'data: {{"jsonrpc":"2.0","id":{message["id"] + 5},"result":{{}}}}\n\n')


async def sse_cut_short(message: Message) -> web.Response:
    return sse(f'data: {{"jsonrpc":"2.0","id":{message["id"]},"result":{{}}}}')  # no blank line: never dispatched


CASES = [
    pytest.param(tool_error, (False, True, None, 200, "tool_error"), id="isError"),
    pytest.param(rpc_error, (False, False, (-32602, "unknown tool: nope"), 200, "rpc_-32602"), id="rpc error"),
    pytest.param(http_500, (False, False, None, 500, "http_500"), id="http 500"),
    pytest.param(http_400_with_rpc_error, (False, False, (-32600, "invalid request"), 400, "http_400"), id="http 400"),
    pytest.param(not_json, (False, False, None, 200, "bad_rpc"), id="not json"),
    pytest.param(wrong_id, (False, False, None, 200, "bad_rpc"), id="wrong id"),
    pytest.param(sse_with_extras, (True, False, None, 200, None), id="sse with extras"),
    pytest.param(sse_without_our_reply, (False, False, None, 200, "bad_rpc"), id="sse without our reply"),
    pytest.param(sse_cut_short, (False, False, None, 200, "bad_rpc"), id="sse cut short"),
]


@pytest.mark.parametrize(("on_call", "expected"), CASES)
async def test_classification(http: HttpClient, on_call: OnCall, expected: tuple[Any, ...]) -> None:
    fake = FakeMcp(on_call)
    async with serve_app(fake.app()) as url:
        result = await McpClient(http, url + "/mcp").call_tool("t", {})
    assert (result.ok, result.is_error, result.rpc_error, result.status, result.error) == expected
    if on_call is tool_error:
        assert result.text == "no such runbook"
    if on_call is sse_with_extras:
        assert result.structured == {"n": 1}


async def test_rpc_classification(http: HttpClient) -> None:
    fake = FakeMcp(rpc_error)
    async with serve_app(fake.app()) as url:
        mcp = McpClient(http, url + "/mcp")
        result = await mcp.rpc("resources/list")
        with pytest.raises(McpError) as caught:
            await mcp.list_tools()
    assert (result.ok, result.error, result.rpc_error, result.result) == (
        False,
        "rpc_-32602",
        (-32602, "unknown tool: nope"),
        None,
    )
    assert caught.value.code == "rpc_-32602"


# --- the SSE parser alone ---


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        (b"data: a\n\n", [b"a"]),
        (b"data:a\r\n\r\ndata: b\r\rdata:  c\n\n", [b"a", b"b", b" c"]),
        (b"event: message\ndata: 1\ndata: 2\nid: 3\n\n", [b"1\n2"]),
        (b": comment\n\nretry: 100\n\n", []),
        (b"data\n\n", [b""]),
        (b"\xef\xbb\xbfdata: bom\n\n", [b"bom"]),
        (b"data: x\n\ndata: unterminated", [b"x"]),
        (b"datum: no\ndata: yes\n\n", [b"yes"]),
    ],
)
def test_sse_data(stream: bytes, expected: list[bytes]) -> None:
    assert list(sse_data(stream)) == expected
