"""MCP methods, independent of transport: the HTTP endpoint and the stdio loop both hand messages to ``Dispatcher``.

Protocol revision 2025-11-25, stateless: ``initialize`` answers with the client's version when we support it and
with ours otherwise (never an error: a newer client then decides), notifications get no reply, and every method we
do not implement — ``server/discover`` of the 2026 revision included — is ``-32601``, which is what makes dual-era
clients fall back to ``initialize``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import msgspec

from services.gateway.mcp import jsonrpc
from services.gateway.tools import TOOLS

if TYPE_CHECKING:
    from services.gateway.calls import ToolCaller
    from services.gateway.mcp.jsonrpc import Message, RequestId

__all__ = ("LATEST_VERSION", "METHODS", "SUPPORTED_VERSIONS", "Dispatcher", "ServerInfo")

LATEST_VERSION: Final = "2025-11-25"
SUPPORTED_VERSIONS: Final = frozenset({"2025-11-25", "2025-06-18", "2025-03-26"})
METHODS: Final = frozenset({"initialize", "ping", "tools/list", "tools/call"})

INSTRUCTIONS: Final = (
    "Incident-response knowledge. Start with search_runbooks for an alert (alert type, severity, affected systems), "
    "then get_decision_tree with the alert's metrics to pick an action, get_procedure for the step's commands, "
    "get_escalation_path when it is time to page someone, and record_resolution_feedback once resolved. "
    "search_knowledge_base answers free-text questions."
)


class ServerInfo(msgspec.Struct, frozen=True):
    name: str
    version: str
    title: str = "Personal Pipeline"


class _InitializeParams(msgspec.Struct):
    protocolVersion: str = LATEST_VERSION


class _CallParams(msgspec.Struct):
    name: str
    arguments: msgspec.Raw = msgspec.Raw(b"{}")


class _TextContent(msgspec.Struct):
    text: str
    type: str = "text"


class _CallResult(msgspec.Struct, omit_defaults=True):
    content: list[_TextContent]
    isError: bool
    structuredContent: msgspec.Raw | None = None


_decode_initialize = msgspec.json.Decoder(_InitializeParams).decode
_decode_call = msgspec.json.Decoder(_CallParams).decode


class Dispatcher:
    def __init__(self, caller: ToolCaller, info: ServerInfo) -> None:
        self._caller = caller
        self._info = info
        tools = [spec.definition() for spec in TOOLS.values()]
        self._tools_list = msgspec.Raw(msgspec.json.encode({"tools": tools}))

    async def handle(self, message: Message) -> bytes | None:
        """The encoded reply to ``message``, or None when it needs none (a notification or a response)."""
        problem = message.problem()
        if problem is not None:
            return jsonrpc.error(_id_of(message), jsonrpc.INVALID_REQUEST, f"invalid JSON-RPC message: {problem}")
        if message.is_response or message.is_notification:
            return None
        request_id: RequestId = message.id  # type: ignore[assignment]  # problem() ruled out UNSET and None
        params = message.params if message.params is not msgspec.UNSET else msgspec.Raw(b"{}")
        method = message.method
        if method == "tools/call":
            return await self._call(request_id, params)
        if method == "tools/list":
            return jsonrpc.result(request_id, self._tools_list)
        if method == "ping":
            return jsonrpc.result(request_id, {})
        if method == "initialize":
            return self._initialize(request_id, params)
        return jsonrpc.error(request_id, jsonrpc.METHOD_NOT_FOUND, f"method not found: {method}")

    def _initialize(self, request_id: RequestId, params: msgspec.Raw) -> bytes:
        try:
            requested = _decode_initialize(params).protocolVersion
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            return jsonrpc.error(request_id, jsonrpc.INVALID_PARAMS, f"invalid initialize params: {exc}")
        answer: dict[str, Any] = {
            "protocolVersion": requested if requested in SUPPORTED_VERSIONS else LATEST_VERSION,
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {"name": self._info.name, "title": self._info.title, "version": self._info.version},
            "instructions": INSTRUCTIONS,
        }
        return jsonrpc.result(request_id, answer)

    async def _call(self, request_id: RequestId, params: msgspec.Raw) -> bytes:
        try:
            call = _decode_call(params)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            return jsonrpc.error(request_id, jsonrpc.INVALID_PARAMS, f"invalid tools/call params: {exc}")
        if self._caller.spec(call.name) is None:
            return jsonrpc.error(request_id, jsonrpc.INVALID_PARAMS, f"unknown tool: {call.name}")
        outcome = await self._caller.call(call.name, bytes(call.arguments), request_id)
        if outcome.ok:
            text = outcome.body.decode()
            content = _CallResult([_TextContent(text)], isError=False, structuredContent=msgspec.Raw(outcome.body))
        else:
            content = _CallResult([_TextContent(outcome.message)], isError=True)
        return jsonrpc.result(request_id, content)


def _id_of(message: Message) -> RequestId | None:
    return message.id if isinstance(message.id, (int, str)) else None
