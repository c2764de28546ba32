"""The VUs' lean clients: HTTP/1.1 keep-alive, MCP Streamable HTTP, and W3C trace context for every request."""

from __future__ import annotations

from loadtests.client.http import ERROR_CODES, HttpClient, PreparedRequest, Response
from loadtests.client.mcp import McpClient, McpError, RpcResult, ToolResult
from loadtests.client.tracecontext import BAGGAGE, TRACEPARENT, baggage_header, new_traceparent

__all__ = (
    "BAGGAGE",
    "ERROR_CODES",
    "TRACEPARENT",
    "HttpClient",
    "McpClient",
    "McpError",
    "PreparedRequest",
    "Response",
    "RpcResult",
    "ToolResult",
    "baggage_header",
    "new_traceparent",
)
