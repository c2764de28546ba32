"""The telemetry contract: every span name, attribute key, metric name and bucket bound the validator relies on.

Services emit these names and the validator (``loadtests``) reads them back; both import them from here, so a rename
is one edit and a test run, never a silent mismatch. Names follow the OpenTelemetry semantic conventions (stable
HTTP, MCP, cache) where one exists; ours carry the ``pp.`` prefix.
"""

from __future__ import annotations

from typing import Final

# --- resources --------------------------------------------------------------------------------------------------

GATEWAY_SERVICE: Final = "pp-gateway"
RETRIEVAL_SERVICE: Final = "pp-retrieval"
INSTRUMENTATION_SCOPE: Final = "personal-pipeline"

# --- spans ------------------------------------------------------------------------------------------------------

TOOL_CALL_SPAN: Final = "tools/call {tool}"
"""INTERNAL span of one MCP ``tools/call`` in the gateway (``.format(tool=...)``)."""
CACHE_SPAN: Final = "cache.get"
"""INTERNAL span of one cache-tier lookup in retrieval, with ``cache.tier`` and ``cache.hit``."""
SEARCH_SPAN: Final = "search {index}"
"""INTERNAL span of one index search (``runbooks`` or ``knowledge_base``), with ``pp.search.results``."""

# Attribute keys (semantic conventions)
HTTP_REQUEST_METHOD: Final = "http.request.method"
HTTP_ROUTE: Final = "http.route"
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"
URL_PATH: Final = "url.path"
URL_SCHEME: Final = "url.scheme"
URL_FULL: Final = "url.full"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
ERROR_TYPE: Final = "error.type"
MCP_METHOD_NAME: Final = "mcp.method.name"
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
JSONRPC_REQUEST_ID: Final = "jsonrpc.request.id"
CACHE_TIER: Final = "cache.tier"
"""``l1`` (in process) or ``l2`` (Redis)."""
CACHE_HIT: Final = "cache.hit"

# Attribute keys (ours)
TOOL_OUTCOME: Final = "pp.tool.outcome"
"""``ok``, ``invalid_arguments``, ``unknown_tool``, ``not_found``, ``unavailable`` or ``failed``."""
CACHE_CONTENT_TYPE: Final = "pp.cache.content_type"
CACHE_RESULT: Final = "pp.cache.result"
"""``hit`` or ``miss``."""
SEARCH_RESULTS: Final = "pp.search.results"
RUN_ID: Final = "pp.run.id"
"""The load generator's run id, carried in W3C ``baggage`` and copied onto server spans."""
SCENARIO: Final = "pp.scenario"

BAGGAGE_RUN_ID: Final = "pp.run_id"
BAGGAGE_SCENARIO: Final = "pp.scenario"
BAGGAGE_VU: Final = "pp.vu"

# --- metrics ----------------------------------------------------------------------------------------------------

HTTP_SERVER_DURATION: Final = "http.server.request.duration"
HTTP_CLIENT_DURATION: Final = "http.client.request.duration"
MCP_SERVER_DURATION: Final = "mcp.server.operation.duration"
CACHE_REQUESTS: Final = "pp.cache.requests"
PROCESS_MEMORY: Final = "process.memory.usage"
PROCESS_CPU_UTILIZATION: Final = "process.cpu.utilization"
PROCESS_OPEN_FILES: Final = "process.open_file_descriptor.count"
SPANS_DROPPED: Final = "pp.telemetry.spans.dropped"

DURATION_BUCKETS_S: Final = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.2,
    0.5,
    1.0,
    2.0,
    5.0,
    10.0,
)
"""Histogram bounds in seconds, with a bound exactly at every target (0.2, 0.5, 1 and 2 s) and finer below, so the
share of requests under a target is exact rather than interpolated."""

DURATION_HISTOGRAMS: Final = (HTTP_SERVER_DURATION, HTTP_CLIENT_DURATION, MCP_SERVER_DURATION)
