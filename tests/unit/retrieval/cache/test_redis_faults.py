"""The cache when Redis dies, hangs or restarts: answers stay correct, the breaker opens, the L2 comes back by itself.

Every test here uses its own private ``redis_server`` (never the shared Redis) and a fake clock for the breaker, so
"after the reset timeout" is a clock step, not a sleep. Assertions are about correctness and breaker state, not
timing.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
import redis

from services.common.breaker import BreakerState, CircuitBreaker
from services.retrieval.cache.memory import MemoryCache
from services.retrieval.cache.redis import RedisCache
from services.retrieval.cache.tiered import CacheResult, TieredCache

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.support.redis import RedisServer

pytestmark = pytest.mark.redis

RESET_S = 1.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Harness:
    def __init__(self, server: RedisServer, timeout_s: float = 0.5) -> None:
        self.server = server
        self.clock = FakeClock()
        self.breaker = CircuitBreaker("l2-fault", failure_threshold=2, reset_timeout_s=RESET_S, clock=self.clock)
        self.l2 = RedisCache(server.url, timeout_s, "pp:test:", self.breaker)
        self.cache = TieredCache(MemoryCache(1000, 1 << 20), self.l2, 60.0)

    async def fill(self, key: str, value: bytes) -> CacheResult:
        async def compute() -> tuple[bytes, bool]:
            return value, False

        return await self.cache.get_or_compute("runbooks", key, compute)

    def in_redis(self, key: str) -> bool:
        client = redis.Redis.from_url(self.server.url)
        try:
            return client.exists("pp:test:" + key) == 1
        finally:
            client.close()

    async def warm_pool(self, connections: int = 8) -> None:
        """Leave several idle connections in the pool, as a busy service would."""
        await asyncio.gather(*(self.l2.ping() for _ in range(connections)))
        assert len(self.l2._pool._available_connections) > 1


async def never() -> tuple[bytes, bool]:
    raise AssertionError("must be served from cache")


@pytest.fixture
async def harness(redis_server: RedisServer) -> AsyncIterator[Harness]:
    h = Harness(redis_server)
    yield h
    await h.cache.drain()
    await h.l2.aclose()


async def test_redis_killed_then_restarted(harness: Harness) -> None:
    h = harness
    for i in range(4):
        await h.fill(f"warm{i}", f"w{i}".encode())
    await h.cache.drain()
    await h.warm_pool()
    assert h.in_redis("warm0")

    h.server.kill()

    # Cached answers still come from L1; new ones are computed; nothing raises.
    assert await h.cache.get_or_compute("runbooks", "warm0", never) == CacheResult(b"w0", "l1")
    for i in range(10):
        assert await h.fill(f"down{i}", f"d{i}".encode()) == CacheResult(f"d{i}".encode(), "miss")
    await h.cache.drain()
    assert h.breaker.state is BreakerState.OPEN
    assert not h.l2.available
    assert not h.cache.stats().l2_available
    assert await h.cache.get_or_compute("runbooks", "down3", never) == CacheResult(b"d3", "l1")

    h.server.restart()
    assert h.breaker.state is BreakerState.OPEN  # still failing fast until the reset timeout
    assert not await h.l2.set("early", b"x", 60.0)
    assert not h.in_redis("early")

    h.clock.now += RESET_S
    async with asyncio.timeout(10):
        while not await h.l2.ping():  # /health's probe is what closes the breaker
            h.clock.now += RESET_S
            await asyncio.sleep(0.01)
    assert h.breaker.consecutive_failures == 0
    assert h.cache.stats().l2_available

    assert await h.fill("after", b"a") == CacheResult(b"a", "miss")
    await h.cache.drain()
    assert h.in_redis("after")
    assert h.breaker.consecutive_failures == 0


async def test_restart_between_requests_costs_no_failure(harness: Harness) -> None:
    """Pooled connections to the old process are dead; the pool must replace them instead of failing requests.

    The loop gets to run between the crash and the next request (as it does in a service: a restart takes far
    longer than one loop turn), so the sockets' EOF has been seen; the pool's checkout validation must then
    reconnect rather than hand out a dead connection.
    """
    h = harness
    await h.warm_pool()
    url = h.server.url
    h.server.kill()
    await asyncio.sleep(0.05)
    h.server.start()
    assert h.server.url == url  # a later start reuses the port, so the client's URL stays valid
    results = await asyncio.gather(*(h.l2.set(f"k{i}", b"v", 60.0) for i in range(8)))
    assert results == [True] * 8
    assert h.breaker.consecutive_failures == 0
    assert h.breaker.state is BreakerState.CLOSED
    assert all(h.in_redis(f"k{i}") for i in range(8))


async def test_hung_redis_times_out_and_recovers(redis_server: RedisServer) -> None:
    h = Harness(redis_server, timeout_s=0.2)
    try:
        await h.fill("before", b"b")
        await h.cache.drain()
        h.server.pause()
        try:
            # Each call is capped by the timeout and treated as a failure; answers stay correct.
            assert await h.fill("hung1", b"h1") == CacheResult(b"h1", "miss")
            assert await h.fill("hung2", b"h2") == CacheResult(b"h2", "miss")
            await h.cache.drain()
            assert h.breaker.state is BreakerState.OPEN
            assert await h.fill("hung3", b"h3") == CacheResult(b"h3", "miss")  # fails fast now
        finally:
            h.server.resume()
        h.clock.now += RESET_S
        async with asyncio.timeout(10):
            while not await h.l2.ping():
                h.clock.now += RESET_S
                await asyncio.sleep(0.01)
        assert await h.fill("after", b"a") == CacheResult(b"a", "miss")
        await h.cache.drain()
        assert h.in_redis("after")
        assert await h.cache.get_or_compute("runbooks", "before", never) == CacheResult(b"b", "l1")
    finally:
        await h.cache.drain()
        await h.l2.aclose()
