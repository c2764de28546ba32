"""The rules of MCP Streamable HTTP at ``/mcp``, one raw request at a time (no SDK to smooth anything over).

Each rule is either in the 2025-11-25 spec or comes from clients that broke on servers that got it wrong
(``shared/reference/mcp-anchors.md`` §1.1 and §7): notifications → 202 empty; GET/DELETE → 405; a foreign Origin
→ 403; a batch → 400 ``-32600``; bad JSON → 400 ``-32700`` with ``id: null``; unknown methods (``server/discover``
included) → ``-32601``; a stray session id ignored; ``initialize`` never refused for its version; an unsupported
``MCP-Protocol-Version`` → 400; the body limit → 413; the bearer token → 401; SSE-only clients get one event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx2
import msgspec
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from services.gateway.tools import TOOLS
from tests.support.processes import gateway_process, start_gateway_process

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from tests.support.http import JsonClient
    from tests.support.processes import ServiceProcess, Stack

pytestmark = pytest.mark.redis

MAX_BODY = 32 * 1024
EXTRA_ORIGIN = "https://agents.example.com"
TOKEN = "t0ken-for-the-gateway-tests"
JSON = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
INITIALIZE_PARAMS = {"capabilities": {}, "clientInfo": {"name": "raw-test", "version": "1.0"}}


@pytest.fixture(scope="module")
def gateway_env() -> dict[str, str]:
    return {"PP_MAX_BODY_BYTES": str(MAX_BODY), "PP_ALLOWED_ORIGINS": f" {EXTRA_ORIGIN}/ , https://other.example"}


@pytest.fixture(scope="module")
def token_gateway(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """A second gateway, in front of the same retrieval, that wants ``Authorization: Bearer TOKEN``."""
    service = gateway_process(
        tmp_path_factory.mktemp("token-gateway") / "gateway.log", stack.retrieval.url, {"PP_API_TOKEN": TOKEN}
    )
    try:
        yield start_gateway_process(service)
    finally:
        service.stop()


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    """Header names lower-cased."""
    raw: bytes

    def json(self) -> Any:
        return msgspec.json.decode(self.raw)


async def send(
    http: JsonClient,
    url: str,
    body: object = None,
    *,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
    method: str = "POST",
) -> Answer:
    data = raw if raw is not None else (msgspec.json.encode(body) if body is not None else None)
    async with http.session.request(method, url, data=data, headers={**JSON, **(headers or {})}) as response:
        payload = await response.read()
        return Answer(response.status, {k.lower(): v for k, v in response.headers.items()}, payload)


def request(method: str, params: object = None, request_id: int | str = 1) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


PING = request("ping")


def result_of(answer: Answer, request_id: int | str = 1) -> Any:
    assert answer.status == 200, (answer.status, answer.raw)
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert body["jsonrpc"] == "2.0"
    assert body["id"] == request_id
    assert "error" not in body, body
    return body["result"]


def error_of(answer: Answer, status: int, code: int) -> dict[str, Any]:
    assert answer.status == status, (answer.status, answer.raw)
    body = answer.json()
    assert body["jsonrpc"] == "2.0"
    assert "result" not in body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return {**error, "id": body["id"]}


async def test_ping_is_an_empty_result(stack: Stack, http: JsonClient) -> None:
    assert result_of(await send(http, stack.mcp_url, PING)) == {}
    assert result_of(await send(http, stack.mcp_url, request("ping", request_id="a-string-id")), "a-string-id") == {}


@pytest.mark.parametrize(
    "message",
    [
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 7, "reason": "test"}},
        {"jsonrpc": "2.0", "method": "notifications/no-such-thing"},
        {"jsonrpc": "2.0", "id": 9, "result": {}},  # a response (to a request we never sent): accepted all the same
        {"jsonrpc": "2.0", "id": 9, "error": {"code": -1, "message": "client-side failure"}},
    ],
    ids=["initialized", "cancelled", "unknown-notification", "response", "error-response"],
)
async def test_notifications_and_responses_get_202_and_no_body(
    stack: Stack, http: JsonClient, message: dict[str, Any]
) -> None:
    answer = await send(http, stack.mcp_url, message)
    assert answer.status == 202
    assert answer.raw == b""


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_get_and_delete_are_405(stack: Stack, http: JsonClient, method: str) -> None:
    answer = await send(http, stack.mcp_url, method=method, headers={"accept": "text/event-stream"})
    assert answer.status == 405
    assert "POST" in answer.headers.get("allow", "")


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example.com",
        "https://evil.example.com:443",
        "http://localhost.evil.example.com",
        "http://127.0.0.1.evil.example.com",
        "http://localhost@evil.example.com",
        "http://localhost:1234@evil.example.com",
        "null",
        "file://",
        "https://other.example.org",
    ],
)
async def test_foreign_origin_is_403(stack: Stack, http: JsonClient, origin: str) -> None:
    for url, body in ((stack.mcp_url, PING), (stack.call_url, {"tool": "list_sources"})):
        answer = await send(http, url, body, headers={"origin": origin})
        assert answer.status == 403, (url, origin, answer.raw)
        assert answer.json()["id"] is None


@pytest.mark.parametrize(
    "origin",
    [
        None,
        "http://localhost:1234",
        "http://localhost",
        "http://127.0.0.1:6274",
        "http://[::1]:8080",
        "https://localhost:8443",
        EXTRA_ORIGIN,
        "https://AGENTS.example.com",
        "https://other.example",
    ],
)
async def test_loopback_configured_or_no_origin_passes(stack: Stack, http: JsonClient, origin: str | None) -> None:
    headers = {"origin": origin} if origin is not None else {}
    assert result_of(await send(http, stack.mcp_url, PING, headers=headers)) == {}


@pytest.mark.parametrize(
    "raw", [b"[]", json.dumps([PING]).encode(), json.dumps([PING, request("ping", request_id=2)]).encode()]
)
async def test_batch_is_400_invalid_request(stack: Stack, http: JsonClient, raw: bytes) -> None:
    error = error_of(await send(http, stack.mcp_url, raw=raw), 400, -32600)
    assert error["id"] is None


@pytest.mark.parametrize(
    "raw",
    [b'{"jsonrpc": "2.0", "id": 1, "method": "ping"', b"not json", b"", b'{"jsonrpc":"2.0","id":1,"method":"ping"}{}'],
    ids=["truncated", "text", "empty", "trailing"],
)
async def test_invalid_json_is_400_parse_error_with_null_id(stack: Stack, http: JsonClient, raw: bytes) -> None:
    answer = await send(http, stack.mcp_url, raw=raw)
    error = error_of(answer, 400, -32700)
    assert error["id"] is None
    assert b'"id":null' in answer.raw.replace(b" ", b""), "id must be present and null, not left out"


@pytest.mark.parametrize(
    ("message", "fault"),
    [
        ({"id": 1, "method": "ping"}, "jsonrpc"),
        ({"jsonrpc": "1.0", "id": 1, "method": "ping"}, "jsonrpc"),
        ({"jsonrpc": "2.0", "id": None, "method": "ping"}, "id"),
        ({"jsonrpc": "2.0", "id": True, "method": "ping"}, "id"),
        ({"jsonrpc": "2.0", "id": 1, "method": 5}, "method"),
        ("ping", "object"),
    ],
)
async def test_malformed_request_is_400_invalid_request(
    stack: Stack, http: JsonClient, message: object, fault: str
) -> None:
    error = error_of(await send(http, stack.mcp_url, message), 400, -32600)
    assert fault in error["message"]


@pytest.mark.parametrize(
    "method", ["server/discover", "resources/list", "prompts/list", "logging/setLevel", "completion/complete", "x"]
)
async def test_unknown_methods_are_method_not_found(stack: Stack, http: JsonClient, method: str) -> None:
    error = error_of(await send(http, stack.mcp_url, request(method, {}, request_id=42)), 200, -32601)
    assert error["id"] == 42
    assert method in error["message"]


async def test_server_discover_probe_of_a_2026_client_gets_method_not_found(stack: Stack, http: JsonClient) -> None:
    """What ``mcp`` 2.x ``mode="auto"`` sends first; a -32601 is what makes it fall back to ``initialize``."""
    headers = {"mcp-protocol-version": "2026-07-28", "mcp-method": "server/discover"}
    answer = await send(http, stack.mcp_url, request("server/discover", {}), headers=headers)
    error_of(answer, 200, -32601)


async def test_stray_session_id_is_ignored_and_none_is_issued(stack: Stack, http: JsonClient) -> None:
    headers = {"mcp-session-id": "a-session-from-some-other-server"}
    initialize = request("initialize", {"protocolVersion": "2025-11-25", **INITIALIZE_PARAMS})
    for message in (initialize, request("tools/list"), PING):
        answer = await send(http, stack.mcp_url, message, headers=headers)
        result_of(answer)
        assert "mcp-session-id" not in answer.headers, "a stateless server issues no session id"
    notified = await send(http, stack.mcp_url, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert notified.status == 202
    assert "mcp-session-id" not in notified.headers


@pytest.mark.parametrize(
    ("asked", "answered"),
    [("2099-01-01", "2025-11-25"), ("2025-11-25", "2025-11-25"), ("2025-06-18", "2025-06-18"), ("1.0", "2025-11-25")],
)
async def test_initialize_answers_a_version_it_speaks(
    stack: Stack, http: JsonClient, asked: str, answered: str
) -> None:
    answer = await send(http, stack.mcp_url, request("initialize", {"protocolVersion": asked, **INITIALIZE_PARAMS}))
    result = result_of(answer)
    assert result["protocolVersion"] == answered
    assert result["capabilities"] == {"tools": {"listChanged": False}}
    assert result["serverInfo"]["name"] == "personal-pipeline"
    assert result["serverInfo"]["version"]


async def test_initialize_is_not_refused_for_its_version_header(stack: Stack, http: JsonClient) -> None:
    """The header is validated only after ``initialize``; the handshake itself must still work."""
    params = {"protocolVersion": "2099-01-01", **INITIALIZE_PARAMS}
    answer = await send(
        http, stack.mcp_url, request("initialize", params), headers={"mcp-protocol-version": "2099-01-01"}
    )
    assert result_of(answer)["protocolVersion"] == "2025-11-25"


@pytest.mark.parametrize("version", ["2099-01-01", "2024-11-05", "2026-07-28", "latest"])
async def test_unsupported_protocol_version_header_is_400(stack: Stack, http: JsonClient, version: str) -> None:
    for message in (request("tools/list"), request("tools/call", {"name": "list_sources", "arguments": {}}), PING):
        answer = await send(http, stack.mcp_url, message, headers={"mcp-protocol-version": version})
        assert answer.status == 400, (version, message["method"], answer.raw)
        error = answer.json()["error"]
        assert version in error["message"]


@pytest.mark.parametrize("version", ["2025-11-25", "2025-06-18", "2025-03-26"])
async def test_supported_protocol_version_header_passes(stack: Stack, http: JsonClient, version: str) -> None:
    answer = await send(http, stack.mcp_url, request("tools/list"), headers={"mcp-protocol-version": version})
    assert [tool["name"] for tool in result_of(answer)["tools"]] == list(TOOLS)


def padded_ping(size: int) -> bytes:
    """A valid ping of exactly ``size`` bytes (the padding is an ignored ``_meta`` entry)."""
    empty = msgspec.json.encode({**PING, "params": {"_meta": {"pad": ""}}})
    return msgspec.json.encode({**PING, "params": {"_meta": {"pad": "x" * (size - len(empty))}}})


async def test_body_over_the_limit_is_413(stack: Stack, http: JsonClient) -> None:
    at_limit = padded_ping(MAX_BODY)
    assert len(at_limit) == MAX_BODY
    assert result_of(await send(http, stack.mcp_url, raw=at_limit)) == {}
    assert (await send(http, stack.mcp_url, raw=padded_ping(MAX_BODY + 1))).status == 413
    assert (await send(http, stack.mcp_url, raw=padded_ping(4 * MAX_BODY))).status == 413
    rest = msgspec.json.encode({"tool": "search_knowledge_base", "arguments": {"query": "q" * (2 * MAX_BODY)}})
    assert (await send(http, stack.call_url, raw=rest)).status == 413


async def test_chunked_body_over_the_limit_is_413(stack: Stack, http: JsonClient) -> None:
    """Without a Content-Length the limit must still hold while the body streams in."""
    body = padded_ping(4 * MAX_BODY)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    async with http.session.post(stack.mcp_url, data=chunks(), headers=JSON) as response:
        assert response.status == 413


async def test_event_stream_only_client_gets_one_sse_message(stack: Stack, http: JsonClient) -> None:
    answer = await send(
        http, stack.mcp_url, request("tools/list", request_id=5), headers={"accept": "text/event-stream"}
    )
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    events = [block for block in answer.raw.decode().split("\n\n") if block.strip()]
    assert len(events) == 1
    lines = events[0].split("\n")
    assert lines[0] == "event: message"
    data = "".join(line.removeprefix("data:").lstrip() for line in lines[1:] if line.startswith("data:"))
    reply = json.loads(data)
    assert reply["id"] == 5
    assert [tool["name"] for tool in reply["result"]["tools"]] == list(TOOLS)


@pytest.mark.parametrize("accept", ["application/json", "*/*", "application/json, text/event-stream", "text/html", ""])
async def test_json_for_every_other_accept(stack: Stack, http: JsonClient, accept: str) -> None:
    """Lenient on Accept (clients sending only ``application/json`` broke on strict servers): JSON unless SSE-only."""
    answer = await send(http, stack.mcp_url, PING, headers={"accept": accept})
    assert result_of(answer) == {}


async def test_tools_call_params_are_checked(stack: Stack, http: JsonClient) -> None:
    missing_name = await send(http, stack.mcp_url, request("tools/call", {"arguments": {}}))
    assert "name" in error_of(missing_name, 200, -32602)["message"]
    no_params = await send(http, stack.mcp_url, request("tools/call"))
    error_of(no_params, 200, -32602)
    unknown = await send(http, stack.mcp_url, request("tools/call", {"name": "rm_rf", "arguments": {}}))
    assert "rm_rf" in error_of(unknown, 200, -32602)["message"]
    not_an_object = await send(http, stack.mcp_url, request("tools/call", {"name": "list_sources", "arguments": []}))
    result = result_of(not_an_object)
    assert result["isError"] is True
    assert "structuredContent" not in result


# --- bearer token ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Bearer wrong", f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN, f"Token {TOKEN}"],
)
async def test_missing_or_wrong_token_is_401(
    token_gateway: ServiceProcess, http: JsonClient, authorization: str | None
) -> None:
    headers = {"authorization": authorization} if authorization is not None else {}
    for url, body in ((token_gateway.url + "/mcp", PING), (token_gateway.url + "/mcp/call", {"tool": "list_sources"})):
        answer = await send(http, url, body, headers=headers)
        assert answer.status == 401, (url, authorization)
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert TOKEN not in answer.raw.decode()


async def test_right_token_is_200(token_gateway: ServiceProcess, http: JsonClient) -> None:
    headers = {"authorization": f"Bearer {TOKEN}"}
    assert result_of(await send(http, token_gateway.url + "/mcp", PING, headers=headers)) == {}
    rest = await send(http, token_gateway.url + "/mcp/call", {"tool": "list_sources"}, headers=headers)
    assert rest.status == 200
    assert rest.json()["success"] is True


async def test_bearer_scheme_is_case_insensitive(token_gateway: ServiceProcess, http: JsonClient) -> None:
    """RFC 9110 §11.1: the auth scheme is a case-insensitive token; some clients send ``bearer``."""
    answer = await send(http, token_gateway.url + "/mcp", PING, headers={"authorization": f"bearer {TOKEN}"})
    assert answer.status == 200, (
        f"gateway bug (services/gateway/guard.py, Guard.__call__): 'Authorization: bearer <token>' got "
        f"{answer.status}; the scheme must match case-insensitively"
    )


async def test_probes_need_no_token(token_gateway: ServiceProcess, http: JsonClient) -> None:
    """Liveness/readiness probes carry no credentials, and ``python -m services`` polls ``/ready`` without one."""
    for path in ("/live", "/ready"):
        status = (await send(http, token_gateway.url + path, method="GET")).status
        assert status == 200, (
            f"gateway bug (services/gateway/guard.py): GET {path} without a token got {status}, so the "
            f"launcher's wait_ready (services/launch/readiness.py, no credentials) never sees the gateway ready "
            f"when PP_API_TOKEN is set: `PP_API_TOKEN=x python -m services` fails after --ready-timeout"
        )


async def test_official_client_with_token(token_gateway: ServiceProcess) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http_client,
        Client(streamable_http_client(token_gateway.url + "/mcp", http_client=http_client), mode="legacy") as client,
    ):
        assert [tool.name for tool in (await client.list_tools()).tools] == list(TOOLS)
        result = await client.call_tool("list_sources", {"include_health": False})
        assert result.is_error is not True
