"""``/health`` (retrieval reachable, 503 otherwise), ``/ready`` (started) and ``/live`` (the process answers)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request, Response, get

from services.retrieval.schemas import HealthCheck, HealthResponse

if TYPE_CHECKING:
    from services.gateway.retrieval_client import RetrievalClient

__all__ = ("health_handlers",)

_encode = msgspec.json.Encoder().encode
_JSON = "application/json"


@get("/health")
async def health(request: Request[Any, Any, Any]) -> Response[bytes]:
    retrieval: RetrievalClient = request.app.state.retrieval
    started = time.perf_counter()
    ok, detail = await retrieval.ready()
    check = HealthCheck(
        name="retrieval", healthy=ok, detail=detail, response_time_ms=round((time.perf_counter() - started) * 1000, 3)
    )
    body = _encode(HealthResponse(status="healthy" if ok else "degraded", checks=[check]))
    return Response(body, status_code=200 if ok else 503, media_type=_JSON)


@get("/ready")
async def ready(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Ready once the app has started; whether retrieval answers is /health's question (it may come up later)."""
    started = getattr(request.app.state, "dispatcher", None) is not None
    return Response(
        b'{"status":"ready"}' if started else b'{"status":"starting"}',
        status_code=200 if started else 503,
        media_type=_JSON,
    )


@get("/live")
async def live() -> Response[bytes]:
    return Response(b'{"status":"alive"}', media_type=_JSON)


health_handlers = [health, ready, live]
