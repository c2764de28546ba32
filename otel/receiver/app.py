"""The OTLP/HTTP server: a bare ASGI application for uvicorn.

Bare ASGI rather than Litestar because the protocol is fixed and small (three POST routes and a health probe)
and every answer has a body the OTLP specification defines: an ``Export*ServiceResponse`` or a
``google.rpc.Status`` in the request's own encoding, ``415``/``413`` decided from headers before the body is
read. A framework would add request parsing and error shapes to work around, and nothing to use.

The event loop only moves bytes. Decoding (inflate, parse, validate, build rows) runs on one decode thread, and
the rows go to the writer thread; a request is answered once its rows are committed. One decode thread, not a
pool: the work holds the GIL, so more threads would only add switching.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import msgspec

from otel.receiver import responses
from otel.receiver.decode import (
    BodyTooLarge,
    Compression,
    Encoding,
    InvalidBody,
    Signal,
    UnsupportedMediaType,
    compression,
    decode,
    media_type,
)
from otel.receiver.jsonl import JsonlSink
from otel.receiver.store import SpanStore
from otel.receiver.writer import Writer

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, MutableMapping

    from otel.receiver.settings import ReceiverSettings

    Scope = MutableMapping[str, Any]
    Message = MutableMapping[str, Any]
    Receive = Callable[[], Awaitable[Message]]
    Send = Callable[[Message], Awaitable[None]]

__all__ = ("ROUTES", "Receiver", "create_app")

log = logging.getLogger("otel.receiver")

ROUTES = {"/v1/traces": Signal.TRACES, "/v1/metrics": Signal.METRICS, "/v1/logs": Signal.LOGS}
_PROBES = frozenset({"/health", "/ready", "/live"})
_TEXT = b"text/plain; charset=utf-8"
_RETRY_AFTER_S = b"1"


class _Disconnected(Exception):
    """The client went away before sending its whole body."""


class Receiver:
    """The ASGI application; its store, writer and decode thread live from lifespan start-up to shutdown."""

    def __init__(self, settings: ReceiverSettings) -> None:
        self.settings = settings
        self._writer: Writer | None = None
        self._decoder: ThreadPoolExecutor | None = None
        self.counts = {"requests": 0, "invalid": 0, "rejected_items": 0, "accepted_items": 0}

    # --- lifespan -------------------------------------------------------------------------------------------

    def startup(self) -> None:
        """Open the store (failing start-up on a bad path) and start the writer and decode threads."""
        store = SpanStore(self.settings.receiver_store, durable=self.settings.receiver_durable)
        jsonl = JsonlSink(self.settings.receiver_jsonl) if self.settings.receiver_jsonl else None
        self._writer = Writer(store, jsonl)
        self._writer.start()
        self._decoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="otlp-decode")
        log.info(
            "OTLP/HTTP receiver: store %s%s",
            store.path,
            f", JSON lines in {jsonl.directory}" if jsonl is not None else "",
        )

    def shutdown(self) -> None:
        """Finish decoding what arrived, commit everything queued, close the store."""
        if self._decoder is not None:
            self._decoder.shutdown(wait=True)
        if self._writer is not None:
            self._writer.close()
        log.info("receiver stopped: %s", self.counts)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.startup()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.get_running_loop().run_in_executor(None, self.shutdown)
                await send({"type": "lifespan.shutdown.complete"})
                return

    # --- HTTP -----------------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            try:
                await self._http(scope, receive, send)
            except _Disconnected:
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        if path in _PROBES and method in ("GET", "HEAD"):
            await self._probe(send)
            return
        signal = ROUTES.get(path)
        if signal is None:
            await _respond(send, 404, b"not found: the receiver serves POST /v1/traces, /v1/metrics, /v1/logs\n")
            return
        if method != "POST":
            await _respond(send, 405, b"method not allowed: use POST\n", headers=[(b"allow", b"POST")])
            return
        headers = _headers(scope)
        try:
            encoding = media_type(headers.get(b"content-type"))
            compressed = compression(headers.get(b"content-encoding"))
        except UnsupportedMediaType as exc:
            self.counts["invalid"] += 1
            await _respond(send, 415, f"{exc}\n".encode())
            return
        await self._export(signal, encoding, compressed, headers, receive, send)

    async def _export(
        self,
        signal: Signal,
        encoding: Encoding,
        compressed: Compression,
        headers: dict[bytes, str],
        receive: Receive,
        send: Send,
    ) -> None:
        self.counts["requests"] += 1
        writer, decoder = self._writer, self._decoder
        if writer is None or decoder is None or not writer.alive:
            await _status(send, 503, encoding, responses.UNAVAILABLE, "the receiver is not running")
            return
        if writer.pending_rows > self.settings.receiver_max_pending_rows:
            await _status(send, 503, encoding, responses.UNAVAILABLE, "the store is behind; retry", retry=True)
            return
        limit = self.settings.receiver_max_body_bytes
        if _content_length(headers) > limit:
            await _status(send, 413, encoding, responses.RESOURCE_EXHAUSTED, f"the body is over {limit} bytes")
            return
        body = await _read_body(receive, limit)
        if body is None:
            await _status(send, 413, encoding, responses.RESOURCE_EXHAUSTED, f"the body is over {limit} bytes")
            return
        work = functools.partial(
            decode,
            signal,
            body,
            encoding,
            compression=compressed,
            limit=limit,
            keep=self.settings.receiver_jsonl is not None,
        )
        try:
            batch = await asyncio.get_running_loop().run_in_executor(decoder, work)
        except InvalidBody as exc:
            self.counts["invalid"] += 1
            log.debug("400 on %s: %s", signal.value, exc)
            await _status(send, 400, encoding, responses.INVALID_ARGUMENT, str(exc))
            return
        except BodyTooLarge as exc:
            await _status(send, 413, encoding, responses.RESOURCE_EXHAUSTED, str(exc))
            return
        if batch.rows:
            try:
                await asyncio.wrap_future(writer.submit(batch))
            except Exception as exc:
                await _status(send, 503, encoding, responses.UNAVAILABLE, f"the store failed: {exc}", retry=True)
                return
        self.counts["accepted_items"] += batch.accepted
        self.counts["rejected_items"] += batch.rejected
        if batch.rejected:
            log.debug("partial success on %s: %d rejected: %s", signal.value, batch.rejected, batch.error_message)
        body = responses.export_response(signal, encoding, batch.rejected, batch.error_message)
        await _respond(send, 200, body, content_type=encoding.value.encode())

    async def _probe(self, send: Send) -> None:
        writer = self._writer
        healthy = writer is not None and writer.alive
        report = {
            "status": "ok" if healthy else "unavailable",
            "store": self.settings.receiver_store,
            "committed_rows": writer.committed_rows if writer else 0,
            "pending_rows": writer.pending_rows if writer else 0,
            "last_store_error": writer.last_error if writer else None,
            **self.counts,
        }
        await _respond(send, 200 if healthy else 503, msgspec.json.encode(report), content_type=b"application/json")


def _headers(scope: Scope) -> dict[bytes, str]:
    return {name: value.decode("latin-1") for name, value in scope["headers"]}


def _content_length(headers: dict[bytes, str]) -> int:
    try:
        return int(headers.get(b"content-length", "0"))
    except ValueError:
        return 0


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, or ``None`` as soon as it passes ``limit`` (the rest is not read)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    *,
    content_type: bytes = _TEXT,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _status(send: Send, status: int, encoding: Encoding, code: int, message: str, *, retry: bool = False) -> None:
    """A failure answer: ``google.rpc.Status`` in the request's encoding (``Retry-After`` on retryable ones)."""
    headers = [(b"retry-after", _RETRY_AFTER_S)] if retry else None
    body = responses.status(encoding, code, message)
    await _respond(send, status, body, content_type=encoding.value.encode(), headers=headers)


def create_app(settings: ReceiverSettings) -> Receiver:
    """The application; nothing is opened until uvicorn runs its lifespan start-up."""
    return Receiver(settings)
