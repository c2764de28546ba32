"""One keep-alive OTLP/HTTP (protobuf) connection with the specification's retry rules.

``http.client`` rather than ``requests``: one connection to one collector needs no pool, session or adapters, and
the exporter process should start fast. Retryable, per the OTLP specification plus the task's 5xx: 429, every 5xx
and connection errors, waiting for ``Retry-After`` when the server sends one, else exponential backoff with jitter.
Anything else (400, 401, 404, 413...) will not get better by resending, so its spans are dropped and counted.
"""

from __future__ import annotations

import gzip
import http.client
import random
from typing import Final
from urllib.parse import urlsplit

import msgspec
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

__all__ = ("OtlpHttpClient", "Outcome", "backoff_s")

_MAX_BACKOFF_S: Final = 10.0
_MAX_RETRY_AFTER_S: Final = 30.0


class Outcome(msgspec.Struct, frozen=True):
    """What one POST achieved."""

    ok: bool
    retryable: bool = False
    retry_after_s: float | None = None
    rejected: int = 0
    """Spans the collector refused in a partial success."""
    unreachable: bool = False
    """No HTTP answer at all (refused, reset, timed out): nothing is listening, or nothing reachable."""
    reason: str = ""


def backoff_s(attempt: int) -> float:
    """0.5, 1, 2, 4, 8, 10, 10 ... seconds, each ±20 %."""
    return float(min(_MAX_BACKOFF_S, 0.5 * 2**attempt) * random.uniform(0.8, 1.2))  # jitter, not crypto


class OtlpHttpClient:
    def __init__(self, endpoint: str, headers: dict[str, str], timeout_s: float, compression: str) -> None:
        url = urlsplit(endpoint)
        if url.scheme not in {"http", "https"} or not url.hostname:
            raise ValueError(f"unsupported OTLP endpoint {endpoint!r}")
        self._https = url.scheme == "https"
        self._host = url.hostname
        self._port = url.port or (443 if self._https else 80)
        self._path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        self._timeout_s = timeout_s
        self._gzip = compression == "gzip"
        self._headers = {**headers, "Content-Type": "application/x-protobuf"}
        if self._gzip:
            self._headers["Content-Encoding"] = "gzip"
        self._connection: http.client.HTTPConnection | None = None

    def post(self, body: bytes, timeout_s: float | None = None) -> Outcome:
        """One attempt; ``timeout_s`` (default: the configured one) bounds connecting and each socket wait."""
        if self._gzip:
            body = gzip.compress(body, compresslevel=5)
        timeout = self._timeout_s if timeout_s is None else timeout_s
        try:
            connection = self._connection or self._connect()
            connection.timeout = timeout
            if connection.sock is not None:
                connection.sock.settimeout(timeout)
            connection.request("POST", self._path, body=body, headers=self._headers)
            response = connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            return Outcome(ok=False, retryable=True, unreachable=True, reason=f"{type(exc).__name__}: {exc}")
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        status = response.status
        if 200 <= status < 300:
            return Outcome(ok=True, rejected=_rejected(payload))
        reason = f"HTTP {status}"
        if status == 429 or status >= 500:
            return Outcome(
                ok=False, retryable=True, retry_after_s=_retry_after(response.getheader("Retry-After")), reason=reason
            )
        return Outcome(ok=False, reason=reason)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._https:
            self._connection = http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout_s)
        else:
            self._connection = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout_s)
        return self._connection


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return min(_MAX_RETRY_AFTER_S, max(0.0, float(value)))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _rejected(payload: bytes) -> int:
    if not payload:
        return 0
    try:
        response = ExportTraceServiceResponse.FromString(payload)
    except Exception:  # a collector answering 200 with a body we cannot read still took the spans
        return 0
    return int(response.partial_success.rejected_spans)
