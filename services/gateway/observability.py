"""``GET /metrics`` (Prometheus text), ``GET /performance`` and ``POST /performance/reset``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
import psutil
from litestar import Request, Response, get, post

if TYPE_CHECKING:
    from services.gateway.performance import PerformanceWindow

__all__ = ("observability_handlers",)

_encode = msgspec.json.Encoder().encode
_PROCESS = psutil.Process()


@get("/metrics")
async def prometheus_metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    body, content_type = request.app.state.telemetry.prometheus_text()
    return Response(body, media_type=content_type)


@get("/performance")
async def performance(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The window's summary; CPU% is this process's use since the previous call (psutil reads /proc, no I/O wait)."""
    window: PerformanceWindow = request.app.state.performance
    memory_mb = _PROCESS.memory_info().rss / (1024 * 1024)
    summary = window.summary(memory_mb=memory_mb, cpu_percent=_PROCESS.cpu_percent(interval=None))
    return Response(_encode(summary), media_type="application/json")


@post("/performance/reset", status_code=200)
async def performance_reset(request: Request[Any, Any, Any]) -> Response[bytes]:
    request.app.state.performance.reset()
    return Response(b'{"reset":true}', media_type="application/json")


observability_handlers = [prometheus_metrics, performance, performance_reset]
