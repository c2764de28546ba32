"""A raw asyncio HTTP/1.1 keep-alive responder: the load generator's benchmark target and its clients' test server.

Every request gets a fixed 200 JSON body, except a POST to ``/mcp``, which gets a minimal MCP reply echoing the
JSON-RPC id (``initialize``, ``tools/call``, ``tools/list``, ``ping``; 202 for notifications). It does as little as
it can, so a benchmark measures the client, not this server. Pipelined requests are answered in order.

Knobs for tests: a fixed per-request ``delay_s``; ``stall(seconds)``, which holds every response not yet written
until the stall ends (a server that stops answering for a known time, for coordinated-omission tests); and
``drop_idle()``, which closes connections with no request in progress (a server's keep-alive timeout).

Run ``python -m loadtests.client.responder --port N`` for manual benchmarking.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections import Counter, deque
from typing import TYPE_CHECKING, Any, Final

import httptools
import msgspec

if TYPE_CHECKING:
    from collections.abc import Coroutine
    from multiprocessing.connection import Connection

__all__ = ("DEFAULT_BODY", "DEFAULT_TOOL_RESULT", "Responder", "main", "serve_in_process", "serve_responder")

DEFAULT_BODY: Final = b'{"ok":true,"service":"pp-responder"}'
DEFAULT_TOOL_RESULT: Final = (
    b'{"content":[{"type":"text","text":"ok"}],"structuredContent":{"ok":true},"isError":false}'
)
_INITIALIZE_RESULT: Final = (
    b'{"protocolVersion":"2025-11-25","capabilities":{"tools":{"listChanged":false}},'
    b'"serverInfo":{"name":"pp-responder","version":"0.1.0"}}'
)
_TOOLS_LIST_RESULT: Final = (
    b'{"tools":[{"name":"echo","description":"Answers a fixed result.","inputSchema":{"type":"object"}}]}'
)
_JSON: Final = b"application/json"
_SSE: Final = b"text/event-stream"


class _RpcRequest(msgspec.Struct):
    """Only what a reply needs; msgspec skips ``params`` without building it."""

    id: msgspec.Raw = msgspec.Raw()
    method: str = ""


_rpc_decoder: Final = msgspec.json.Decoder(_RpcRequest)


def _message(
    status: bytes, body: bytes, *, keep_alive: bool, content_type: bytes | None = _JSON, extra: bytes = b""
) -> bytes:
    """A complete response (``extra``: header lines, each ending in CRLF)."""
    head = b"HTTP/1.1 " + status + b"\r\n"
    if content_type is not None:
        head += b"Content-Type: " + content_type + b"\r\n"
    head += b"Content-Length: %d\r\n" % len(body)
    if not keep_alive:
        head += b"Connection: close\r\n"
    return head + extra + b"\r\n" + body


class Responder:
    """The running responder: counters for tests, the stall and idle-drop knobs, ``close()``."""

    def __init__(
        self,
        *,
        body: bytes,
        delay_s: float,
        mcp_path: bytes,
        tool_result: bytes,
        session_id: str | None,
        sse: bool,
    ) -> None:
        self.server: asyncio.Server | None = None
        self.port = 0
        self.requests = 0
        """Requests answered or being answered."""
        self.connections = 0
        """Connections accepted since the start."""
        self.mcp_methods: Counter[str] = Counter()
        """JSON-RPC methods received at the MCP path."""
        self.delay_s = delay_s
        self.stall_until = 0.0
        self.session_id = session_id
        self.sse = sse
        self._mcp_path = mcp_path
        self._open: set[_ResponderConnection] = set()
        self.loop = asyncio.get_running_loop()
        self._fixed = {keep: _message(b"200 OK", body, keep_alive=keep) for keep in (True, False)}
        self._head = {keep: self._fixed[keep][: -len(body)] if body else self._fixed[keep] for keep in (True, False)}
        self._results = {
            "initialize": _INITIALIZE_RESULT,
            "tools/call": tool_result,
            "tools/list": _TOOLS_LIST_RESULT,
            "ping": b"{}",
        }

    @property
    def open_connections(self) -> int:
        return len(self._open)

    def stall(self, seconds: float) -> None:
        """Hold every response not yet written until ``seconds`` from now (a longer running stall is kept)."""
        self.stall_until = max(self.stall_until, self.loop.time() + seconds)
        for conn in self._open:
            conn.reschedule()

    def drop_idle(self) -> int:
        """Close the connections with no request in progress, as a server's keep-alive timeout would."""
        idle = [conn for conn in self._open if conn.busy == 0]
        for conn in idle:
            conn.transport.close()
        return len(idle)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for conn in list(self._open):
            conn.transport.abort()
        if self.server is not None:
            await self.server.wait_closed()
        await asyncio.sleep(0)  # let the transports' connection_lost callbacks run while the loop is alive

    def _due(self) -> float:
        """When a response received now may be written (0.0: at once)."""
        if not self.delay_s and not self.stall_until:
            return 0.0
        now = self.loop.time()
        due = max(now + self.delay_s, self.stall_until)
        return due if due > now else 0.0

    def _answer(self, method: bytes, url: bytes, body: bytes, keep_alive: bool) -> bytes:
        self.requests += 1
        if method == b"POST" and url.partition(b"?")[0] == self._mcp_path:
            return self._mcp(body, keep_alive)
        if method == b"HEAD":
            return self._head[keep_alive]
        return self._fixed[keep_alive]

    def _mcp(self, body: bytes, keep_alive: bool) -> bytes:
        try:
            request = _rpc_decoder.decode(body)
        except msgspec.DecodeError:
            error = b'{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}'
            return _message(b"400 Bad Request", error, keep_alive=keep_alive)
        self.mcp_methods[request.method] += 1
        if not request.id:  # a notification (or a response): accepted, nothing to say
            return _message(b"202 Accepted", b"", keep_alive=keep_alive, content_type=None)
        result = self._results.get(request.method)
        if result is None:
            tail = b',"error":{"code":-32601,"message":"Method not found"}}'
        else:
            tail = b',"result":' + result + b"}"
        payload = b'{"jsonrpc":"2.0","id":' + bytes(request.id) + tail
        extra = b""
        if request.method == "initialize" and self.session_id is not None:
            extra = b"Mcp-Session-Id: " + self.session_id.encode() + b"\r\n"
        if self.sse:
            payload = b"event: message\ndata: " + payload + b"\n\n"
            return _message(b"200 OK", payload, keep_alive=keep_alive, content_type=_SSE, extra=extra)
        return _message(b"200 OK", payload, keep_alive=keep_alive, extra=extra)

    def _add(self, conn: _ResponderConnection) -> None:
        self.connections += 1
        self._open.add(conn)

    def _remove(self, conn: _ResponderConnection) -> None:
        self._open.discard(conn)


class _ResponderConnection(asyncio.Protocol):
    transport: asyncio.Transport

    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.body: list[bytes] = []
        self.out: list[bytes] = []
        self.queue: deque[tuple[float, bytes, bool]] = deque()
        """Responses waiting for their time: (due, bytes, keep-alive)."""
        self.timer: asyncio.TimerHandle | None = None
        self.busy = 0
        """Requests begun and not yet answered."""
        self.closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a TCP server gives a Transport
        self.responder._add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.responder._remove(self)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.queue.clear()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):
            self.out.append(_message(b"400 Bad Request", b"", keep_alive=False, content_type=None))
            self.closing = True
        if self.out:
            self.transport.write(b"".join(self.out))
            self.out.clear()
        if self.closing:
            self.transport.close()

    # --- httptools callbacks ---

    def on_message_begin(self) -> None:
        self.url = b""
        self.body = []
        self.busy += 1

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self.closing:  # pipelined after a Connection: close
            return
        keep_alive = self.parser.should_keep_alive()
        payload = self.responder._answer(self.parser.get_method(), self.url, b"".join(self.body), keep_alive)
        due = self.responder._due()
        if not due and not self.queue:
            self.out.append(payload)
            self.busy -= 1
            self.closing = not keep_alive
            return
        if self.queue:
            due = max(due, self.queue[-1][0])  # answers leave in order
        self.queue.append((due, payload, keep_alive))
        self.reschedule()

    # --- delayed answers ---

    def reschedule(self) -> None:
        if not self.queue:
            return
        if self.timer is not None:
            self.timer.cancel()
        loop = self.responder.loop
        self.timer = loop.call_at(max(self.queue[0][0], self.responder.stall_until), self._flush)

    def _flush(self) -> None:
        self.timer = None
        if self.transport.is_closing():
            return
        now = self.responder.loop.time()
        if self.responder.stall_until > now:
            self.reschedule()
            return
        out: list[bytes] = []
        while self.queue and self.queue[0][0] <= now:
            _, payload, keep_alive = self.queue.popleft()
            out.append(payload)
            self.busy -= 1
            if not keep_alive:
                self.closing = True
                break
        if out:
            self.transport.write(b"".join(out))
        if self.closing:
            self.queue.clear()
            self.transport.close()
        else:
            self.reschedule()


def serve_in_process(pipe: Connection, cpu: int | None) -> None:
    """A benchmark's child process: pin to ``cpu``, serve on a free port, send the port down ``pipe``, run forever."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})

    async def serve() -> None:
        responder, port = await serve_responder()
        pipe.send(port)
        try:
            await asyncio.Event().wait()
        finally:
            await responder.close()

    import uvloop  # the benchmarks' loop; only this process needs it

    uvloop.run(serve())


async def serve_responder(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    body: bytes = DEFAULT_BODY,
    delay_s: float = 0.0,
    stall_s: float = 0.0,
    mcp_path: str = "/mcp",
    tool_result: bytes = DEFAULT_TOOL_RESULT,
    session_id: str | None = None,
    sse: bool = False,
) -> tuple[Responder, int]:
    """Start a responder; returns it and the port it listens on (``port=0`` picks a free one).

    ``stall_s`` starts stalled; ``tool_result`` is the raw JSON ``result`` of every ``tools/call``; ``session_id``
    is sent as ``Mcp-Session-Id`` on ``initialize``; ``sse`` answers MCP requests as one SSE event.
    """
    responder = Responder(
        body=body, delay_s=delay_s, mcp_path=mcp_path.encode(), tool_result=tool_result, session_id=session_id, sse=sse
    )
    if stall_s:
        responder.stall(stall_s)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _ResponderConnection(responder), host, port, backlog=1024)
    responder.server = server
    responder.port = server.sockets[0].getsockname()[1]
    return responder, responder.port


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m loadtests.client.responder", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--delay-ms", type=float, default=0.0, help="hold each response this long")
    parser.add_argument("--sse", action="store_true", help="answer MCP requests as one SSE event")
    parser.add_argument("--session-id", default=None, help="send this Mcp-Session-Id on initialize")
    args = parser.parse_args(argv)

    async def serve() -> None:
        responder, port = await serve_responder(
            args.host, args.port, delay_s=args.delay_ms / 1000, sse=args.sse, session_id=args.session_id
        )
        sys.stdout.write(f"responder listening on http://{args.host}:{port} (MCP at /mcp)\n")
        sys.stdout.flush()
        try:
            await asyncio.Event().wait()
        finally:
            await responder.close()

    with contextlib.suppress(KeyboardInterrupt):
        _run(serve())


def _run(main_coroutine: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop  # optional, and only for the command line
    except ImportError:
        asyncio.run(main_coroutine)
    else:
        uvloop.run(main_coroutine)


if __name__ == "__main__":
    main()
