"""The lean HTTP/1.1 client against real sockets: the responder, scripted raw servers and aiohttp.web."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import pytest
from aiohttp import web

from loadtests.client.http import ERROR_CODES, HttpClient
from loadtests.client.responder import DEFAULT_BODY, Responder, serve_responder
from tests.unit.loadtests.client.servers import Scripted, free_port, serve_app

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


@pytest.fixture
async def responder() -> AsyncIterator[Responder]:
    server, _ = await serve_responder()
    yield server
    await server.close()


@pytest.fixture
async def client() -> AsyncIterator[HttpClient]:
    http = HttpClient(timeout=5.0)
    yield http
    await http.close()


def url_of(responder: Responder, path: str = "/") -> str:
    return f"http://127.0.0.1:{responder.port}{path}"


async def reply(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(data)
    await writer.drain()


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


# --- keep-alive and framing ---


async def test_sequential_requests_reuse_one_connection(responder: Responder, client: HttpClient) -> None:
    for _ in range(50):
        response = await client.get(url_of(responder, "/items?q=1"))
        assert (response.status, response.error, response.body) == (200, None, DEFAULT_BODY)
    assert responder.connections == 1
    assert responder.requests == 50
    assert client.connections == 1


async def test_response_fields_and_timings(responder: Responder, client: HttpClient) -> None:
    before = time.perf_counter()
    response = await client.get(url_of(responder))
    assert response.ok
    assert response.header(b"content-type") == b"application/json"
    assert all(name == name.lower() for name, _ in response.headers)
    assert response.json() == {"ok": True, "service": "pp-responder"}
    assert before <= response.started <= response.sent <= response.first_byte <= response.done


async def test_head_has_no_body_and_the_connection_stays_in_step(responder: Responder, client: HttpClient) -> None:
    head = await client.request("HEAD", url_of(responder))
    assert (head.status, head.body) == (200, b"")
    assert head.header(b"content-length") == str(len(DEFAULT_BODY)).encode()
    after = await client.get(url_of(responder))
    assert after.body == DEFAULT_BODY
    assert responder.connections == 1


async def test_chunked_response_from_aiohttp(client: HttpClient) -> None:
    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for part in (b"hello ", b"chunked ", b"world"):
            await response.write(part)
            await asyncio.sleep(0.01)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/", chunked)
    async with serve_app(app) as url:
        first = await client.get(url + "/")
        second = await client.get(url + "/")
    assert first.header(b"transfer-encoding") == b"chunked"
    assert first.body == second.body == b"hello chunked world"
    assert first.error is None


async def test_chunks_split_across_reads(client: HttpClient) -> None:
    async def handler(server: Scripted, index: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await server.read(reader) is not None:
            for piece in (b"HTTP/1.1 200 OK\r\nTransfer-", b"Encoding: chunked\r\n\r\n5\r\nhel", b"lo\r\n0\r\n\r\n"):
                await reply(writer, piece)
                await asyncio.sleep(0.005)

    async with Scripted(handler) as server:
        responses = [await client.get(server.url) for _ in range(3)]
    assert [r.body for r in responses] == [b"hello"] * 3
    assert server.accepted == 1


async def test_connection_close_from_the_server(client: HttpClient) -> None:
    async def handler(server: Scripted, index: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read(reader)
        await reply(writer, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nbye!\n")
        writer.close()

    async with Scripted(handler) as server:
        first = await client.get(server.url)
        second = await client.get(server.url)
    assert first.body == second.body == b"bye!\n"
    assert server.accepted == 2  # the closed connection was not reused
    assert client.connections == 0


async def test_body_delimited_by_the_close(client: HttpClient) -> None:
    async def handler(server: Scripted, index: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read(reader)
        await reply(writer, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil ")
        await asyncio.sleep(0.01)
        await reply(writer, b"the end")
        writer.close()

    async with Scripted(handler) as server:
        response = await client.get(server.url)
    assert (response.status, response.body, response.error) == (200, b"until the end", None)


@pytest.mark.parametrize("status", [204, 304])
async def test_no_body_statuses_keep_the_connection(client: HttpClient, status: int) -> None:
    async def handler(server: Scripted, index: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read(reader)
        await reply(writer, b"HTTP/1.1 %d Nothing\r\nETag: x\r\n\r\n" % status)
        await server.read(reader)
        await reply(writer, OK)

    async with Scripted(handler) as server:
        first = await client.get(server.url)
        second = await client.get(server.url)
    assert (first.status, first.body, first.error) == (status, b"", None)
    assert (second.status, second.body) == (200, b"ok")
    assert server.accepted == 1


async def test_interim_100_response_is_skipped(client: HttpClient) -> None:
    async def handler(server: Scripted, index: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read(reader)
        await reply(writer, b"HTTP/1.1 100 Continue\r\n\r\n" + OK)

    async with Scripted(handler) as server:
        response = await client.post(server.url, b"x")
    assert (response.status, response.body) == (200, b"ok")


async def test_request_bytes(client: HttpClient) -> None:
    async def handler(server: Scripted, index: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await server.read(reader) is not None:
            await reply(writer, OK)

    async with Scripted(handler) as server:
        await client.get(server.url + "/a/b?c=d", headers=[(b"traceparent", b"00-abc-def-01")])
        await client.post(server.url + "/p", {"k": [1, 2]})
        await client.post(server.url + "/p", "text", headers=[(b"Content-Type", b"text/plain")])
        await client.post(server.url + "/p")
    get, post_json, post_text, post_empty = server.requests
    port = server.url.rsplit(":", 1)[1]
    assert get.startswith(b"GET /a/b?c=d HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{port}\r\n".encode() in get
    assert b"Connection: keep-alive\r\n" in get
    assert b"traceparent: 00-abc-def-01\r\n" in get
    assert b"content-length" not in get.lower()
    assert post_json.endswith(b'\r\n\r\n{"k":[1,2]}')
    assert b"content-type: application/json\r\n" in post_json
    assert b"Content-Length: 11\r\n" in post_json
    assert post_text.lower().count(b"content-type") == 1
    assert post_text.endswith(b"\r\n\r\ntext")
    assert b"Content-Length: 0\r\n" in post_empty


async def test_aiohttp_sees_the_request(client: HttpClient) -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.json_response(
            {"method": request.method, "body": (await request.read()).decode(), "x": request.headers.get("X-Run")}
        )

    app = web.Application()
    app.router.add_route("*", "/echo", echo)
    async with serve_app(app) as url:
        response = await client.request("PUT", url + "/echo", b"payload", headers=[(b"X-Run", b"r1")])
    assert response.json() == {"method": "PUT", "body": "payload", "x": "r1"}


# --- failures and the retry rule ---


async def test_server_closing_idle_connections_is_transparent(responder: Responder, client: HttpClient) -> None:
    assert (await client.get(url_of(responder))).ok
    assert responder.drop_idle() == 1
    await asyncio.sleep(0.05)  # the FIN arrives while the connection is idle in the pool
    for method in ("GET", "POST"):  # found dead before anything was written: any method is safe to resend
        response = await client.request(method, url_of(responder), b"{}" if method == "POST" else None)
        assert response.ok, response
        responder.drop_idle()
        await asyncio.sleep(0.05)
    assert responder.connections == 3


async def close_the_second_request_unanswered(
    server: Scripted, index: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Each connection answers its first request, then closes on the next without a byte (the keep-alive race)."""
    await server.read(reader)
    await reply(writer, OK)
    await server.read(reader)
    writer.transport.abort()


async def test_idempotent_request_is_retried_once_on_a_fresh_connection(client: HttpClient) -> None:
    async with Scripted(close_the_second_request_unanswered) as server:
        assert (await client.get(server.url)).ok
        retried = await client.get(server.url)
    assert (retried.status, retried.body, retried.error) == (200, b"ok", None)
    assert len(server.requests) == 3  # first, the one lost to the race, and its retry
    assert server.accepted == 2


async def test_post_is_not_replayed(client: HttpClient) -> None:
    async with Scripted(close_the_second_request_unanswered) as server:
        assert (await client.post(server.url, b"1")).ok
        lost = await client.post(server.url, b"2")
    assert (lost.status, lost.error) == (0, "reset")
    assert len(server.requests) == 2
    assert lost.sent > 0.0


async def test_a_fresh_connection_failure_is_not_retried(client: HttpClient) -> None:
    async def handler(server: Scripted, index: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read(reader)
        writer.transport.abort()

    async with Scripted(handler) as server:
        response = await client.get(server.url)
    assert (response.status, response.error) == (0, "reset")
    assert len(server.requests) == 1


async def test_truncated_body_is_a_reset(client: HttpClient) -> None:
    async def handler(server: Scripted, index: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read(reader)
        await reply(writer, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a part")
        writer.close()

    async with Scripted(handler) as server:
        response = await client.get(server.url)
    assert (response.status, response.error) == (0, "reset")
    assert response.first_byte > 0.0


async def test_garbage_is_a_bad_response(client: HttpClient) -> None:
    async def handler(server: Scripted, index: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read(reader)
        await reply(writer, b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await reader.read()

    async with Scripted(handler) as server:
        response = await client.get(server.url)
    assert (response.status, response.error) == (0, "bad_response")
    assert client.connections == 0


async def test_refused_connection(client: HttpClient) -> None:
    response = await client.get(f"http://127.0.0.1:{free_port()}/")
    assert (response.status, response.error) == (0, "connect_refused")
    assert response.sent == 0.0
    assert response.done >= response.started
    assert client.connections == 0


async def test_unresolvable_host(client: HttpClient) -> None:
    response = await client.get("http://no-such-host.invalid/")
    assert (response.status, response.error) == (0, "dns_error")


async def test_timeout_and_recovery(responder: Responder, client: HttpClient) -> None:
    assert (await client.get(url_of(responder))).ok
    responder.stall(0.5)
    started = time.perf_counter()
    response = await client.get(url_of(responder), timeout=0.1)
    assert (response.status, response.error) == (0, "timeout")
    assert time.perf_counter() - started < 0.45  # it did not wait for the stall to end
    assert client.connections == 0  # the late response must never reach the next request
    await asyncio.sleep(0.5)
    after = await client.get(url_of(responder))
    assert after.ok
    assert responder.connections == 2


async def test_each_request_keeps_its_own_deadline_on_a_reused_connection(responder: Responder) -> None:
    async with HttpClient() as http:
        url = url_of(responder)
        assert (await http.get(url, timeout=0.15)).ok  # its deadline passes while the next request waits
        responder.stall(0.3)
        patient = await http.get(url, timeout=2.0)
        assert (patient.error, patient.status) == (None, 200)
        assert (await http.get(url, timeout=5.0)).ok
        responder.stall(2.0)
        hasty = await http.get(url, timeout=0.1)  # a shorter deadline than the one already timed
        assert hasty.error == "timeout"
        assert hasty.done - hasty.started < 1.5  # not the 5 s deadline of the request before, nor the stall
        assert http.connections == 0
    assert responder.connections == 1  # everything before the timeout shared one connection


async def test_waiting_for_a_connection_counts_against_the_deadline(responder: Responder) -> None:
    async with HttpClient(max_connections=1) as http:
        responder.stall(0.5)
        holder = asyncio.create_task(http.get(url_of(responder), timeout=0.3))
        await asyncio.sleep(0.02)
        waiter = await http.get(url_of(responder), timeout=0.1)
        assert (waiter.error, waiter.sent) == ("timeout", 0.0)  # it never got the connection
        assert (await holder).error == "timeout"
    assert responder.connections == 1


async def test_concurrent_requests_on_one_client(responder: Responder, client: HttpClient) -> None:
    results = await asyncio.gather(*(client.get(url_of(responder, f"/{i}")) for i in range(30)))
    assert all(r.ok and r.body == DEFAULT_BODY for r in results)
    assert responder.requests == 30
    assert 1 <= responder.connections <= 30


async def test_the_connection_limit_queues_callers() -> None:
    responder, _ = await serve_responder(delay_s=0.01)
    try:
        async with HttpClient(max_connections=3) as http:
            results = await asyncio.gather(*(http.get(url_of(responder)) for _ in range(20)))
            assert http.connections == 3
    finally:
        await responder.close()
    assert all(r.ok for r in results)
    assert responder.connections == 3


async def test_cancelled_request_drops_its_connection(responder: Responder, client: HttpClient) -> None:
    responder.stall(0.3)
    task = asyncio.create_task(client.get(url_of(responder)))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert client.connections == 0
    await asyncio.sleep(0.3)
    assert (await client.get(url_of(responder))).ok


async def test_close_ends_requests_in_flight_and_later_ones(responder: Responder) -> None:
    http = HttpClient()
    responder.stall(0.5)
    task = asyncio.create_task(http.get(url_of(responder)))
    await asyncio.sleep(0.05)
    await http.close()
    in_flight = await task
    later = await http.get(url_of(responder))
    assert (in_flight.error, later.error) == ("closed", "closed")
    assert http.connections == 0


async def test_misuse_raises(client: HttpClient) -> None:
    with pytest.raises(ValueError, match="https is not supported by the load client yet"):
        await client.get("https://example.com/")
    with pytest.raises(ValueError, match="not an http"):
        await client.get("ftp://example.com/")
    with pytest.raises(ValueError, match="invalid header"):
        client.prepare("GET", "http://127.0.0.1/", [(b"x", b"a\r\nInjected: 1")])


def test_error_codes_are_short_and_stable() -> None:
    assert {"connect_refused", "timeout", "reset", "bad_response", "connect_error"} <= ERROR_CODES
