"""HTTP handlers of the internal ``/v1`` API: decode the body, call the service, send its bytes.

Bodies are decoded here with one prebuilt msgspec decoder per request type, so a bad body is answered with 400 and a
message naming the field (``Expected `str`, got `int` - at `$.alert_type` ``) and never reaches the service.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
from litestar import Request, Response, asgi, get

from services.common.asgi import BodyTooLarge, ClientDisconnected, read_body, reply
from services.retrieval.errors import InvalidRequestError, NotFoundError
from services.retrieval.health import run_checks
from services.retrieval.schemas import (
    TOOL_PATHS,
    DecisionTreeRequest,
    ErrorResponse,
    EscalationRequest,
    FeedbackRequest,
    HealthResponse,
    KnowledgeBaseRequest,
    ListSourcesRequest,
    ProcedureRequest,
    SearchRunbooksRequest,
)
from services.retrieval.service import Answer, RetrievalService

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from litestar.handlers import ASGIRouteHandler, HTTPRouteHandler
    from litestar.types import Receive, Scope, Send

__all__ = ("MAX_BODY_BYTES", "routes")

log = logging.getLogger(__name__)
T = TypeVar("T", bound=msgspec.Struct)
_JSON = "application/json"
MAX_BODY_BYTES = 1024 * 1024
_encode = msgspec.json.Encoder().encode


def _error(code: str, message: str) -> bytes:
    return _encode(ErrorResponse(error=code, message=message))  # type: ignore[arg-type]


def _tool(tool: str, body_type: type[T], call: Callable[[RetrievalService, T], Awaitable[Answer]]) -> ASGIRouteHandler:
    """A POST route for one tool, as a plain ASGI handler: this path is the service's hot path."""
    decode = msgspec.json.Decoder(body_type).decode

    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") != "POST":
            await reply(send, 405, _error("invalid_request", f"{tool} takes POST"), extra=[(b"allow", b"POST")])
            return
        try:
            raw = await read_body(scope, receive, MAX_BODY_BYTES)
        except BodyTooLarge:
            await reply(send, 413, _error("invalid_request", f"request body exceeds {MAX_BODY_BYTES} bytes"))
            return
        except ClientDisconnected:
            return
        try:
            body = decode(raw or b"{}")
        except msgspec.ValidationError as exc:  # a subclass of DecodeError: test it first
            await reply(send, 400, _error("invalid_request", f"invalid {tool} arguments: {exc}"))
            return
        except msgspec.DecodeError as exc:
            await reply(send, 400, _error("invalid_request", f"request body is not valid JSON: {exc}"))
            return
        try:
            answer = await call(scope["app"].state.service, body)
        except NotFoundError as exc:
            await reply(send, 404, _error("not_found", str(exc)))
            return
        except InvalidRequestError as exc:
            await reply(send, 400, _error("invalid_request", str(exc)))
            return
        await reply(send, 200, answer.body, extra=[(b"x-cache", answer.cache.encode())] if answer.cache else ())

    handler.__name__ = tool
    return asgi(TOOL_PATHS[tool], name=tool, copy_scope=False)(handler)


def _service(request: Request[Any, Any, Any]) -> RetrievalService:
    service: RetrievalService = request.app.state.service
    return service


@get("/health")
async def health(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Every dependency checked; 503 when any is down (the service still answers from L1 and the index)."""
    checks = await run_checks(_service(request), request.app.state.redis)
    healthy = all(c.healthy for c in checks)
    body = _encode(HealthResponse(status="healthy" if healthy else "degraded", checks=checks))
    return Response(body, status_code=200 if healthy else 503, media_type=_JSON)


@get("/ready")
async def ready(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Ready once the corpus is indexed and the feedback store is open: what answering needs (Redis is optional)."""
    service: RetrievalService | None = getattr(request.app.state, "service", None)
    if service is None:
        return Response(b'{"status":"starting"}', status_code=503, media_type=_JSON)
    body = {"status": "ready", "runbooks": len(service.corpus.runbooks), "articles": len(service.corpus.articles)}
    return Response(_encode(body), media_type=_JSON)


@get("/metrics")
async def prometheus_metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    body, content_type = request.app.state.telemetry.prometheus_text()
    return Response(body, media_type=content_type)


@get("/v1/cache/stats")
async def cache_stats(request: Request[Any, Any, Any]) -> Response[bytes]:
    return Response(_encode(_service(request).cache.stats()), media_type=_JSON)


routes: list[HTTPRouteHandler | ASGIRouteHandler] = [
    _tool("search_runbooks", SearchRunbooksRequest, RetrievalService.search_runbooks),
    _tool("get_decision_tree", DecisionTreeRequest, RetrievalService.decision_tree),
    _tool("get_procedure", ProcedureRequest, RetrievalService.procedure),
    _tool("get_escalation_path", EscalationRequest, RetrievalService.escalation),
    _tool("list_sources", ListSourcesRequest, RetrievalService.list_sources),
    _tool("search_knowledge_base", KnowledgeBaseRequest, RetrievalService.search_knowledge_base),
    _tool("record_resolution_feedback", FeedbackRequest, RetrievalService.record_feedback),
    health,
    ready,
    cache_stats,
    prometheus_metrics,
]
