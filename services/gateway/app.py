"""The gateway's composition root: ``create_app(settings)`` wires the retrieval client, tools and front doors."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from litestar import Litestar
from litestar.middleware import DefineMiddleware

from otel import contract, setup_telemetry
from otel.asgi import ServerSpanMiddleware
from services.common.breaker import CircuitBreaker
from services.gateway.calls import ToolCaller
from services.gateway.guard import Guard
from services.gateway.health import health_handlers
from services.gateway.mcp.dispatch import Dispatcher, ServerInfo
from services.gateway.mcp.http import mcp_handlers
from services.gateway.observability import observability_handlers
from services.gateway.performance import PerformanceWindow
from services.gateway.rest import rest_handlers
from services.gateway.retrieval_client import RetrievalClient

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from services.gateway.settings import GatewaySettings

__all__ = ("build_dispatcher", "create_app", "server_info")

log = logging.getLogger(__name__)


def server_info() -> ServerInfo:
    try:
        return ServerInfo(name="personal-pipeline", version=version("personal-pipeline"))
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without installing
        return ServerInfo(name="personal-pipeline", version="0.0.0")


def retrieval_client(settings: GatewaySettings) -> RetrievalClient:
    breaker = CircuitBreaker("retrieval", failure_threshold=5, reset_timeout_s=2.0)
    return RetrievalClient(
        settings.retrieval_url, settings.retrieval_timeout_s, settings.retrieval_connections, breaker
    )


def build_dispatcher(
    retrieval: RetrievalClient, window: PerformanceWindow | None = None
) -> tuple[ToolCaller, Dispatcher]:
    caller = ToolCaller(retrieval, window)
    return caller, Dispatcher(caller, server_info())


def create_app(settings: GatewaySettings) -> Litestar:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # Providers first: every tracer and instrument below is taken from them.
        telemetry = setup_telemetry(contract.GATEWAY_SERVICE, service_version=server_info().version)
        retrieval = retrieval_client(settings)
        await retrieval.start()
        try:
            window = PerformanceWindow()
            caller, dispatcher = build_dispatcher(retrieval, window)
            app.state.telemetry = telemetry
            app.state.performance = window
            app.state.retrieval = retrieval
            app.state.caller = caller
            app.state.dispatcher = dispatcher
            app.state.max_body_bytes = settings.max_body_bytes
            log.info("gateway ready: MCP at /mcp, REST at /mcp/call, retrieval at %s", settings.retrieval_url)
            yield
        finally:
            await retrieval.aclose()
            telemetry.shutdown()

    guard = DefineMiddleware(Guard, token=settings.api_token, extra_origins=settings.extra_origins)
    return Litestar(
        route_handlers=[*mcp_handlers, *rest_handlers, *health_handlers, *observability_handlers],
        lifespan=[lifespan],
        # The span middleware is outermost, so rejected requests (403, 401) are traced too.
        middleware=[DefineMiddleware(ServerSpanMiddleware), guard],
        openapi_config=None,
        request_max_body_size=settings.max_body_bytes,
        logging_config=None,
    )
