"""``POST /mcp/call``: the tools over plain REST, for benchmarks and scripts that do not speak MCP.

Unlike the original, a failure is never a 200: bad arguments → 400, unknown tool or runbook → 404, retrieval
failing → 502, retrieval unreachable or its breaker open → 503.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request, Response, post

if TYPE_CHECKING:
    from services.gateway.calls import Kind, ToolCaller

__all__ = ("CallRequest", "rest_handlers")

_STATUS: dict[Kind, int] = {
    "ok": 200,
    "invalid_arguments": 400,
    "unknown_tool": 404,
    "not_found": 404,
    "failed": 502,
    "unavailable": 503,
}


class CallRequest(msgspec.Struct, forbid_unknown_fields=True):
    tool: str
    arguments: msgspec.Raw = msgspec.Raw(b"{}")


class _Failure(msgspec.Struct):
    code: str
    message: str


class _CallResponse(msgspec.Struct, omit_defaults=True):
    success: bool
    execution_time_ms: float
    timestamp: datetime
    data: msgspec.Raw | None = None
    error: _Failure | None = None


_decode = msgspec.json.Decoder(CallRequest).decode
_encode = msgspec.json.Encoder().encode


@post("/mcp/call", status_code=200)
async def call_tool(request: Request[Any, Any, Any]) -> Response[bytes]:
    started = time.perf_counter()
    caller: ToolCaller = request.app.state.caller
    try:
        call = _decode(await request.body())
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        return _respond(started, 400, error=_Failure("invalid_request", f'expected {{"tool", "arguments"}}: {exc}'))
    outcome = await caller.call(call.tool, bytes(call.arguments))
    if outcome.ok:
        return _respond(started, 200, data=msgspec.Raw(outcome.body))
    return _respond(started, _STATUS[outcome.kind], error=_Failure(outcome.kind, outcome.message))


def _respond(
    started: float, status: int, data: msgspec.Raw | None = None, error: _Failure | None = None
) -> Response[bytes]:
    body = _CallResponse(
        success=error is None,
        execution_time_ms=round((time.perf_counter() - started) * 1000, 3),
        timestamp=datetime.now(UTC),
        data=data,
        error=error,
    )
    return Response(_encode(body), status_code=status, media_type="application/json")


rest_handlers = [call_tool]
