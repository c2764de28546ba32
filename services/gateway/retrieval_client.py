"""The gateway's one pooled HTTP client to retrieval: keep-alive, a deadline per call, a circuit breaker.

The transport is ``services.common.http1``, a lean keep-alive pool: with aiohttp the client side of each tool call
took about a third of the gateway's CPU (httpx is worse still: its pool collapses under concurrency, ~150 vs ~890
req/s through a toy chain, ``shared/reference/perf-baseline.md``). While retrieval is down the breaker answers at
once instead of letting every call wait out its timeout; the first call after the reset timeout is a probe, and its
success (or a health check's) closes the breaker again.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel import contract
from otel.propagation import header_lines
from services.common.http1 import ConnectionPool

if TYPE_CHECKING:
    from services.common.breaker import CircuitBreaker

__all__ = ("Reply", "RetrievalClient", "RetrievalUnavailable")


class RetrievalUnavailable(Exception):
    """Retrieval could not answer: unreachable, timed out, failing (5xx), or the breaker is open."""


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    cache: str | None


class RetrievalClient:
    def __init__(self, base_url: str, timeout_s: float, connections: int, breaker: CircuitBreaker) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"PP_RETRIEVAL_URL must be an http:// URL with a host, got {base_url!r}")
        self._base = base_url.rstrip("/")
        self._host = parts.hostname
        self._port = parts.port or 80
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout_s
        self._connections = connections
        self._breaker = breaker
        self._pool: ConnectionPool | None = None
        self._tracer = trace.get_tracer(contract.INSTRUMENTATION_SCOPE)
        self._duration = metrics.get_meter(contract.INSTRUMENTATION_SCOPE).create_histogram(
            contract.HTTP_CLIENT_DURATION, unit="s", description="Duration of the gateway's calls to retrieval."
        )
        self._peer = {contract.SERVER_ADDRESS: self._host, contract.SERVER_PORT: self._port}

    @property
    def breaker(self) -> CircuitBreaker:
        return self._breaker

    async def start(self) -> None:
        self._pool = ConnectionPool(self._host, self._port, self._connections)

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None

    def _request(self, method: str, path: str, body: bytes, trace_headers: bytes = b"") -> bytes:
        head = (
            f"{method} {self._prefix}{path} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        )
        return head.encode("latin-1") + trace_headers + b"\r\n" + body

    async def post(self, path: str, body: bytes) -> Reply:
        """POST ``body`` to ``path``; 2xx and 4xx are answers, anything else raises ``RetrievalUnavailable``.

        Each call is a CLIENT span whose context travels in ``traceparent`` (and the caller's ``baggage``), so
        retrieval's spans join the gateway's trace.
        """
        attributes: dict[str, Any] = {contract.HTTP_REQUEST_METHOD: "POST", contract.URL_FULL: self._base + path}
        attributes.update(self._peer)
        span = self._tracer.start_span(f"POST {path}", kind=SpanKind.CLIENT, attributes=attributes)
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            reply = await self._post(path, body, span)
            status = reply.status
            if status >= 400:
                error = str(status)
            return reply
        except RetrievalUnavailable as exc:
            error = type(exc.__cause__).__qualname__ if exc.__cause__ else "unavailable"
            raise
        finally:
            labels: dict[str, Any] = {contract.HTTP_REQUEST_METHOD: "POST", **self._peer}
            if status is not None:
                span.set_attribute(contract.HTTP_RESPONSE_STATUS_CODE, status)
                labels[contract.HTTP_RESPONSE_STATUS_CODE] = status
            if error is not None:
                span.set_attribute(contract.ERROR_TYPE, error)
                span.set_status(Status(StatusCode.ERROR))
                labels[contract.ERROR_TYPE] = error
            span.end()
            self._duration.record(time.perf_counter() - started, labels)

    async def _post(self, path: str, body: bytes, span: trace.Span) -> Reply:
        if not self._breaker.allow():
            raise RetrievalUnavailable("retrieval is unavailable (failing fast after repeated errors); retry shortly")
        assert self._pool is not None, "RetrievalClient.start() was not awaited"
        headers = header_lines(trace.set_span_in_context(span))
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._pool.request(self._request("POST", path, body, headers))
        except (TimeoutError, OSError) as exc:
            self._breaker.record_failure()
            reason = f"timed out after {self._timeout} s" if isinstance(exc, TimeoutError) else str(exc)
            raise RetrievalUnavailable(f"retrieval is unavailable: {self._base} did not answer ({reason})") from exc
        if response.status >= 500:
            self._breaker.record_failure()
            detail = response.body[:200].decode(errors="replace")
            raise RetrievalUnavailable(f"retrieval is unavailable: it failed with HTTP {response.status}: {detail}")
        self._breaker.record_success()
        cache = response.headers.get(b"x-cache")
        return Reply(response.status, response.body, cache.decode() if cache else None)

    async def ready(self) -> tuple[bool, str]:
        """Whether retrieval answers ``/ready``; bypasses the breaker but feeds it, so health checks can close it."""
        assert self._pool is not None, "RetrievalClient.start() was not awaited"
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._pool.request(self._request("GET", "/ready", b""))
        except (TimeoutError, OSError) as exc:
            self._breaker.record_failure()
            return False, f"unreachable at {self._base}: {exc or type(exc).__name__}"
        if response.status == 200:
            self._breaker.record_success()
            return True, f"ready at {self._base}"
        return False, f"not ready at {self._base} (HTTP {response.status})"
