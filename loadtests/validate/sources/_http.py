"""A small blocking JSON-over-HTTP client for the network sources (stdlib only: aiohttp is a test dependency).

One keep-alive connection per source, a timeout on every call, and errors that name the service and the cause
("cannot reach Jaeger at http://...: connection refused"). The validator is not on a hot path: plain ``http.client``
is enough, and callers in an event loop run a source's methods in a thread.
"""

from __future__ import annotations

import http.client
import socket
import threading
from typing import Any
from urllib.parse import urlencode, urlsplit

import msgspec

from loadtests.validate.sources.base import SourceError

__all__ = ("HttpReply", "JsonHttp", "check_base_url")

_decode = msgspec.json.Decoder().decode


class HttpReply(msgspec.Struct, frozen=True):
    status: int
    body: bytes
    content_type: str

    def json(self) -> Any:
        return _decode(self.body) if self.body else None


def check_base_url(url: str, service: str) -> str:
    """``url`` without a trailing slash, or ``SourceError`` when it is not an http(s) URL with a host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SourceError(f"{service}: {url!r} is not an http:// or https:// URL (e.g. http://127.0.0.1:16686)")
    try:
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        raise SourceError(f"{service}: {url!r} has a malformed port") from None
    return url.rstrip("/")


def _reason(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(error, socket.gaierror):
        return f"unknown host ({error.strerror})"
    if isinstance(error, ConnectionResetError):
        return "connection reset"
    if isinstance(error, http.client.RemoteDisconnected):
        return "the server closed the connection"
    return str(error) or type(error).__name__


class JsonHttp:
    """GETs against one base URL, over one reused connection (re-opened once when the server dropped it)."""

    def __init__(self, base_url: str, *, service: str, timeout_s: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.service = service
        self.timeout_s = timeout_s
        parts = urlsplit(self.base_url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()

    def url(self, path: str, params: dict[str, str] | None = None) -> str:
        """The full URL of a request, as recorded in a source's ``queries()``."""
        query = f"?{urlencode(params)}" if params else ""
        return f"{self.base_url}{path}{query}"

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            factory = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = factory(self._host, self._port, timeout=self.timeout_s)
        return self._conn

    def get(self, path: str, params: dict[str, str] | None = None) -> HttpReply:
        """One GET; any status is returned (callers decide), network failures raise ``SourceError``."""
        target = f"{self._prefix}{path}" + (f"?{urlencode(params)}" if params else "")
        headers = {"Accept": "application/json", "Accept-Encoding": "identity"}
        with self._lock:
            for attempt in (1, 2):
                conn = self._connection()
                try:
                    conn.request("GET", target, headers=headers)
                    response = conn.getresponse()
                    body = response.read()
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as error:
                    self.close_connection()
                    if attempt == 1:  # a keep-alive connection the server had closed: one fresh try
                        continue
                    raise SourceError(f"cannot reach {self.service} at {self.base_url}: {_reason(error)}") from None
                except (OSError, http.client.HTTPException) as error:
                    self.close_connection()
                    raise SourceError(f"cannot reach {self.service} at {self.base_url}: {_reason(error)}") from None
                if response.will_close:
                    self.close_connection()
                return HttpReply(response.status, body, response.getheader("Content-Type") or "")
        raise AssertionError("unreachable")

    def close_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def close(self) -> None:
        with self._lock:
            self.close_connection()
