"""An MCP Streamable HTTP client (revision 2025-11-25) for VUs: JSON-RPC 2.0 over the lean ``HttpClient``.

Built for the send loop: the request line and fixed headers are encoded once, a ``tools/call`` body is a cached
prefix per tool plus the encoded arguments and the id, and the reply is decoded into small typed structs whose
``content``/``structuredContent`` stay raw until someone reads them (the loop usually needs only ``ok``).

Failures never raise in ``call_tool``/``rpc``/``ping``; they come back with a short stable ``error`` code: a network
code of ``loadtests.client.http`` (``"timeout"``, ``"connect_refused"``...), ``"http_<status>"``, ``"rpc_<code>"``,
``"tool_error"`` (the tool answered ``isError: true``), ``"bad_rpc"`` (a 200 that holds no JSON-RPC response to our
request) or ``"unsupported_version"`` (the server negotiated a revision we do not speak). The handshake runs lazily
on first use, once even when many calls arrive together; if it fails, those calls fail with its code and the next
call tries again. ``initialize`` and ``list_tools`` are setup steps and raise ``McpError`` instead.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import TYPE_CHECKING, Any, Final

import msgspec

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from loadtests.client.http import Header, HttpClient, Response

__all__ = (
    "BAD_RPC",
    "CLIENT_NAME",
    "PROTOCOL_VERSION",
    "SUPPORTED_VERSIONS",
    "TOOL_ERROR",
    "UNSUPPORTED_VERSION",
    "McpClient",
    "McpError",
    "RpcResult",
    "ToolResult",
)

PROTOCOL_VERSION: Final = "2025-11-25"
SUPPORTED_VERSIONS: Final = frozenset({"2025-11-25", "2025-06-18", "2025-03-26"})
"""Revisions whose ``tools/call`` we understand; a server may negotiate down to one of them."""
CLIENT_NAME: Final = "pp-loadtests"
CLIENT_VERSION: Final = "0.1.0"

BAD_RPC: Final = "bad_rpc"
TOOL_ERROR: Final = "tool_error"
UNSUPPORTED_VERSION: Final = "unsupported_version"

_ACCEPT: Final = (b"accept", b"application/json, text/event-stream")
_CONTENT_TYPE: Final = (b"content-type", b"application/json")
_SESSION_HEADER: Final = b"mcp-session-id"
_INITIALIZED: Final = b'{"jsonrpc":"2.0","method":"notifications/initialized"}'
_MAX_PAGES: Final = 1000
_encode = msgspec.json.encode
_decode = msgspec.json.decode


class McpError(Exception):
    """A setup step (``initialize``, ``list_tools``) failed; ``code`` is one of the stable error codes."""

    def __init__(self, code: str, message: str, response: Response) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.response = response


# --- wire shapes (decoded straight from the reply bytes; unknown fields are skipped) ---


class _RpcError(msgspec.Struct):
    code: int = 0
    message: str = ""


class _ToolBody(msgspec.Struct):
    is_error: bool = msgspec.field(default=False, name="isError")
    content: msgspec.Raw = msgspec.Raw(b"[]")
    structured: msgspec.Raw = msgspec.field(default=msgspec.Raw(b"null"), name="structuredContent")


class _ToolReply(msgspec.Struct):
    id: int | str | None = None
    method: str | None = None
    """Set on server requests and notifications, which an SSE stream may carry before our response."""
    result: _ToolBody | None = None
    error: _RpcError | None = None


class _Reply(msgspec.Struct):
    id: int | str | None = None
    method: str | None = None
    result: msgspec.Raw = msgspec.Raw()
    error: _RpcError | None = None


class _Content(msgspec.Struct):
    type: str = ""
    text: str = ""


_tool_reply_decoder: Final = msgspec.json.Decoder(_ToolReply)
_reply_decoder: Final = msgspec.json.Decoder(_Reply)
_content_decoder: Final = msgspec.json.Decoder(list[_Content])
_EMPTY_LIST: Final = msgspec.Raw(b"[]")
_NULL: Final = msgspec.Raw(b"null")
_UNSET: Final[Any] = object()


class ToolResult:
    """One ``tools/call``: ``ok`` means HTTP 200, a JSON-RPC result and ``isError`` false.

    ``structured`` (structuredContent) and ``text`` (the text content joined) are decoded on first access.
    """

    __slots__ = (
        "_content",
        "_structured",
        "_structured_value",
        "error",
        "is_error",
        "ok",
        "response",
        "rpc_error",
        "status",
        "tool",
    )

    def __init__(
        self,
        tool: str,
        response: Response,
        *,
        error: str | None = None,
        is_error: bool = False,
        rpc_error: tuple[int, str] | None = None,
        content: msgspec.Raw = _EMPTY_LIST,
        structured: msgspec.Raw = _NULL,
    ) -> None:
        self.tool = tool
        self.response = response
        self.status = response.status
        self.error = error
        self.ok = error is None
        self.is_error = is_error
        self.rpc_error = rpc_error
        self._content = content
        self._structured = structured
        self._structured_value: Any = _UNSET

    @property
    def structured(self) -> Any:
        if self._structured_value is _UNSET:
            self._structured_value = _decode(self._structured)
        return self._structured_value

    @property
    def text(self) -> str:
        return "\n".join(item.text for item in _content_decoder.decode(self._content) if item.type == "text")

    def __repr__(self) -> str:
        return f"<ToolResult {self.tool} {'ok' if self.ok else self.error}>"


class RpcResult:
    """Any other JSON-RPC request's outcome; ``result`` is decoded on access (None when there is none)."""

    __slots__ = ("_raw", "error", "method", "ok", "response", "rpc_error", "status")

    def __init__(
        self,
        method: str,
        response: Response,
        *,
        error: str | None = None,
        rpc_error: tuple[int, str] | None = None,
        raw: msgspec.Raw = _NULL,
    ) -> None:
        self.method = method
        self.response = response
        self.status = response.status
        self.error = error
        self.ok = error is None
        self.rpc_error = rpc_error
        self._raw = raw

    @property
    def result(self) -> Any:
        return _decode(self._raw)

    def __repr__(self) -> str:
        return f"<RpcResult {self.method} {'ok' if self.ok else self.error}>"


class McpClient:
    """One MCP endpoint over a (possibly shared) ``HttpClient``; it does not close ``http``."""

    def __init__(
        self,
        http: HttpClient,
        url: str,
        *,
        headers: Sequence[Header] = (),
        timeout: float | None = None,
        client_name: str = CLIENT_NAME,
        client_version: str = CLIENT_VERSION,
        protocol_version: str = PROTOCOL_VERSION,
    ) -> None:
        """``headers`` go on every request (e.g. ``Authorization``); ``timeout`` overrides the HTTP client's."""
        self.http = http
        self.url = url
        self.timeout = timeout
        self.session_id: str | None = None
        """The server's ``Mcp-Session-Id``, sent back on every later request (stateless servers send none)."""
        self.protocol_version: str | None = None
        """The negotiated revision, sent as ``MCP-Protocol-Version`` after the handshake."""
        self.server_result: dict[str, Any] | None = None
        """The server's ``initialize`` result (serverInfo, capabilities...)."""
        self._static = tuple(headers)
        self._offered = protocol_version
        self._client_info = {"name": client_name, "version": client_version}
        self._ids = itertools.count(1)
        self._tool_prefixes: dict[str, bytes] = {}
        self._prepared = http.prepare("POST", url, self._headers())
        self._ready = False
        self._init_task: asyncio.Future[dict[str, Any]] | None = None

    @property
    def ready(self) -> bool:
        return self._ready

    async def initialize(self, *, headers: Sequence[Header] = ()) -> dict[str, Any]:
        """The handshake: ``initialize``, then the ``notifications/initialized`` notification (a 2xx, 202 normally)."""
        self._ready = False
        self.session_id = None
        self.protocol_version = None
        self._prepared = self.http.prepare("POST", self.url, self._headers())
        params = {"protocolVersion": self._offered, "capabilities": {}, "clientInfo": self._client_info}
        reply = await self._rpc("initialize", params, headers, self.timeout)
        if not reply.ok:
            raise McpError(reply.error or BAD_RPC, f"initialize failed ({reply.rpc_error})", reply.response)
        result = reply.result
        if not isinstance(result, dict):
            raise McpError(BAD_RPC, "the initialize result is not an object", reply.response)
        version = result.get("protocolVersion")
        if version not in SUPPORTED_VERSIONS:
            raise McpError(UNSUPPORTED_VERSION, f"the server answered revision {version!r}", reply.response)
        session = reply.response.header(_SESSION_HEADER)
        self.session_id = session.decode("ascii") if session else None
        self.protocol_version = str(version)
        self._prepared = self.http.prepare("POST", self.url, self._headers())
        sent = await self.http.send(self._prepared, _INITIALIZED, headers or None, self.timeout)
        if sent.error is not None:
            raise McpError(sent.error, "notifications/initialized failed", sent)
        if not 200 <= sent.status < 300:
            raise McpError(f"http_{sent.status}", "notifications/initialized was refused", sent)
        self.server_result = result
        self._ready = True
        return result

    async def call_tool(
        self,
        name: str,
        arguments: Mapping[str, Any],
        *,
        headers: Sequence[Header] = (),
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> ToolResult:
        """``tools/call``; per-call ``headers`` carry e.g. ``traceparent`` and ``baggage``."""
        if not self._ready:
            failure = await self._ensure_ready()
            if failure is not None:
                return ToolResult(name, failure.response, error=failure.code)
        prefix = self._tool_prefixes.get(name)
        if prefix is None:
            prefix = b'{"jsonrpc":"2.0","method":"tools/call","params":{"name":' + _encode(name) + b',"arguments":'
            self._tool_prefixes[name] = prefix
        request_id = next(self._ids)
        args = _encode(arguments if isinstance(arguments, dict) else dict(arguments))
        body = b"".join((prefix, args, b'},"id":%d}' % request_id))
        response = await self.http.send(
            self._prepared, body, headers or None, self.timeout if timeout is None else timeout
        )
        if response.status != 200 or response.error is not None:
            return ToolResult(name, response, error=self._failure(response), rpc_error=_rpc_error_of(response))
        reply = _find_reply(response, request_id, _tool_reply_decoder)
        if reply is None:
            return ToolResult(name, response, error=BAD_RPC)
        if reply.error is not None:
            rpc_error = (reply.error.code, reply.error.message)
            return ToolResult(name, response, error=f"rpc_{reply.error.code}", rpc_error=rpc_error)
        result = reply.result
        if result is None:
            return ToolResult(name, response, error=BAD_RPC)
        if result.is_error:
            return ToolResult(
                name, response, error=TOOL_ERROR, is_error=True, content=result.content, structured=result.structured
            )
        return ToolResult(name, response, content=result.content, structured=result.structured)

    async def rpc(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        headers: Sequence[Header] = (),
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> RpcResult:
        """Any JSON-RPC request (after the handshake, which runs if needed)."""
        if not self._ready:
            failure = await self._ensure_ready()
            if failure is not None:
                return RpcResult(method, failure.response, error=failure.code)
        return await self._rpc(method, params, headers, self.timeout if timeout is None else timeout)

    async def ping(self, *, headers: Sequence[Header] = (), timeout: float | None = None) -> RpcResult:  # noqa: ASYNC109
        return await self.rpc("ping", headers=headers, timeout=timeout)

    async def list_tools(self, *, headers: Sequence[Header] = ()) -> list[dict[str, Any]]:
        """Every tool over all pages of ``tools/list``; raises ``McpError`` on failure."""
        tools: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(_MAX_PAGES):
            reply = await self.rpc("tools/list", {"cursor": cursor} if cursor else None, headers=headers)
            if not reply.ok:
                raise McpError(reply.error or BAD_RPC, f"tools/list failed ({reply.rpc_error})", reply.response)
            result = reply.result
            if not isinstance(result, dict) or not isinstance(result.get("tools"), list):
                raise McpError(BAD_RPC, "tools/list result has no tools list", reply.response)
            tools.extend(result["tools"])
            cursor = result.get("nextCursor")
            if not cursor:
                return tools
        raise McpError(BAD_RPC, f"tools/list did not end within {_MAX_PAGES} pages", reply.response)

    async def close(self) -> None:
        """End the session (``DELETE`` with its id) if the server opened one; the HTTP client stays open."""
        headers = self._headers()[2:]  # the static ones, the protocol version and the session id
        session = self.session_id
        self._ready = False
        self._init_task = None
        self.session_id = None
        self.protocol_version = None
        self._prepared = self.http.prepare("POST", self.url, self._headers())
        if session is not None:
            await self.http.request("DELETE", self.url, headers=headers, timeout=self.timeout)

    # --- internals ---

    def _headers(self) -> list[Header]:
        headers = [_CONTENT_TYPE, _ACCEPT, *self._static]
        if self.protocol_version is not None:
            headers.append((b"mcp-protocol-version", self.protocol_version.encode()))
        if self.session_id is not None:
            headers.append((_SESSION_HEADER, self.session_id.encode()))
        return headers

    async def _ensure_ready(self) -> McpError | None:
        """Run the handshake once for all concurrent callers; None when ready, else its failure."""
        task = self._init_task
        if task is None:
            task = self._init_task = asyncio.ensure_future(self.initialize())
            task.add_done_callback(self._init_done)
        try:
            await asyncio.shield(task)
        except McpError as exc:
            return exc
        return None

    def _init_done(self, task: asyncio.Future[dict[str, Any]]) -> None:
        # reading the exception also marks it retrieved; after a failure the next call tries again
        if (task.cancelled() or task.exception() is not None) and self._init_task is task:
            self._init_task = None

    async def _rpc(
        self,
        method: str,
        params: Mapping[str, Any] | None,
        headers: Sequence[Header],
        timeout: float | None,  # noqa: ASYNC109
    ) -> RpcResult:
        request_id = next(self._ids)
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params if isinstance(params, dict) else dict(params)
        response = await self.http.send(self._prepared, _encode(message), headers or None, timeout)
        if response.status != 200 or response.error is not None:
            return RpcResult(method, response, error=self._failure(response), rpc_error=_rpc_error_of(response))
        reply = _find_reply(response, request_id, _reply_decoder)
        if reply is None:
            return RpcResult(method, response, error=BAD_RPC)
        if reply.error is not None:
            rpc_error = (reply.error.code, reply.error.message)
            return RpcResult(method, response, error=f"rpc_{reply.error.code}", rpc_error=rpc_error)
        if not reply.result:
            return RpcResult(method, response, error=BAD_RPC)
        return RpcResult(method, response, raw=reply.result)

    def _failure(self, response: Response) -> str:
        """The error code of a response that is not a 200; a 404 on a session means it expired: handshake again."""
        if response.error is not None:
            return response.error
        if response.status == 404 and self.session_id is not None and self._ready:
            self._ready = False
            self._init_task = None
        return f"http_{response.status}"


def _find_reply(response: Response, request_id: int, decoder: msgspec.json.Decoder[Any]) -> Any:
    """The JSON-RPC response to ``request_id`` in a JSON body or an SSE stream, or None."""
    content_type = response.header(b"content-type") or b""
    if content_type[:17].lower() == b"text/event-stream":
        for data in sse_data(response.body):
            try:
                reply = decoder.decode(data)
            except msgspec.DecodeError:
                continue
            if reply.method is None and reply.id == request_id:
                return reply
        return None
    try:
        reply = decoder.decode(response.body)
    except msgspec.DecodeError:
        return None
    return reply if reply.method is None and reply.id == request_id else None


def _rpc_error_of(response: Response) -> tuple[int, str] | None:
    """The JSON-RPC error a non-200 reply may carry (e.g. a 400 with -32600), for the record; None if none."""
    if not response.body:
        return None
    content_type = response.header(b"content-type") or b""
    sse = content_type[:17].lower() == b"text/event-stream"
    for data in sse_data(response.body) if sse else (response.body,):
        try:
            reply = _reply_decoder.decode(data)
        except msgspec.DecodeError:
            continue
        if reply.error is not None:
            return reply.error.code, reply.error.message
    return None


def sse_data(stream: bytes) -> Iterator[bytes]:
    """The ``data`` of each complete event of a ``text/event-stream`` body (the WHATWG parsing rules).

    Multiple ``data:`` lines of one event are joined with newlines; events without data (comments, a priming event
    holding only an ``id``) are skipped; an event cut off before its blank line is not dispatched.
    """
    if stream[:3] == b"\xef\xbb\xbf":  # a UTF-8 byte order mark may open the stream
        stream = stream[3:]
    data: list[bytes] | None = None
    for line in stream.splitlines():
        if not line:
            if data is not None:
                yield b"\n".join(data)
                data = None
            continue
        field, _, value = line.partition(b":")
        if field != b"data":
            continue
        if value[:1] == b" ":
            value = value[1:]
        if data is None:
            data = [value]
        else:
            data.append(value)
