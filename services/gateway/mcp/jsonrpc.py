"""JSON-RPC 2.0 envelopes as MCP uses them: one decoder for every incoming message, error codes, encoders.

``params`` stays raw (``msgspec.Raw``) until the method is known, so a tool's arguments are decoded once, straight
into the Struct that validates them.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

__all__ = (
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "Message",
    "RequestId",
    "decode_message",
    "error",
    "result",
)

PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603

RequestId = int | str


class Message(msgspec.Struct, kw_only=True):
    """Any JSON-RPC message; which fields are present says whether it is a request, notification or response."""

    jsonrpc: str | msgspec.UnsetType = msgspec.UNSET
    method: str | msgspec.UnsetType = msgspec.UNSET
    id: RequestId | msgspec.UnsetType | None = msgspec.UNSET
    params: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    result: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    error: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET

    @property
    def is_notification(self) -> bool:
        return self.id is msgspec.UNSET and isinstance(self.method, str)

    @property
    def is_response(self) -> bool:
        return self.method is msgspec.UNSET and (self.result is not msgspec.UNSET or self.error is not msgspec.UNSET)

    def problem(self) -> str | None:
        """Why this is not a valid request or notification, or None when it is one."""
        if self.jsonrpc != "2.0":
            return 'jsonrpc must be "2.0"'
        if self.is_response:
            return None
        if not isinstance(self.method, str):
            return "method must be a string"
        if self.id is None:
            return "id must be a string or an integer, never null"
        return None


_decode = msgspec.json.Decoder(Message).decode
_encode = msgspec.json.Encoder().encode


def decode_message(body: bytes) -> Message:
    """Decode one message.

    Raises ``msgspec.DecodeError`` when the body is not JSON and ``msgspec.ValidationError`` when it is not one
    object or a field has the wrong type.
    """
    return _decode(body)


class _Error(msgspec.Struct, omit_defaults=True):
    code: int
    message: str
    data: Any = None


class _ErrorResponse(msgspec.Struct):
    jsonrpc: str
    id: RequestId | None
    error: _Error


class _ResultResponse(msgspec.Struct):
    jsonrpc: str
    id: RequestId
    result: Any


def error(request_id: RequestId | None, code: int, message: str, data: Any = None) -> bytes:
    return _encode(_ErrorResponse("2.0", request_id, _Error(code, message, data)))


def result(request_id: RequestId, value: Any) -> bytes:
    """Encode a result; ``value`` may be any encodable object, including ``msgspec.Raw`` JSON."""
    return _encode(_ResultResponse("2.0", request_id, value))
