"""Calling a tool, for every front door (MCP over HTTP, MCP over stdio, REST): validate, ask retrieval, classify.

Arguments are validated here, with the tool's own Struct, before anything goes over the network: a bad argument is
answered with msgspec's message naming the field, and retrieval only ever sees valid requests. The validated bytes
are forwarded as they came, since retrieval decodes them with the same Struct.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import msgspec
from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel import contract
from services.gateway.retrieval_client import RetrievalUnavailable
from services.gateway.tools import TOOLS
from services.retrieval.schemas import ErrorResponse

if TYPE_CHECKING:
    from services.gateway.performance import PerformanceWindow
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
    def __init__(self, retrieval: RetrievalClient, window: PerformanceWindow | None = None) -> None:
        self._retrieval = retrieval
        self._window = window
        self._decoders = {name: msgspec.json.Decoder(spec.arguments).decode for name, spec in TOOLS.items()}
        self._tracer = trace.get_tracer(contract.INSTRUMENTATION_SCOPE)
        self._duration = metrics.get_meter(contract.INSTRUMENTATION_SCOPE).create_histogram(
            contract.MCP_SERVER_DURATION, unit="s", description="Duration of MCP tool calls, per tool and outcome."
        )

    def spec(self, name: str) -> ToolSpec | None:
        return TOOLS.get(name)

    async def call(self, name: str, arguments: bytes, request_id: int | str | None = None) -> Outcome:
        """Call tool ``name`` with its arguments as JSON (``b"{}"`` or empty for none), traced and timed."""
        started = time.perf_counter()
        tool = name if name in TOOLS else "_unknown"  # a client's typo must not become a metric series
        attributes: dict[str, str] = {contract.MCP_METHOD_NAME: "tools/call", contract.GEN_AI_TOOL_NAME: tool}
        if request_id is not None:
            attributes[contract.JSONRPC_REQUEST_ID] = str(request_id)
        with self._tracer.start_as_current_span(
            contract.TOOL_CALL_SPAN.format(tool=tool), kind=SpanKind.INTERNAL, attributes=attributes
        ) as span:
            outcome = await self._call(name, arguments)
            span.set_attribute(contract.TOOL_OUTCOME, outcome.kind)
            if not outcome.ok:
                span.set_attribute(contract.ERROR_TYPE, outcome.kind)
                span.set_status(Status(StatusCode.ERROR, outcome.message[:200]))
        elapsed = time.perf_counter() - started
        labels = {contract.MCP_METHOD_NAME: "tools/call", contract.GEN_AI_TOOL_NAME: tool}
        labels[contract.TOOL_OUTCOME] = outcome.kind
        if not outcome.ok:
            labels[contract.ERROR_TYPE] = outcome.kind
        self._duration.record(elapsed, labels)
        if self._window is not None:
            self._window.record(tool, elapsed, outcome.ok, outcome.cache)
        return outcome

    async def _call(self, name: str, arguments: bytes) -> Outcome:
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
