"""MCP Streamable HTTP at ``/mcp`` (revision 2025-11-25, stateless, JSON replies).

Rules beyond the dispatcher's, each from the spec or from clients that broke on servers that got it wrong:

* One JSON object per POST: invalid JSON → 400 ``-32700`` with ``id: null``; an array (batching, removed in
  2025-06-18) or a malformed request → 400 ``-32600``.
* A notification or a response → 202 with an empty body (strict clients reject 200/204).
* ``MCP-Protocol-Version`` is checked on known methods other than ``initialize``, against the supported set rather
  than a remembered negotiation (we keep no sessions): an unsupported value → 400. A stray ``Mcp-Session-Id`` is
  ignored; proxies forward them.
* Replies are ``application/json``; a client that accepts only ``text/event-stream`` gets the reply as one SSE
  ``message`` event.
* GET and DELETE → 405 (we offer no stream and no sessions; 404/400 make some clients loop).
* Origin and bearer token are checked for every request by ``services.gateway.guard``; the body limit by Litestar
  (413).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec
from litestar import asgi

from services.common.asgi import BodyTooLarge, ClientDisconnected, header, read_body, reply
from services.gateway.mcp import jsonrpc
from services.gateway.mcp.dispatch import METHODS, SUPPORTED_VERSIONS

if TYPE_CHECKING:
    from litestar.types import Receive, Scope, Send

    from services.gateway.mcp.dispatch import Dispatcher

__all__ = ("mcp_handlers",)

_JSON = b"application/json"
_SSE = b"text/event-stream"
_SUPPORTED = ", ".join(sorted(SUPPORTED_VERSIONS))


async def _answer(scope: Scope, send: Send, body: bytes, status: int = 200) -> None:
    accept = header(scope, b"accept") or b""
    if _SSE in accept and _JSON not in accept and b"*/*" not in accept:
        await reply(send, status, b"event: message\ndata: " + body + b"\n\n", _SSE)
    else:
        await reply(send, status, body)


@asgi("/mcp", copy_scope=False)
async def mcp_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    """POST carries one JSON-RPC message; GET and DELETE are 405 (no server stream, no sessions)."""
    if scope.get("method") != "POST":
        await reply(send, 405, b"", content_type=None, extra=[(b"allow", b"POST")])
        return
    app_state = scope["app"].state
    try:
        raw = await read_body(scope, receive, app_state.max_body_bytes)
    except BodyTooLarge:
        text = f"request body exceeds {app_state.max_body_bytes} bytes"
        await _answer(scope, send, jsonrpc.error(None, jsonrpc.INVALID_REQUEST, text), 413)
        return
    except ClientDisconnected:
        return
    try:
        message = jsonrpc.decode_message(raw)
    except msgspec.ValidationError as exc:  # a subclass of DecodeError: test it first
        text = f"invalid request: a single JSON-RPC object is expected ({exc})"
        await _answer(scope, send, jsonrpc.error(None, jsonrpc.INVALID_REQUEST, text), 400)
        return
    except msgspec.DecodeError as exc:
        await _answer(scope, send, jsonrpc.error(None, jsonrpc.PARSE_ERROR, f"parse error: {exc}"), 400)
        return
    problem = message.problem()
    if problem is not None:
        request_id = message.id if isinstance(message.id, (int, str)) else None
        text = f"invalid request: {problem}"
        await _answer(scope, send, jsonrpc.error(request_id, jsonrpc.INVALID_REQUEST, text), 400)
        return
    version = header(scope, b"mcp-protocol-version")
    if (
        version is not None
        and version.decode("latin-1") not in SUPPORTED_VERSIONS
        and message.method in METHODS
        and message.method != "initialize"
        and isinstance(message.id, (int, str))
    ):
        text = f"unsupported MCP-Protocol-Version {version.decode('latin-1')!r}; supported: {_SUPPORTED}"
        await _answer(scope, send, jsonrpc.error(message.id, jsonrpc.INVALID_REQUEST, text), 400)
        return
    dispatcher: Dispatcher = app_state.dispatcher
    answer = await dispatcher.handle(message)
    if answer is None:
        await reply(send, 202, b"", content_type=None)
    else:
        await _answer(scope, send, answer)


mcp_handlers = [mcp_endpoint]
