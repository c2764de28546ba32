"""The retrieval service's composition root: ``create_app(settings)`` wires corpus, cache, store and routes."""

from __future__ import annotations

import asyncio
import gc
import logging
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from litestar import Litestar
from litestar.middleware import DefineMiddleware
from opentelemetry.instrumentation.redis import RedisInstrumentor

from otel import contract, setup_telemetry
from otel.asgi import ServerSpanMiddleware
from services.common.breaker import CircuitBreaker
from services.retrieval.cache import MemoryCache, RedisCache, TieredCache
from services.retrieval.corpus.loader import load_corpus
from services.retrieval.feedback import FeedbackStore
from services.retrieval.routes import MAX_BODY_BYTES, routes
from services.retrieval.service import RetrievalService
from services.retrieval.telemetry import observe_cache

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from services.retrieval.settings import RetrievalSettings

__all__ = ("create_app",)


def _version() -> str:
    try:
        return version("personal-pipeline")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without installing
        return "0.0.0"


log = logging.getLogger(__name__)


def create_app(settings: RetrievalSettings) -> Litestar:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # Providers first: every tracer and instrument below is taken from them.
        telemetry = setup_telemetry(contract.RETRIEVAL_SERVICE, service_version=_version())
        redis_instrumentor = RedisInstrumentor()
        redis_instrumentor.instrument()
        app.state.telemetry = telemetry
        corpus = await asyncio.to_thread(load_corpus, settings.corpus_path)
        redis = None
        if settings.redis_enabled:
            breaker = CircuitBreaker("redis")
            redis = RedisCache(settings.redis_url, settings.redis_timeout_s, settings.redis_key_prefix, breaker)
        else:
            log.warning("PP_REDIS_URL=none: caching in process only; nothing is shared between instances")
        cache = TieredCache(MemoryCache(settings.l1_max_entries, settings.l1_max_bytes), redis, settings.negative_ttl_s)
        observe_cache(cache)
        store = await FeedbackStore.open(settings.feedback_db)
        try:
            service = await asyncio.to_thread(RetrievalService, corpus, cache, store)
            await service.load_track_records()
            app.state.service = service
            app.state.redis = redis
            # The corpus and indexes live as long as the process: move them out of the collector's view, so a
            # full collection does not walk a few hundred thousand objects in the middle of a request.
            gc.collect()
            gc.freeze()
            log.info(
                "retrieval ready: %d runbooks, %d articles, %d files skipped",
                len(corpus.runbooks),
                len(corpus.articles),
                len(corpus.errors),
            )
            yield
        finally:
            await cache.drain()  # let in-flight L2 writes land before the pool closes
            await store.aclose()
            if redis is not None:
                await redis.aclose()
            redis_instrumentor.uninstrument()
            telemetry.shutdown()

    return Litestar(
        route_handlers=routes,
        lifespan=[lifespan],
        middleware=[DefineMiddleware(ServerSpanMiddleware)],
        openapi_config=None,
        request_max_body_size=MAX_BODY_BYTES,
        logging_config=None,
    )
