"""A lean keep-alive HTTP/1.1 client for one upstream: a pool of ``asyncio.Protocol`` connections, httptools parsing.

Why not aiohttp: on the gateway's hot path (one POST to retrieval per tool call) aiohttp's client spent about a third
of the gateway's CPU, mostly in machinery this single-upstream, JSON-in/JSON-out use does not need. Here a request
is one ``transport.write`` of prebuilt bytes and the response is parsed by httptools (the parser uvicorn uses).

Semantics: one request in flight per connection; at most ``limit`` connections, callers beyond that wait for one;
a connection the server closed while idle is detected on use and the request is retried once on a fresh connection
(the server never read it); a connection is discarded after ``Connection: close``, an error, or a cancelled call
(the caller's timeout), so a half-read response never reaches the next caller. Deadlines belong to the caller
(``asyncio.timeout``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

import httptools

__all__ = ("ConnectionPool", "Response", "UpstreamClosed")


class UpstreamClosed(ConnectionError):
    """The connection closed before a complete response arrived."""

    def __init__(self, message: str, *, partial: bool) -> None:
        super().__init__(message)
        self.partial = partial
        """Whether any response bytes had arrived (then the request may have been processed)."""


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[bytes, bytes] = field(default_factory=dict)
    """Header names are lower-cased."""
    body: bytes = b""


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[Response] | None = None
        self.response = Response(0)
        self.chunks: list[bytes] = []
        self.received = False
        self.keep_alive = True

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamClosed(f"malformed response: {exc}", partial=True))
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._fail(UpstreamClosed(f"connection closed by the server ({exc or 'EOF'})", partial=self.received))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.response.headers[name.lower()] = value

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        self.response.status = self.parser.get_status_code()
        self.response.body = b"".join(self.chunks)
        self.keep_alive = self.parser.should_keep_alive()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(self.response)

    # use
    @property
    def usable(self) -> bool:
        return self.transport is not None and not self.transport.is_closing() and self.keep_alive

    async def exchange(self, request: bytes) -> Response:
        if self.transport is None:
            raise UpstreamClosed("connection closed by the server (idle)", partial=False)
        self.waiter = asyncio.get_running_loop().create_future()
        self.response = Response(0)
        self.chunks = []
        self.received = False
        self.transport.write(request)
        return await self.waiter

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()
            self.transport = None

    def _fail(self, exc: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)


class ConnectionPool:
    def __init__(self, host: str, port: int, limit: int) -> None:
        self._host = host
        self._port = port
        self._idle: deque[_Connection] = deque()
        self._slots = asyncio.Semaphore(limit)
        self._closed = False

    @property
    def authority(self) -> str:
        return f"{self._host}:{self._port}"

    async def request(self, request: bytes) -> Response:
        """Send one complete HTTP/1.1 request (bytes) and return its response."""
        async with self._slots:
            conn, reused = await self._checkout()
            try:
                response = await conn.exchange(request)
            except UpstreamClosed as exc:
                conn.abort()
                if not reused or exc.partial:
                    raise
                conn, _ = await self._checkout(fresh=True)  # the server dropped an idle connection: retry once
                try:
                    response = await conn.exchange(request)
                except BaseException:
                    conn.abort()
                    raise
            except BaseException:  # cancelled (timeout) or worse: the response may still be in flight
                conn.abort()
                raise
            if conn.usable and not self._closed:
                self._idle.append(conn)
            else:
                conn.abort()
            return response

    async def _checkout(self, *, fresh: bool = False) -> tuple[_Connection, bool]:
        while self._idle and not fresh:
            conn = self._idle.pop()
            if conn.usable:
                return conn, True
            conn.abort()
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(_Connection, self._host, self._port)
        return conn, False

    async def aclose(self) -> None:
        self._closed = True
        while self._idle:
            self._idle.pop().abort()
