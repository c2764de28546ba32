"""MCP over stdio: one JSON-RPC message per line on stdin, one reply per request line on stdout.

stdout carries protocol messages only (logging is configured to stderr before this runs); the loop ends when stdin
closes, which is how clients ask a stdio server to exit.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING

import msgspec

from services.gateway.mcp import jsonrpc

if TYPE_CHECKING:
    from services.gateway.mcp.dispatch import Dispatcher

__all__ = ("serve_stdio",)

_MAX_LINE = 16 * 1024 * 1024


async def serve_stdio(dispatcher: Dispatcher) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=_MAX_LINE)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, sys.stdout)
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    try:
        while (line := await _next_line(reader)) is not None:
            if line is _TOO_LONG:
                reply: bytes | None = jsonrpc.error(None, jsonrpc.INVALID_REQUEST, f"message over {_MAX_LINE} bytes")
            elif not line.strip():
                continue
            else:
                reply = await _reply(dispatcher, line)
            if reply is not None:
                writer.write(reply + b"\n")
                await writer.drain()
    finally:
        writer.close()


_TOO_LONG = b"<too long>"


async def _next_line(reader: asyncio.StreamReader) -> bytes | None:
    """The next line, ``_TOO_LONG`` for a line over the limit (skipped whole), None at end of input."""
    try:
        return await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        return exc.partial or None
    except asyncio.LimitOverrunError as exc:
        consumed = exc.consumed
    while True:  # drop the oversized line, up to and including its newline
        await reader.readexactly(consumed)
        try:
            await reader.readuntil(b"\n")
        except asyncio.LimitOverrunError as again:
            consumed = again.consumed
            continue
        except asyncio.IncompleteReadError:
            return None
        return _TOO_LONG


async def _reply(dispatcher: Dispatcher, line: bytes) -> bytes | None:
    try:
        message = jsonrpc.decode_message(line)
    except msgspec.ValidationError as exc:  # a subclass of DecodeError: test it first
        return jsonrpc.error(
            None, jsonrpc.INVALID_REQUEST, f"invalid request: a single JSON-RPC object is expected ({exc})"
        )
    except msgspec.DecodeError as exc:
        return jsonrpc.error(None, jsonrpc.PARSE_ERROR, f"parse error: {exc}")
    return await dispatcher.handle(message)
