"""RedisCache against a real Redis: the value format, TTLs, the breaker gate, and never raising."""

from __future__ import annotations

import logging
import struct
import time
from typing import TYPE_CHECKING

import pytest
import redis
from redis.asyncio.connection import BlockingConnectionPool
from redis.utils import HIREDIS_AVAILABLE

from services.common.breaker import BreakerState, CircuitBreaker
from services.retrieval.cache.redis import RedisCache
from tests.support.ports import free_port

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

pytestmark = pytest.mark.redis


@pytest.fixture
def breaker() -> CircuitBreaker:
    return CircuitBreaker("redis-test", failure_threshold=3, reset_timeout_s=60.0)


@pytest.fixture
async def l2(redis_url: str, redis_prefix: str, breaker: CircuitBreaker) -> AsyncIterator[RedisCache]:
    cache = RedisCache(redis_url, timeout_s=0.5, key_prefix=redis_prefix, breaker=breaker)
    yield cache
    await cache.aclose()


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


async def test_round_trip_with_remaining_ttl(l2: RedisCache) -> None:
    assert await l2.set("k", b"payload", 120.0)
    hit = await l2.get("k")
    assert hit is not None
    value, remaining = hit
    assert value == b"payload"
    assert 119.0 < remaining <= 120.0


async def test_miss_is_none(l2: RedisCache) -> None:
    assert await l2.get("never-written") is None


async def test_stored_format_is_expiry_header_plus_payload(l2: RedisCache, raw: redis.Redis, redis_prefix: str) -> None:
    before_ms = int(time.time() * 1000)
    assert await l2.set("k", b"\x00binary\xff", 30.0)
    stored = raw.get(redis_prefix + "k")
    assert isinstance(stored, bytes)
    (expires_ms,) = struct.unpack(">Q", stored[:8])
    assert stored[8:] == b"\x00binary\xff"
    assert before_ms + 30_000 <= expires_ms <= int(time.time() * 1000) + 30_000
    pttl = raw.pttl(redis_prefix + "k")
    assert isinstance(pttl, int)
    assert 29_000 < pttl <= 30_000


async def test_value_past_its_header_expiry_is_a_miss(redis_url: str, redis_prefix: str, l2: RedisCache) -> None:
    assert await l2.set("k", b"v", 10.0)
    later = RedisCache(redis_url, 0.5, redis_prefix, CircuitBreaker("later"), wall_clock=lambda: time.time() + 11.0)
    try:
        assert await later.get("k") is None
    finally:
        await later.aclose()


async def test_malformed_value_is_a_miss(l2: RedisCache, raw: redis.Redis, redis_prefix: str) -> None:
    raw.set(redis_prefix + "short", b"abc", px=60_000)
    assert await l2.get("short") is None
    assert l2.breaker.state is BreakerState.CLOSED  # a bad value is not a sick Redis


async def test_delete_and_ping(l2: RedisCache) -> None:
    assert await l2.ping()
    await l2.set("k", b"v", 60.0)
    assert await l2.delete("k")
    assert await l2.get("k") is None


async def test_open_breaker_means_no_network(l2: RedisCache, breaker: CircuitBreaker) -> None:
    await l2.set("k", b"v", 60.0)
    for _ in range(breaker.failure_threshold):
        breaker.record_failure()
    assert not l2.available
    # The key exists, so a None here proves that Redis was not asked.
    assert await l2.get("k") is None
    assert not await l2.set("k2", b"v", 60.0)
    assert not await l2.ping()
    assert not await l2.delete("k")
    breaker.record_success()  # (would be ignored while open; the breaker needs its own probe)
    assert breaker.state is BreakerState.OPEN


async def test_pool_is_bounded_without_retries_and_uses_hiredis(l2: RedisCache) -> None:
    await l2.ping()
    pool = l2._pool
    assert isinstance(pool, BlockingConnectionPool)
    assert pool.max_connections == 32
    # Maintenance notifications would disable the pool's dead-connection check at checkout.
    assert not pool.maint_notifications_enabled()  # type: ignore[no-untyped-call]
    conn = pool._available_connections[0]
    assert conn.retry.get_retries() == 0
    assert conn.socket_timeout == 0.5
    assert conn.socket_connect_timeout == 0.5
    if HIREDIS_AVAILABLE:
        assert type(conn._parser).__name__ == "_AsyncHiredisParser"


async def test_unreachable_redis_never_raises_and_opens_the_breaker(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="services.retrieval.cache.redis")
    breaker = CircuitBreaker("down", failure_threshold=3, reset_timeout_s=60.0)
    nowhere = RedisCache(f"redis://127.0.0.1:{free_port()}/0", 0.2, "pp:test:", breaker)
    try:
        assert await nowhere.get("k") is None
        assert not await nowhere.set("k", b"v", 60.0)
        assert not await nowhere.ping()
        assert breaker.state is BreakerState.OPEN
        assert not nowhere.available
        for _ in range(50):
            assert await nowhere.get("k") is None
    finally:
        await nowhere.aclose()
    warnings = [r for r in caplog.records if r.name == "services.retrieval.cache.redis"]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]  # rate-limited: the first failure only
