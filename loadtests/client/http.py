"""A lean HTTP/1.1 keep-alive client for virtual users: ``asyncio.Protocol`` connections, httptools parsing.

Why not aiohttp or httpx: on this machine a bare Protocol client did ~48k req/s on one core, aiohttp ~6k and httpx
~370. A load generator must cost far less than the server it measures, or it measures itself. So a request is one
``transport.write`` of mostly prebuilt bytes and the response is parsed by httptools (uvicorn's parser).

Semantics:

* Network failures never raise. The ``Response`` has ``status=0`` and ``error`` set to one of the stable codes in
  ``ERROR_CODES``, so a VU records them as failed requests. Misuse (a bad or ``https`` URL) raises ``ValueError``.
* Per origin, one request in flight per connection and at most ``max_connections`` connections. A VU sends one
  request at a time, so it keeps one connection; a script that gathers several opens more, and callers beyond the
  limit wait, inside their deadline. Idle connections are reused newest first, so unused ones age out.
* One deadline per request (``timeout``, default 60 s) covers the wait for a connection, connecting, sending and the
  whole response; connecting alone is also bounded by ``connect_timeout``. It is a parameter rather than the
  caller's ``asyncio.timeout`` (hence the ASYNC109 waivers) because a timeout must end in a Response, not raise,
  and one timer handle on the connection is cheaper than a cancellation scope per request.
* A connection is discarded after ``Connection: close``, an error, a timeout or a cancelled call, so a half-read
  response never reaches the next request.
* Retry rule (the keep-alive race): a pooled connection found closed before anything is written is dropped silently
  and another one used, for any method. Once written, a request is retried at most once, on a fresh connection, and
  only if (1) the connection was reused from the pool, (2) it closed before a single response byte arrived and
  (3) the method is idempotent (GET, HEAD, OPTIONS, TRACE, PUT, DELETE). A POST is never replayed: the server may
  have acted on it. A fresh connection that fails is a server failure and is reported, never retried. To keep the
  race rare, a connection idle longer than ``idle_timeout`` (4 s, under uvicorn's 5 s) is not reused.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections import deque
from time import perf_counter
from typing import TYPE_CHECKING, Any, Final, TypeAlias
from urllib.parse import urlsplit

import httptools
import msgspec

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = (
    "BAD_RESPONSE",
    "CLOSED",
    "CONNECT_ERROR",
    "CONNECT_REFUSED",
    "CONNECT_TIMEOUT",
    "DNS_ERROR",
    "ERROR_CODES",
    "RESET",
    "TIMEOUT",
    "Header",
    "HttpClient",
    "PreparedRequest",
    "Response",
)

Header: TypeAlias = tuple[bytes, bytes]

CONNECT_REFUSED: Final = "connect_refused"
"""Nothing listens at the address (every resolved address refused)."""
CONNECT_TIMEOUT: Final = "connect_timeout"
"""The TCP connection was not established within ``connect_timeout`` (the request's own deadline gives TIMEOUT)."""
CONNECT_ERROR: Final = "connect_error"
"""Any other failure to connect (unreachable network, no route, ...)."""
DNS_ERROR: Final = "dns_error"
"""The host name did not resolve."""
TIMEOUT: Final = "timeout"
"""The request's deadline passed: waiting for a connection, connecting, or waiting for the response."""
RESET: Final = "reset"
"""The connection closed or was reset before the response was complete."""
BAD_RESPONSE: Final = "bad_response"
"""The server's bytes are not valid HTTP/1.1."""
CLOSED: Final = "closed"
"""The client was closed before or during the request."""
ERROR_CODES: Final = frozenset(
    {CONNECT_REFUSED, CONNECT_TIMEOUT, CONNECT_ERROR, DNS_ERROR, TIMEOUT, RESET, BAD_RESPONSE, CLOSED}
)

_IDEMPOTENT: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
_NO_BODY_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "DELETE", "CONNECT"})
"""Methods that send no ``Content-Length`` when called without a body."""
_JSON_CONTENT_TYPE: Final = (b"content-type", b"application/json")
_USER_AGENT: Final = b"pp-loadtests/0.1"
_URL_CACHE_LIMIT: Final = 4096
_json_encode = msgspec.json.encode
_json_decode = msgspec.json.decode


class Response:
    """One request's outcome; ``status=0`` with ``error`` set when the network failed.

    Timings are ``time.perf_counter()`` values: ``started`` (``request()`` entered), ``sent`` (the request bytes
    are being handed to the socket: the actual send), ``first_byte``, ``done``. One that did not happen stays ``0.0``.
    """

    __slots__ = ("body", "done", "error", "first_byte", "headers", "sent", "started", "status")

    def __init__(self, started: float) -> None:
        self.status = 0
        self.headers: list[Header] = []
        """Header names are lower-case, in the order received."""
        self.body = b""
        self.started = started
        self.sent = 0.0
        self.first_byte = 0.0
        self.done = 0.0
        self.error: str | None = None

    @property
    def ok(self) -> bool:
        """A response arrived and its status is 2xx."""
        return 200 <= self.status < 300

    def header(self, name: bytes) -> bytes | None:
        """The first value of header ``name`` (lower-case), or None."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def json(self) -> Any:
        return _json_decode(self.body)

    def __repr__(self) -> str:
        if self.error is not None:
            return f"<Response error={self.error}>"
        return f"<Response {self.status} {len(self.body)} bytes>"


class PreparedRequest:
    """A method and URL parsed once, with the request line and the fixed headers already encoded.

    ``HttpClient.request`` caches one per (method, URL); callers with fixed extra headers (the MCP client) build
    their own with ``HttpClient.prepare`` and pass only the per-request headers to ``send``.
    """

    __slots__ = ("head", "head_only", "idempotent", "method", "pool", "sends_length", "url")

    def __init__(self, method: str, url: str, head: bytes, pool: _Pool) -> None:
        self.method = method
        self.url = url
        self.head = head
        """Request line and headers, each ending in CRLF, without the blank line."""
        self.pool = pool
        self.idempotent = method in _IDEMPOTENT
        self.head_only = method == "HEAD"
        self.sends_length = method not in _NO_BODY_METHODS


class _Connection(asyncio.Protocol):
    """One keep-alive connection; ``start`` writes a request and returns a future of its error code (None: ok)."""

    __slots__ = (
        "alive",
        "chunks",
        "deadline",
        "framed",
        "head_only",
        "headers_done",
        "idle_since",
        "keep_alive",
        "parser",
        "received",
        "response",
        "stale_parser",
        "timer",
        "timer_at",
        "transport",
        "waiter",
    )

    transport: asyncio.Transport

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.alive = False
        self.waiter: asyncio.Future[str | None] | None = None
        self.response = _NO_RESPONSE
        self.chunks: list[bytes] = []
        self.received = False
        self.head_only = False
        self.headers_done = False
        self.framed = False
        self.keep_alive = False
        self.stale_parser = False
        self.deadline = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0.0
        self.idle_since = 0.0

    # --- asyncio.Protocol ---

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # create_connection gives a Transport
        self.alive = True

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:  # bytes nobody asked for: the connection is out of step
            self.abort()
            return
        if not self.received:
            self.received = True
            self.response.first_byte = perf_counter()
        try:
            self.parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):  # an upgrade is not ours to follow
            self._finish(BAD_RESPONSE)
            self.abort()

    def eof_received(self) -> bool | None:
        self.alive = False
        return None  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.alive = False
        self._cancel_timer()
        if self.waiter is None:
            return
        if self.headers_done and not self.framed and self.response.status >= 200:
            self._complete(keep_alive=False)  # no Content-Length, not chunked: the body ran until the close
        else:
            self._finish(RESET)

    # --- httptools callbacks ---

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"content-length" or name == b"transfer-encoding":
            self.framed = True
        self.response.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.headers_done = True
        status = self.parser.get_status_code()
        self.response.status = status
        if self.head_only and status >= 200:
            # httptools cannot be told that a HEAD response has no body: finish here, parse the next on a new parser
            self.stale_parser = True
            self._complete(self.parser.should_keep_alive())

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        if self.parser.get_status_code() < 200:  # an interim 1xx response: the real one follows
            self.response.headers = []
            self.headers_done = False
            self.framed = False
            return
        if self.waiter is not None:
            self._complete(self.parser.should_keep_alive())

    # --- use ---

    def start(
        self, data: bytes, response: Response, head_only: bool, deadline: float, loop: asyncio.AbstractEventLoop
    ) -> asyncio.Future[str | None]:
        if self.stale_parser:
            self.parser = httptools.HttpResponseParser(self)
            self.stale_parser = False
        self.response = response
        self.chunks = []
        self.received = False
        self.head_only = head_only
        self.headers_done = False
        self.framed = False
        self.keep_alive = False
        waiter = loop.create_future()
        self.waiter = waiter
        self.deadline = deadline
        if self.timer is None or deadline < self.timer_at:
            # One timer outlives many requests (~3 us saved on each): it fires at the oldest deadline and moves on.
            if self.timer is not None:
                self.timer.cancel()
            self.timer = loop.call_at(deadline, self._on_timer, loop)
            self.timer_at = deadline
        # Stamped before the write: after it, the process can be preempted while the server already answers, and
        # done - sent would miss most of the request (seen on a loaded 2-core machine: 0.1 ms for a 1.5 ms call).
        response.sent = perf_counter()
        self.transport.write(data)
        return waiter

    def abort(self) -> None:
        self.alive = False
        self._cancel_timer()
        self._finish(CLOSED)
        self.transport.abort()

    def _on_timer(self, loop: asyncio.AbstractEventLoop) -> None:
        self.timer = None
        if self.waiter is None:  # idle: the request this timer was set for is long done
            return
        if loop.time() < self.deadline - 0.001:  # set for an earlier request: wait for the current one's deadline
            self.timer = loop.call_at(self.deadline, self._on_timer, loop)
            self.timer_at = self.deadline
            return
        self._finish(TIMEOUT)
        self.abort()  # the response may still arrive: this connection is out of step for good

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _complete(self, keep_alive: bool) -> None:
        chunks = self.chunks
        if chunks:
            self.response.body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self.keep_alive = keep_alive
        self._finish(None)

    def _finish(self, code: str | None) -> None:
        waiter = self.waiter
        if waiter is None:
            return
        self.waiter = None
        self.response.done = perf_counter()
        if not waiter.done():
            waiter.set_result(code)


_NO_RESPONSE: Final = Response(0.0)
"""Placeholder for an idle connection's response (never handed out)."""


class _Pool:
    """The connections to one origin."""

    __slots__ = ("addresses", "closed", "conns", "host", "idle", "idle_timeout", "limit", "open", "port", "waiters")

    def __init__(self, host: str, port: int, limit: int, idle_timeout: float) -> None:
        self.host = host
        self.port = port
        self.limit = limit
        self.idle_timeout = idle_timeout
        self.idle: list[_Connection] = []
        self.conns: set[_Connection] = set()
        self.open = 0
        """Connections open or being opened; at most ``limit``."""
        self.waiters: deque[asyncio.Future[None]] = deque()
        self.addresses: list[tuple[socket.AddressFamily, str]] | None = None
        self.closed = False

    def take(self, now: float) -> _Connection | None:
        """The newest usable idle connection; dead or too-old ones are dropped on the way."""
        idle = self.idle
        while idle:
            conn = idle.pop()
            if conn.alive and now - conn.idle_since < self.idle_timeout:
                return conn
            self.drop(conn)
        return None

    def release(self, conn: _Connection, reuse: bool) -> None:
        if reuse and not self.closed:
            conn.idle_since = conn.response.done
            conn.response = _NO_RESPONSE
            self.idle.append(conn)
        else:
            self.drop(conn)
        if self.waiters:
            self.wake()

    def drop(self, conn: _Connection) -> None:
        if conn in self.conns:
            self.conns.discard(conn)
            self.open -= 1
        if conn.alive:
            conn.abort()

    def wake(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def acquire(
        self, loop: asyncio.AbstractEventLoop, deadline: float, connect_timeout: float, *, fresh: bool
    ) -> tuple[_Connection, bool] | str:
        """A connection and whether it was reused, or an error code; waits for a free slot at the limit."""
        while not self.closed:
            if not fresh:
                conn = self.take(perf_counter())
                if conn is not None:
                    return conn, True
            elif self.open >= self.limit and self.idle:
                self.drop(self.idle.pop(0))  # make room for the fresh connection
            if self.open < self.limit:
                return await self._open(loop, deadline, connect_timeout)
            waiter = loop.create_future()
            self.waiters.append(waiter)
            try:
                async with asyncio.timeout_at(deadline):
                    await waiter
            except BaseException as exc:
                if waiter.done() and not waiter.cancelled():
                    self.wake()  # we were woken but will not use the slot: pass it on
                if isinstance(exc, TimeoutError):
                    return TIMEOUT
                raise
        return CLOSED

    async def _open(
        self, loop: asyncio.AbstractEventLoop, deadline: float, connect_timeout: float
    ) -> tuple[_Connection, bool] | str:
        connect_deadline = loop.time() + connect_timeout
        if deadline <= connect_deadline:
            connect_deadline = deadline
            if deadline <= loop.time():
                return TIMEOUT
        self.open += 1
        try:
            result = await self._connect(loop, connect_deadline)
        except BaseException:
            self.open -= 1
            self.wake()
            raise
        if isinstance(result, str):
            self.open -= 1
            self.wake()
            return TIMEOUT if result == CONNECT_TIMEOUT and connect_deadline == deadline else result
        if self.closed:
            self.open -= 1
            result.abort()
            return CLOSED
        self.conns.add(result)
        return result, False

    async def _connect(self, loop: asyncio.AbstractEventLoop, deadline: float) -> _Connection | str:
        try:
            async with asyncio.timeout_at(deadline):
                addresses = self.addresses
                if addresses is None:
                    addresses = self.addresses = await self._resolve(loop)
                refused = False
                for family, address in addresses:
                    try:
                        _, conn = await loop.create_connection(_Connection, address, self.port, family=family)
                    except ConnectionRefusedError:
                        refused = True
                    except OSError:
                        pass
                    else:
                        return conn
        except TimeoutError:
            return CONNECT_TIMEOUT
        except socket.gaierror:
            return DNS_ERROR
        except OSError:
            return CONNECT_ERROR
        self.addresses = None  # resolve again next time: the service may have moved
        return CONNECT_REFUSED if refused else CONNECT_ERROR

    async def _resolve(self, loop: asyncio.AbstractEventLoop) -> list[tuple[socket.AddressFamily, str]]:
        """The origin's addresses, resolved once per pool (a numeric host needs no resolver thread)."""
        try:
            ip = ipaddress.ip_address(self.host)
        except ValueError:
            pass
        else:
            return [(socket.AF_INET6 if ip.version == 6 else socket.AF_INET, self.host)]
        infos = await loop.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
        addresses: list[tuple[socket.AddressFamily, str]] = []
        for family, _, _, _, sockaddr in infos:
            entry = (family, str(sockaddr[0]))
            if entry not in addresses:
                addresses.append(entry)
        if not addresses:
            raise socket.gaierror(f"{self.host} has no address")
        return addresses

    def close(self) -> None:
        self.closed = True
        self.idle.clear()
        for conn in list(self.conns):
            self.drop(conn)
        while self.waiters:
            self.wake()


class HttpClient:
    """Keep-alive HTTP/1.1 (``http://`` only) for one VU or a few VUs sharing one event loop."""

    def __init__(
        self,
        *,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        max_connections: int = 64,
        idle_timeout: float = 4.0,
        user_agent: bytes = _USER_AGENT,
    ) -> None:
        """Limits apply per origin; ``timeout`` is the default whole-request deadline in seconds."""
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self._user_agent = user_agent
        self._pools: dict[tuple[str, int], _Pool] = {}
        self._prepared: dict[tuple[str, str], PreparedRequest] = {}
        self._closed = False

    def prepare(self, method: str, url: str, headers: Sequence[Header] = ()) -> PreparedRequest:
        """Parse ``url`` and encode the request line and ``headers`` once, for many ``send`` calls."""
        if not url.isascii():
            raise ValueError(f"URLs must be ASCII (percent-encode paths, punycode hosts): {url!r}")
        parts = urlsplit(url)
        if parts.scheme == "https":
            raise ValueError("https is not supported by the load client yet")
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"not an http:// URL: {url!r}")
        if not method or not method.isascii() or not method.isupper():
            raise ValueError(f"not an HTTP method: {method!r}")
        host = parts.hostname
        port = parts.port or 80
        target = parts.path or "/"
        if parts.query:
            target = f"{target}?{parts.query}"
        authority = parts.netloc.rpartition("@")[2]  # as written, minus any userinfo
        if port == 80 and parts.port is not None:
            authority = authority.rsplit(":", 1)[0]
        lines = [
            f"{method} {target} HTTP/1.1\r\nHost: {authority}\r\n".encode(),
            b"User-Agent: " + self._user_agent + b"\r\n",
            b"Connection: keep-alive\r\n",
        ]
        lines.extend(_header_line(name, value) for name, value in headers)
        return PreparedRequest(method, url, b"".join(lines), self._pool(host, port))

    async def send(
        self,
        prepared: PreparedRequest,
        body: bytes | None = None,
        headers: Sequence[Header] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> Response:
        """Send a prepared request with an optional body and per-request headers; never raises on network errors."""
        response = Response(perf_counter())
        parts = [prepared.head]
        if headers:
            for name, value in headers:
                parts += (name, b": ", value, b"\r\n")
        if body is None:
            parts.append(b"Content-Length: 0\r\n\r\n" if prepared.sends_length else b"\r\n")
        else:
            parts += (b"Content-Length: %d\r\n\r\n" % len(body), body)
        data = b"".join(parts)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.timeout if timeout is None else timeout)
        pool = prepared.pool
        conn = pool.take(response.started) if not pool.closed else None
        reused = conn is not None
        if conn is None:
            acquired = await pool.acquire(loop, deadline, self.connect_timeout, fresh=False)
            if isinstance(acquired, str):
                return _failed(response, acquired)
            conn, reused = acquired
        code = await _exchange(pool, conn, data, response, prepared.head_only, deadline, loop)
        if code is None:
            return response
        if code == RESET and reused and not conn.received and prepared.idempotent:
            response.headers = []  # the keep-alive race: the server closed the connection as we wrote; once more
            response.first_byte = 0.0
            acquired = await pool.acquire(loop, deadline, self.connect_timeout, fresh=True)
            if isinstance(acquired, str):
                return _failed(response, acquired)
            code = await _exchange(pool, acquired[0], data, response, prepared.head_only, deadline, loop)
            if code is None:
                return response
        return _failed(response, code)

    async def request(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: Sequence[Header] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> Response:
        """One request; the parsed URL and encoded request line are cached per (method, url)."""
        prepared = self._prepared.get((method, url))
        if prepared is None or prepared.pool.closed:
            prepared = self.prepare(method, url)
            if len(self._prepared) >= _URL_CACHE_LIMIT:
                self._prepared.clear()
            self._prepared[method, url] = prepared
        return await self.send(prepared, body, headers, timeout)

    async def get(self, url: str, *, headers: Sequence[Header] | None = None, timeout: float | None = None) -> Response:  # noqa: ASYNC109
        return await self.request("GET", url, None, headers, timeout)

    async def post(
        self,
        url: str,
        body: bytes | str | Mapping[str, Any] | list[Any] | None = None,
        *,
        headers: Sequence[Header] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> Response:
        """POST bytes as they are, a str as UTF-8, a dict or list as JSON (adding ``Content-Type`` if missing)."""
        data: bytes | None
        if body is None or isinstance(body, bytes):
            data = body
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = _json_encode(body)
            if not headers or all(name.lower() != b"content-type" for name, _ in headers):
                headers = [*(headers or ()), _JSON_CONTENT_TYPE]
        return await self.request("POST", url, data, headers, timeout)

    async def close(self) -> None:
        """Close every connection; requests in flight end with ``error="closed"``, later ones too."""
        self._closed = True
        pools = list(self._pools.values())
        self._prepared.clear()
        for pool in pools:
            pool.close()
        await asyncio.sleep(0)  # let the transports' connection_lost callbacks run while the loop is alive

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def connections(self) -> int:
        """Connections open or being opened, over all origins."""
        return sum(pool.open for pool in self._pools.values())

    def _pool(self, host: str, port: int) -> _Pool:
        pool = self._pools.get((host, port))
        if pool is None:
            pool = self._pools[host, port] = _Pool(host, port, self.max_connections, self.idle_timeout)
            pool.closed = self._closed
        return pool


async def _exchange(
    pool: _Pool,
    conn: _Connection,
    data: bytes,
    response: Response,
    head_only: bool,
    deadline: float,
    loop: asyncio.AbstractEventLoop,
) -> str | None:
    try:
        code = await conn.start(data, response, head_only, deadline, loop)
    except BaseException:  # cancelled: the response may still be in flight, so the connection cannot be reused
        pool.drop(conn)
        if pool.waiters:
            pool.wake()
        raise
    pool.release(conn, code is None and conn.keep_alive and conn.alive)
    return code


def _failed(response: Response, code: str) -> Response:
    response.status = 0
    response.error = code
    response.done = perf_counter()
    return response


def _header_line(name: bytes, value: bytes) -> bytes:
    if b"\r" in value or b"\n" in value or b"\r" in name or b"\n" in name or b":" in name:
        raise ValueError(f"invalid header {name!r}: {value!r}")
    return name + b": " + value + b"\r\n"
