"""The retrieval service's composition root: ``create_app(settings)`` wires corpus, cache, store and routes."""

from __future__ import annotations

import asyncio
import gc
import logging
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from litestar import Litestar

from services.common.breaker import CircuitBreaker
from services.retrieval.cache import MemoryCache, RedisCache, TieredCache
from services.retrieval.corpus.loader import load_corpus
from services.retrieval.feedback import FeedbackStore
from services.retrieval.routes import MAX_BODY_BYTES, routes
from services.retrieval.service import RetrievalService

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from services.retrieval.settings import RetrievalSettings

__all__ = ("create_app",)

log = logging.getLogger(__name__)


def create_app(settings: RetrievalSettings) -> Litestar:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        corpus = await asyncio.to_thread(load_corpus, settings.corpus_path)
        redis = None
        if settings.redis_enabled:
            breaker = CircuitBreaker("redis")
            redis = RedisCache(settings.redis_url, settings.redis_timeout_s, settings.redis_key_prefix, breaker)
        else:
            log.warning("PP_REDIS_URL=none: caching in process only; nothing is shared between instances")
        cache = TieredCache(MemoryCache(settings.l1_max_entries, settings.l1_max_bytes), redis, settings.negative_ttl_s)
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

    return Litestar(
        route_handlers=routes,
        lifespan=[lifespan],
        openapi_config=None,
        request_max_body_size=MAX_BODY_BYTES,
        logging_config=None,
    )
