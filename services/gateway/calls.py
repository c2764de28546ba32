"""Calling a tool, for every front door (MCP over HTTP, MCP over stdio, REST): validate, ask retrieval, classify.

Arguments are validated here, with the tool's own Struct, before anything goes over the network: a bad argument is
answered with msgspec's message naming the field, and retrieval only ever sees valid requests. The validated bytes
are forwarded as they came, since retrieval decodes them with the same Struct.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import msgspec

from services.gateway.retrieval_client import RetrievalUnavailable
from services.gateway.tools import TOOLS
from services.retrieval.schemas import ErrorResponse

if TYPE_CHECKING:
    from services.gateway.retrieval_client import RetrievalClient
    from services.gateway.tools import ToolSpec

__all__ = ("Outcome", "ToolCaller")

Kind = Literal["ok", "invalid_arguments", "unknown_tool", "not_found", "unavailable", "failed"]

_decode_error = msgspec.json.Decoder(ErrorResponse).decode


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a tool call came to: ``body`` is the result JSON when ``kind`` is ok, else ``message`` says what to fix."""

    kind: Kind
    body: bytes = b""
    message: str = ""
    cache: str | None = None

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


class ToolCaller:
    def __init__(self, retrieval: RetrievalClient) -> None:
        self._retrieval = retrieval
        self._decoders = {name: msgspec.json.Decoder(spec.arguments).decode for name, spec in TOOLS.items()}

    def spec(self, name: str) -> ToolSpec | None:
        return TOOLS.get(name)

    async def call(self, name: str, arguments: bytes) -> Outcome:
        """Call tool ``name`` with its arguments as JSON (``b"{}"`` or empty for none)."""
        decode = self._decoders.get(name)
        if decode is None:
            known = ", ".join(TOOLS)
            return Outcome("unknown_tool", message=f"unknown tool {name!r}; the tools are: {known}")
        arguments = arguments or b"{}"
        try:
            decode(arguments)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            return Outcome("invalid_arguments", message=f"invalid arguments for {name}: {exc}")
        try:
            reply = await self._retrieval.post(TOOLS[name].path, arguments)
        except RetrievalUnavailable as exc:
            return Outcome("unavailable", message=str(exc))
        if reply.status == 200:
            return Outcome("ok", body=reply.body, cache=reply.cache)
        message = _error_message(reply.body, reply.status)
        if reply.status == 404:
            return Outcome("not_found", message=message)
        if reply.status in (400, 422):
            return Outcome("invalid_arguments", message=message)
        return Outcome("failed", message=message)


def _error_message(body: bytes, status: int) -> str:
    try:
        return _decode_error(body).message
    except (msgspec.ValidationError, msgspec.DecodeError):
        return f"retrieval answered HTTP {status}"
