"""The responder on raw sockets: pipelining, keep-alive, delays and stalls, MCP replies, and the client on uvloop."""

from __future__ import annotations

import asyncio
import time

import uvloop

from loadtests.client.http import HttpClient
from loadtests.client.mcp import McpClient
from loadtests.client.responder import DEFAULT_BODY, Responder, serve_responder
from tests.unit.loadtests.client.servers import free_port


async def exchange(port: int, data: bytes, until: bytes, count: int) -> bytes:
    """Write ``data`` on one connection and read until ``until`` was seen ``count`` times."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        received = b""
        while received.count(until) < count:
            chunk = await asyncio.wait_for(reader.read(65536), 2)
            if not chunk:
                break
            received += chunk
        return received
    finally:
        writer.close()
        await writer.wait_closed()


def get(path: str, extra: bytes = b"") -> bytes:
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n"


def post(path: str, body: bytes) -> bytes:
    return b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (path.encode(), len(body), body)


async def test_pipelined_requests_are_answered_in_order() -> None:
    responder, port = await serve_responder(delay_s=0.01)
    try:
        data = (
            post("/mcp", b'{"jsonrpc":"2.0","id":1,"method":"ping"}')
            + get("/")
            + post(
                "/mcp", b'{"jsonrpc":"2.0","id":"b","method":"tools/call","params":{"name":"x","arguments":{"id":9}}}'
            )
        )
        received = await exchange(port, data, b"HTTP/1.1 200", 3)
    finally:
        await responder.close()
    first = received.index(b'"id":1,"result":{}')
    second = received.index(DEFAULT_BODY)
    third = received.index(b'"id":"b","result":{"content"')
    assert first < second < third
    assert responder.connections == 1
    assert responder.requests == 3


async def test_head_and_connection_close() -> None:
    responder, port = await serve_responder()
    try:
        head = await exchange(port, b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", b"\r\n\r\n", 1)
        closing = await exchange(port, get("/", b"Connection: close\r\n") + get("/"), b"\r\n\r\n", 5)
    finally:
        await responder.close()
    assert head.endswith(b"Content-Length: %d\r\n\r\n" % len(DEFAULT_BODY))
    assert b"Connection: close\r\n" in closing
    assert closing.count(b"HTTP/1.1 200") == 1  # the pipelined request after the close is not answered


async def test_mcp_replies() -> None:
    responder, port = await serve_responder(session_id="s")
    try:
        note = await exchange(
            port, post("/mcp", b'{"jsonrpc":"2.0","method":"notifications/initialized"}'), b"\r\n\r\n", 1
        )
        unknown = await exchange(port, post("/mcp", b'{"jsonrpc":"2.0","id":4,"method":"nope"}'), b"}}", 1)
        broken = await exchange(port, post("/mcp", b"{not json"), b"}}", 1)
        init = await exchange(port, post("/mcp", b'{"jsonrpc":"2.0","id":0,"method":"initialize"}'), b"}}}", 1)
    finally:
        await responder.close()
    assert note.startswith(b"HTTP/1.1 202 Accepted\r\n")
    assert unknown.endswith(b'{"jsonrpc":"2.0","id":4,"error":{"code":-32601,"message":"Method not found"}}')
    assert broken.startswith(b"HTTP/1.1 400")
    assert b"Mcp-Session-Id: s\r\n" in init
    assert responder.mcp_methods["initialize"] == 1


async def test_malformed_request_gets_400_and_a_close() -> None:
    responder, port = await serve_responder()
    try:
        received = await exchange(port, b"\x16\x03\x01 not http\r\n\r\n", b"\r\n\r\n", 1)
    finally:
        await responder.close()
    assert received.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"Connection: close" in received


async def test_stall_holds_answers_until_it_ends() -> None:
    responder, port = await serve_responder()
    try:
        async with HttpClient() as http:
            url = f"http://127.0.0.1:{port}/"
            assert (await http.get(url)).ok
            responder.stall(0.3)
            responder.stall(0.1)  # a shorter stall does not cut the running one
            results = await asyncio.gather(*(http.get(url) for _ in range(5)))
    finally:
        await responder.close()
    assert all(r.ok for r in results)
    assert all(r.first_byte - r.sent >= 0.25 for r in results)  # held by the stall, answered after it


async def test_stall_from_the_start_and_drop_idle() -> None:
    responder, port = await serve_responder(stall_s=0.2)
    try:
        async with HttpClient() as http:
            url = f"http://127.0.0.1:{port}/"
            started = time.perf_counter()
            assert (await http.get(url)).ok
            assert time.perf_counter() - started >= 0.15
            assert responder.drop_idle() == 1
            await asyncio.sleep(0.05)
            assert responder.open_connections == 0
    finally:
        await responder.close()


def test_the_clients_on_uvloop() -> None:
    """The VUs run on uvloop: the main paths once more on it."""

    async def scenario() -> None:
        responder: Responder
        responder, port = await serve_responder()
        try:
            async with HttpClient() as http:
                url = f"http://127.0.0.1:{port}"
                assert all(r.ok for r in [await http.get(url + "/") for _ in range(20)])
                assert responder.connections == 1
                responder.drop_idle()
                await asyncio.sleep(0.05)
                assert (await http.post(url + "/", {"a": 1})).ok
                responder.stall(0.3)
                assert (await http.get(url + "/", timeout=0.05)).error == "timeout"
                await asyncio.sleep(0.3)
                assert (await http.request("HEAD", url + "/")).body == b""
                assert (await http.get(f"http://127.0.0.1:{free_port()}/")).error == "connect_refused"
                mcp = McpClient(http, url + "/mcp")
                results = await asyncio.gather(*(mcp.call_tool("echo", {"i": i}) for i in range(8)))
                assert all(r.ok for r in results)
                assert responder.mcp_methods["initialize"] == 1
        finally:
            await responder.close()

    uvloop.run(scenario())
