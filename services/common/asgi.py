"""Plain-ASGI helpers for the hot routes (``POST /mcp``, the retrieval tools).

Those routes are Litestar ``asgi`` handlers: routing, middleware and lifespan stay Litestar's, but the request and
response objects, which cost more CPU than the rest of the request together, are skipped. A request body is read
with a size limit, and a reply is two ASGI messages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from litestar.types import HTTPResponseBodyEvent, HTTPResponseStartEvent, Receive, Scope, Send

__all__ = ("BodyTooLarge", "ClientDisconnected", "header", "read_body", "reply")

JSON = b"application/json"


class BodyTooLarge(Exception):
    """The request body exceeds the limit (answer 413)."""


class ClientDisconnected(Exception):
    """The client went away before the body was read."""


def header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of header ``name`` (lower-case) in ``scope``."""
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    declared = header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnected
        chunk: bytes = message["body"]
        if chunk:
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def reply(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes | None = JSON,
    extra: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    """Send a complete response; ``content_type`` None for an empty body that has none (a 202, say)."""
    headers = [(b"content-length", str(len(body)).encode()), *extra]
    if content_type is not None:
        headers.append((b"content-type", content_type))
    start: HTTPResponseStartEvent = {"type": "http.response.start", "status": status, "headers": headers}
    await send(start)
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(end)
