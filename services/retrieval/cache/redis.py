"""The shared tier (L2): Redis behind a circuit breaker, never raising and never slow.

Contract: every method returns a plain answer (None / False on any trouble) within about ``timeout_s``, and costs
no network round trip at all while the breaker is open. Redis is an optimisation; the service must answer the same
way, only slower, without it.

Why it is built this way:

* One ``BlockingConnectionPool`` (``max_connections``), whose checkout wait is also capped at ``timeout_s``: a
  burst queues briefly for a connection instead of opening sockets without bound, and an exhausted pool counts as
  a slow Redis.
* No retries (``Retry(NoBackoff(), 0)``): a retry on the hot path doubles the worst case; the breaker is the retry
  policy. The parser is hiredis whenever it is installed (redis-py picks it by default).
* ``socket_timeout``/``socket_connect_timeout`` bound each socket operation, and ``asyncio.timeout(timeout_s)``
  caps the whole call (pool wait, connect, handshake, send, read), which the socket timeouts alone do not.
* A connection that failed or was cancelled mid-command is disconnected by redis-py before it returns to the
  pool, and the pool re-validates idle connections on checkout, so a Redis restart heals by itself. That check
  only runs with maintenance notifications off, hence ``MaintNotificationsConfig(enabled=False)``. After a
  connection error we also drop every idle connection at once, so the first calls after Redis returns do not
  each trip over a dead socket.
* Values carry their own absolute expiry: ``8-byte big-endian epoch ms || payload``, written with
  ``SET key value PX ttl``. One GET then yields the remaining TTL, which the L1 needs to promote an entry without
  extending its life, with no PTTL round trip. The header uses wall-clock time because several processes share
  the entries; clock skew between hosts only shifts how long a promoted copy lives in L1, and Redis's own PX
  expiry stays authoritative.
* Failures are logged once when they start and once when they stop (plus the breaker's transitions), never per
  request: a dead Redis under load would otherwise flood the log.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from typing import TYPE_CHECKING

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.maint_notifications import MaintNotificationsConfig

from services.common.breaker import BreakerState, CircuitBreaker

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ("RedisCache",)

logger = logging.getLogger(__name__)

_EXPIRY = struct.Struct(">Q")
_HEADER_LEN = _EXPIRY.size
_FAILURES = (RedisError, OSError, TimeoutError)  # asyncio.TimeoutError is TimeoutError on 3.11+


class RedisCache:
    def __init__(
        self,
        url: str,
        timeout_s: float,
        key_prefix: str,
        breaker: CircuitBreaker,
        *,
        max_connections: int = 32,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._timeout_s = timeout_s
        self._prefix = key_prefix
        self._breaker = breaker
        self._wall_clock = wall_clock
        self._failing = False
        self._pool: aioredis.BlockingConnectionPool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=timeout_s,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
            health_check_interval=0,
            # Maintenance notifications (a Redis Enterprise/Cloud feature, on by default as "auto" since redis-py 7)
            # switch off the pool's check for dead idle connections at checkout and can relax timeouts to 10 s.
            maint_notifications_config=MaintNotificationsConfig(enabled=False),
        )
        self._client = aioredis.Redis(connection_pool=self._pool)

    @property
    def available(self) -> bool:
        """False while the breaker is open, i.e. while calls fail fast without trying Redis."""
        return self._breaker.state is not BreakerState.OPEN

    @property
    def breaker(self) -> CircuitBreaker:
        return self._breaker

    async def get(self, key: str) -> tuple[bytes, float] | None:
        """Return ``(payload, remaining TTL in seconds)``; None on a miss, an expired or malformed value, or trouble."""
        if not self._breaker.allow():
            return None
        try:
            async with asyncio.timeout(self._timeout_s):
                raw = await self._client.get(self._prefix + key)
        except _FAILURES as exc:
            await self._failed("GET", exc)
            return None
        self._succeeded()
        if not isinstance(raw, bytes) or len(raw) < _HEADER_LEN:
            return None
        remaining = _EXPIRY.unpack_from(raw)[0] / 1000.0 - self._wall_clock()
        if remaining <= 0.0:
            return None
        return raw[_HEADER_LEN:], remaining

    async def set(self, key: str, value: bytes, ttl_s: float) -> bool:
        """Store ``value`` for ``ttl_s`` seconds; True if Redis confirmed the write."""
        ttl_ms = int(ttl_s * 1000)
        if ttl_ms <= 0 or not self._breaker.allow():
            return False
        expires_ms = int(self._wall_clock() * 1000) + ttl_ms
        try:
            async with asyncio.timeout(self._timeout_s):
                ok = await self._client.set(self._prefix + key, _EXPIRY.pack(expires_ms) + value, px=ttl_ms)
        except _FAILURES as exc:
            await self._failed("SET", exc)
            return False
        self._succeeded()
        return bool(ok)

    async def delete(self, key: str) -> bool:
        """Remove ``key``; True if Redis confirmed the delete (whether or not the key existed)."""
        if not self._breaker.allow():
            return False
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._client.delete(self._prefix + key)
        except _FAILURES as exc:
            await self._failed("DEL", exc)
            return False
        self._succeeded()
        return True

    async def ping(self) -> bool:
        """Health probe that goes through the breaker like any call.

        So /health polling is what closes the breaker again after Redis comes back, even when no request traffic
        reaches the L2 (every request is an L1 hit, or the service is idle).
        """
        if not self._breaker.allow():
            return False
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._client.ping()
        except _FAILURES as exc:
            await self._failed("PING", exc)
            return False
        self._succeeded()
        return True

    async def aclose(self) -> None:
        try:
            await self._client.aclose()
            await self._pool.aclose()
        except _FAILURES as exc:  # closing a dead connection can complain; there is nothing left to do about it
            logger.debug("redis cache: error while closing: %r", exc)

    def _succeeded(self) -> None:
        self._breaker.record_success()
        if self._failing:
            self._failing = False
            logger.info("redis cache: operations succeed again")

    async def _failed(self, op: str, exc: BaseException) -> None:
        self._breaker.record_failure()
        if not self._failing:
            self._failing = True
            logger.warning(
                "redis cache: %s failed (%s: %s); serving without L2 until it recovers", op, type(exc).__name__, exc
            )
        if isinstance(exc, RedisConnectionError | OSError):
            # Idle pooled connections to a server that went away are dead too; drop them now rather than let
            # each one fail a request after Redis is back. In-use connections are left to their owners.
            try:
                async with asyncio.timeout(self._timeout_s):
                    await self._pool.disconnect(inuse_connections=False)
            except _FAILURES:
                pass
