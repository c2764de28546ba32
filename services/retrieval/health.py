"""Dependency checks behind ``/health``: Redis, the corpus and the feedback store, each timed."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from services.retrieval.schemas import HealthCheck

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from services.retrieval.cache import RedisCache
    from services.retrieval.service import RetrievalService

__all__ = ("run_checks",)


async def _timed(name: str, probe: Callable[[], Awaitable[tuple[bool, str]]]) -> HealthCheck:
    started = time.perf_counter()
    healthy, detail = await probe()
    elapsed = round((time.perf_counter() - started) * 1000, 3)
    return HealthCheck(name=name, healthy=healthy, detail=detail, response_time_ms=elapsed)


async def run_checks(service: RetrievalService, redis: RedisCache | None) -> list[HealthCheck]:
    async def redis_probe() -> tuple[bool, str]:
        if redis is None:
            return True, "disabled: in-process cache only"
        if await redis.ping():
            return True, "PONG"
        return False, "unreachable: answering from the in-process cache and the index"

    async def corpus_probe() -> tuple[bool, str]:
        corpus = service.corpus
        detail = f"{len(corpus.runbooks)} runbooks, {len(corpus.articles)} articles, {len(corpus.errors)} files skipped"
        return bool(corpus.runbooks and corpus.articles), detail

    async def feedback_probe() -> tuple[bool, str]:
        if await service.feedback.ping():
            return True, "writable"
        return False, "feedback database not answering"

    return [
        await _timed("redis", redis_probe),
        await _timed("corpus", corpus_probe),
        await _timed("feedback", feedback_probe),
    ]
