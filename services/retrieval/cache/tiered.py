"""The two-tier read-through cache in front of every cacheable tool.

Read path: L1 (in-process) → L2 (Redis, optional) → compute. What this adds over "check, else compute":

* **L1 hits stay cheap.** That path is one dict lookup, one clock read, one counter bump and the result object;
  nothing else may be added to it.
* **Promotion keeps the remaining TTL.** An L2 hit lands in L1 with the TTL the entry has left, not a fresh one,
  so promotion can never keep a value alive past its expiry (the original re-armed the full TTL).
* **Single flight.** Concurrent misses for one key share one fill (L2 lookup + compute + stores). The fill runs in
  its own task so that a cancelled caller (a client that hung up) cannot cancel the work others are waiting on;
  callers wait on a future that the fill resolves as soon as the value is in L1, before the L2 write, so the
  write's round trip delays nobody. If compute raises, every waiter gets that exception and nothing is cached.
  The in-flight entry is removed before the future resolves, whatever happens, so the next call retries.
* **Negative caching.** A result flagged empty is cached for ``negative_ttl_s`` instead of its type's TTL, so an
  unknown alert type storm does not run a search per request, while the answer can still change soon.

Counters (per tier, per content type): an L1 hit counts one L1 hit; an L2 hit counts an L1 miss and an L2 hit; a
full miss counts a miss on both tiers, except that the L2 is not counted when it is absent or its breaker is open
(it was not asked; while half-open, a call turned away because another probe is in flight still counts as an L2
miss). Callers that joined a fill are counted like the caller that started it.

Shutdown: ``await drain()`` before closing the L2, so fills still running finish their writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Literal

import msgspec
from opentelemetry import trace

from otel import contract
from services.retrieval.cache.keys import TTL_SECONDS, ContentType
from services.retrieval.schemas import CacheStats, TierStats

if TYPE_CHECKING:
    from services.retrieval.cache.memory import MemoryCache
    from services.retrieval.cache.redis import RedisCache

__all__ = ("CacheResult", "Compute", "Tier", "TieredCache")


Tier = Literal["l1", "l2", "miss"]
"""Where a value came from; ``miss`` means it was computed for this call (or for the fill it joined)."""

Compute = Callable[[], Awaitable[tuple[bytes, bool]]]
"""Produces ``(encoded value, is_empty)`` on a miss."""


class CacheResult(msgspec.Struct, frozen=True, gc=False):
    value: bytes
    tier: Tier


class _Fill(msgspec.Struct, frozen=True, gc=False):
    result: CacheResult
    l2_asked: bool


_l1_attributes = {t: {contract.CACHE_TIER: "l1", contract.CACHE_CONTENT_TYPE: t} for t in TTL_SECONDS}
_l2_attributes = {t: {contract.CACHE_TIER: "l2", contract.CACHE_CONTENT_TYPE: t} for t in TTL_SECONDS}


class TieredCache:
    def __init__(self, l1: MemoryCache, l2: RedisCache | None, negative_ttl_s: float) -> None:
        self._l1 = l1
        self._l2 = l2
        self._negative_ttl_s = negative_ttl_s
        self._inflight: dict[str, asyncio.Future[_Fill]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._l1_hits = dict.fromkeys(TTL_SECONDS, 0)
        self._l1_misses = dict.fromkeys(TTL_SECONDS, 0)
        self._l2_hits = dict.fromkeys(TTL_SECONDS, 0)
        self._l2_misses = dict.fromkeys(TTL_SECONDS, 0)
        self._tracer = trace.get_tracer(contract.INSTRUMENTATION_SCOPE)

    async def get_or_compute(self, content_type: ContentType, key: str, compute: Compute) -> CacheResult:
        span = self._tracer.start_span(contract.CACHE_SPAN, attributes=_l1_attributes[content_type])
        hit = self._l1.get(key)
        span.set_attribute(contract.CACHE_HIT, hit is not None)
        span.end()
        if hit is not None:
            self._l1_hits[content_type] += 1
            return CacheResult(hit[0], "l1")
        return await self._miss(content_type, key, compute)

    async def _miss(self, content_type: ContentType, key: str, compute: Compute) -> CacheResult:
        self._l1_misses[content_type] += 1
        future = self._inflight.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            future.add_done_callback(_consume_exception)
            self._inflight[key] = future
            task = asyncio.create_task(self._fill(content_type, key, compute, future))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        fill = await asyncio.shield(future)
        result = fill.result
        if result.tier == "l2":
            self._l2_hits[content_type] += 1
        elif fill.l2_asked:
            self._l2_misses[content_type] += 1
        return result

    async def _fill(self, content_type: ContentType, key: str, compute: Compute, future: asyncio.Future[_Fill]) -> None:
        l2 = self._l2
        try:
            l2_asked = l2 is not None and l2.available
            hit = None
            if l2 is not None:
                with self._tracer.start_as_current_span(
                    contract.CACHE_SPAN, attributes=_l2_attributes[content_type]
                ) as span:
                    hit = await l2.get(key)
                    span.set_attribute(contract.CACHE_HIT, hit is not None)
            if hit is not None:
                value, remaining = hit
                self._store_l1(key, future, value, remaining)
                self._finish(key, future, _Fill(CacheResult(value, "l2"), l2_asked))
                return
            value, is_empty = await compute()
            ttl = self._negative_ttl_s if is_empty else TTL_SECONDS[content_type]
            stored = self._store_l1(key, future, value, ttl)
            self._finish(key, future, _Fill(CacheResult(value, "miss"), l2_asked))
        except BaseException as exc:
            # Compute failed: every waiter gets this exception and nothing is cached. An ordinary exception is not
            # re-raised (the waiters own it now; a re-raise would only be logged again as an unretrieved task
            # exception). Cancellation (only shutdown cancels a fill: callers are shielded from it) and
            # KeyboardInterrupt/SystemExit still propagate after the waiters are released.
            self._abandon(key, future, exc)
            if isinstance(exc, Exception):
                return
            raise
        if stored and l2 is not None:
            await l2.set(key, value, ttl)

    def _store_l1(self, key: str, future: asyncio.Future[_Fill], value: bytes, ttl_s: float) -> bool:
        # An invalidate() that ran during the fill detached the future: the value may predate the invalidation,
        # so it goes to this fill's waiters only and is not stored.
        if self._inflight.get(key) is not future:
            return False
        self._l1.set(key, value, ttl_s)
        return True

    def _abandon(self, key: str, future: asyncio.Future[_Fill], exc: BaseException) -> None:
        if self._inflight.get(key) is future:
            del self._inflight[key]
        if future.done():
            return
        if isinstance(exc, asyncio.CancelledError):
            future.cancel()
        else:
            future.set_exception(exc)

    def _finish(self, key: str, future: asyncio.Future[_Fill], fill: _Fill) -> None:
        if self._inflight.get(key) is future:
            del self._inflight[key]
        future.set_result(fill)

    async def invalidate(self, key: str) -> None:
        """Drop ``key`` from both tiers; a fill already running for it delivers to its waiters but stores nothing."""
        self._inflight.pop(key, None)
        self._l1.delete(key)
        if self._l2 is not None:
            await self._l2.delete(key)

    async def drain(self) -> None:
        """Wait for fills still running, including their L2 writes (for shutdown, and for tests that read Redis)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def stats(self) -> CacheStats:
        """A snapshot; the dicts are fresh, so callers may keep or mutate them."""
        return CacheStats(
            tiers={
                "l1": _tier_stats(self._l1_hits, self._l1_misses),
                "l2": _tier_stats(self._l2_hits, self._l2_misses),
            },
            l1_entries=len(self._l1),
            l1_bytes=self._l1.nbytes,
            l2_available=self._l2 is not None and self._l2.available,
        )


def _tier_stats(hits: dict[ContentType, int], misses: dict[ContentType, int]) -> dict[str, TierStats]:
    return {ct: TierStats(hits=hits[ct], misses=misses[ct]) for ct in TTL_SECONDS}


def _consume_exception(future: asyncio.Future[_Fill]) -> None:
    # Mark the exception retrieved: if every waiter was cancelled, nobody else will, and asyncio would log
    # "Future exception was never retrieved" for an error that the waiters' callers already saw or stopped caring about.
    if not future.cancelled():
        future.exception()
