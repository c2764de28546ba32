"""TieredCache: tier order, promotion TTL, per-type and negative TTLs, single flight, counters."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, get_args

import pytest
import redis

from services.common.breaker import CircuitBreaker
from services.retrieval.cache.keys import TTL_SECONDS, ContentType
from services.retrieval.cache.memory import MemoryCache
from services.retrieval.cache.redis import RedisCache
from services.retrieval.cache.tiered import CacheResult, TieredCache
from services.retrieval.schemas import TierStats

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

pytestmark = pytest.mark.redis

NEGATIVE_TTL_S = 60.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now


class Counter:
    """A compute function that counts its calls and can be held at a gate."""

    def __init__(self, value: bytes = b"computed", *, empty: bool = False) -> None:
        self.value = value
        self.empty = empty
        self.calls = 0
        self.started = asyncio.Event()
        self.gate: asyncio.Event | None = None

    async def __call__(self) -> tuple[bytes, bool]:
        self.calls += 1
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        return self.value, self.empty


async def wait_for(event: asyncio.Event) -> None:
    async with asyncio.timeout(5):
        await event.wait()


async def settle() -> None:
    """Let every ready task run up to its next real wait (no I/O involved)."""
    for _ in range(5):
        await asyncio.sleep(0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def l1(clock: FakeClock) -> MemoryCache:
    return MemoryCache(1000, 1 << 20, clock=clock)


@pytest.fixture
async def l2(redis_url: str, redis_prefix: str) -> AsyncIterator[RedisCache]:
    cache = RedisCache(redis_url, 0.5, redis_prefix, CircuitBreaker("tiered-test"))
    yield cache
    await cache.aclose()


@pytest.fixture
def cache(l1: MemoryCache, l2: RedisCache) -> TieredCache:
    return TieredCache(l1, l2, NEGATIVE_TTL_S)


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def pttl_ms(raw: redis.Redis, key: str) -> int:
    value = raw.pttl(key)
    assert isinstance(value, int)
    return value


async def test_miss_then_l1_hit(cache: TieredCache) -> None:
    compute = Counter()
    assert await cache.get_or_compute("runbooks", "k", compute) == CacheResult(b"computed", "miss")
    assert await cache.get_or_compute("runbooks", "k", compute) == CacheResult(b"computed", "l1")
    assert compute.calls == 1


async def test_l2_hit_is_promoted_with_the_remaining_ttl(cache: TieredCache, l1: MemoryCache, l2: RedisCache) -> None:
    assert await l2.set("k", b"from-l2", 50.0)  # as if another process cached it 3550 s into a 3600 s TTL
    compute = Counter()
    assert await cache.get_or_compute("runbooks", "k", compute) == CacheResult(b"from-l2", "l2")
    assert compute.calls == 0
    hit = l1.get("k")
    assert hit is not None
    assert 45.0 < hit[1] <= 50.0  # not TTL_SECONDS["runbooks"]
    assert await cache.get_or_compute("runbooks", "k", compute) == CacheResult(b"from-l2", "l1")


@pytest.mark.parametrize("content_type", get_args(ContentType))
async def test_ttl_per_content_type_is_applied_in_both_tiers(
    content_type: ContentType, cache: TieredCache, l1: MemoryCache, raw: redis.Redis, redis_prefix: str
) -> None:
    await cache.get_or_compute(content_type, "k", Counter())
    await cache.drain()  # the L2 write happens after callers are released
    expected_ms = TTL_SECONDS[content_type] * 1000
    assert expected_ms - 5_000 < pttl_ms(raw, redis_prefix + "k") <= expected_ms
    hit = l1.get("k")
    assert hit is not None
    assert hit[1] == pytest.approx(TTL_SECONDS[content_type])


async def test_empty_result_is_cached_with_the_negative_ttl(
    cache: TieredCache, l1: MemoryCache, raw: redis.Redis, redis_prefix: str, clock: FakeClock
) -> None:
    compute = Counter(b"[]", empty=True)
    await cache.get_or_compute("knowledge_base", "k", compute)
    await cache.get_or_compute("knowledge_base", "k", compute)
    assert compute.calls == 1
    await cache.drain()
    assert NEGATIVE_TTL_S * 1000 - 5_000 < pttl_ms(raw, redis_prefix + "k") <= NEGATIVE_TTL_S * 1000
    clock.now += NEGATIVE_TTL_S
    assert l1.get("k") is None  # gone from L1 after the short TTL, not after knowledge_base's 900 s


async def test_concurrent_misses_share_one_computation(cache: TieredCache) -> None:
    compute = Counter(b"shared")
    compute.gate = asyncio.Event()
    calls = [asyncio.create_task(cache.get_or_compute("procedures", "k", compute)) for _ in range(50)]
    await wait_for(compute.started)  # the fill runs after all 50 have joined (it first asks the L2)
    await settle()
    compute.gate.set()
    results = await asyncio.gather(*calls)
    assert compute.calls == 1
    assert results == [CacheResult(b"shared", "miss")] * 50
    stats = cache.stats().tiers
    assert stats["l1"]["procedures"] == TierStats(hits=0, misses=50)
    assert stats["l2"]["procedures"] == TierStats(hits=0, misses=50)


async def test_a_failing_computation_reaches_every_waiter_and_is_not_cached(
    cache: TieredCache, l1: MemoryCache, raw: redis.Redis, redis_prefix: str
) -> None:
    gate = asyncio.Event()
    started = asyncio.Event()
    calls = 0

    async def broken() -> tuple[bytes, bool]:
        nonlocal calls
        calls += 1
        started.set()
        await gate.wait()
        raise RuntimeError("search backend exploded")

    tasks = [asyncio.create_task(cache.get_or_compute("runbooks", "k", broken)) for _ in range(50)]
    await wait_for(started)
    await settle()
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert calls == 1
    assert all(isinstance(r, RuntimeError) and str(r) == "search backend exploded" for r in results)
    await cache.drain()
    assert "k" not in l1
    assert raw.exists(redis_prefix + "k") == 0
    # The in-flight entry is gone, so the next call computes afresh.
    assert await cache.get_or_compute("runbooks", "k", Counter(b"ok")) == CacheResult(b"ok", "miss")


async def test_a_cancelled_caller_does_not_cancel_the_shared_fill(cache: TieredCache) -> None:
    compute = Counter(b"v")
    compute.gate = asyncio.Event()
    first = asyncio.create_task(cache.get_or_compute("runbooks", "k", compute))
    await wait_for(compute.started)
    second = asyncio.create_task(cache.get_or_compute("runbooks", "k", compute))
    await settle()
    first.cancel()
    compute.gate.set()
    assert await second == CacheResult(b"v", "miss")
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await cache.get_or_compute("runbooks", "k", compute) == CacheResult(b"v", "l1")
    assert compute.calls == 1


async def test_counters_per_tier_and_content_type(cache: TieredCache, l2: RedisCache) -> None:
    await l2.set("in-l2", b"x", 60.0)
    await cache.get_or_compute("decision_trees", "in-l2", Counter())  # l1 miss, l2 hit
    await cache.get_or_compute("decision_trees", "in-l2", Counter())  # l1 hit
    await cache.get_or_compute("knowledge_base", "new", Counter())  # miss on both
    stats = cache.stats()
    assert stats.tiers["l1"]["decision_trees"] == TierStats(hits=1, misses=1)
    assert stats.tiers["l2"]["decision_trees"] == TierStats(hits=1, misses=0)
    assert stats.tiers["l1"]["knowledge_base"] == TierStats(hits=0, misses=1)
    assert stats.tiers["l2"]["knowledge_base"] == TierStats(hits=0, misses=1)
    assert stats.tiers["l1"]["runbooks"] == TierStats(hits=0, misses=0)
    assert stats.l1_entries == 2
    assert stats.l1_bytes == len(b"x") + len(b"computed")
    assert stats.l2_available
    # A snapshot: mutating it does not touch the cache's counters.
    stats.tiers["l1"].clear()
    assert cache.stats().tiers["l1"]["decision_trees"] == TierStats(hits=1, misses=1)


async def test_without_l2_only_l1_is_counted(l1: MemoryCache) -> None:
    cache = TieredCache(l1, None, NEGATIVE_TTL_S)
    assert await cache.get_or_compute("runbooks", "k", Counter()) == CacheResult(b"computed", "miss")
    assert await cache.get_or_compute("runbooks", "k", Counter()) == CacheResult(b"computed", "l1")
    stats = cache.stats()
    assert stats.tiers["l1"]["runbooks"] == TierStats(hits=1, misses=1)
    assert stats.tiers["l2"]["runbooks"] == TierStats(hits=0, misses=0)
    assert not stats.l2_available


async def test_invalidate_removes_from_both_tiers(
    cache: TieredCache, l1: MemoryCache, raw: redis.Redis, redis_prefix: str
) -> None:
    await cache.get_or_compute("runbooks", "k", Counter(b"old"))
    await cache.drain()
    await cache.invalidate("k")
    assert "k" not in l1
    assert raw.exists(redis_prefix + "k") == 0
    assert await cache.get_or_compute("runbooks", "k", Counter(b"new")) == CacheResult(b"new", "miss")


async def test_invalidate_during_a_fill_keeps_the_stale_value_out(
    cache: TieredCache, l1: MemoryCache, raw: redis.Redis, redis_prefix: str
) -> None:
    compute = Counter(b"stale")
    compute.gate = asyncio.Event()
    caller = asyncio.create_task(cache.get_or_compute("runbooks", "k", compute))
    await wait_for(compute.started)
    await cache.invalidate("k")
    compute.gate.set()
    assert await caller == CacheResult(b"stale", "miss")  # its own caller still gets an answer
    await cache.drain()
    assert "k" not in l1
    assert raw.exists(redis_prefix + "k") == 0


async def test_l2_with_an_open_breaker_is_not_counted(l1: MemoryCache, redis_url: str, redis_prefix: str) -> None:
    breaker = CircuitBreaker("open", failure_threshold=1, reset_timeout_s=3600.0)
    breaker.record_failure()
    l2 = RedisCache(redis_url, 0.5, redis_prefix, breaker)
    try:
        cache = TieredCache(l1, l2, NEGATIVE_TTL_S)
        assert await cache.get_or_compute("runbooks", "k", Counter()) == CacheResult(b"computed", "miss")
        await cache.drain()
        stats = cache.stats()
        assert stats.tiers["l1"]["runbooks"] == TierStats(hits=0, misses=1)
        assert stats.tiers["l2"]["runbooks"] == TierStats(hits=0, misses=0)
        assert not stats.l2_available
    finally:
        await l2.aclose()
