"""The exporter process: span frames in on stdin, OTLP/HTTP out, cumulative counters back on stdout.

Two threads. The reader decodes frames into a bounded queue as fast as the parent writes them, so the parent's pipe
drains even while the collector is down; when the queue is full the *oldest* spans go (the newest say most about
the present) and are counted. The main thread takes up to ``max_batch`` spans at a time, encodes them, and POSTs
with retries until ``retry_budget_s`` or the shutdown deadline runs out; then the batch is dropped and counted.

It exits when the parent says ``SHUTDOWN`` (with how long the parent will wait), on EOF (the parent is gone: the
kernel closed the pipe), when its parent pid changes, or ``grace_s`` after SIGTERM — every path exports what it can
before its deadline and reports its final counters. Ctrl-C in a terminal is ignored: the parent decides when the
last spans have been handed over.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections import deque
from typing import IO, TYPE_CHECKING, Any, Final

import msgspec

from otel.tracing.exporter.http import OtlpHttpClient, backoff_s
from otel.tracing.exporter.otlp import AttributeCache, ScopeTable, encode_request, resource_proto
from otel.tracing.ratelimit import RateLimitedLog
from otel.tracing.wire import (
    CONFIG,
    HEADER,
    SCOPES,
    SHUTDOWN,
    SPANS,
    STATUS,
    ExporterConfig,
    ExporterStatus,
    decode_frame,
    encode_frame,
)

if TYPE_CHECKING:
    from types import FrameType

__all__ = ("Exporter", "main")

logger = logging.getLogger("otel.tracing.exporter")
_SHUTDOWN_MARGIN_S: Final = 0.5
"""Finish this long before the parent's deadline, so it reads our final counters instead of killing us."""
_POLL_S: Final = 0.5


class Exporter:
    def __init__(self, config: ExporterConfig, status_fd: int) -> None:
        self.config = config
        self._client = OtlpHttpClient(config.endpoint, config.headers, config.timeout_s, config.compression)
        self._resource = resource_proto(config.resource)
        self._scopes = ScopeTable()
        self._attributes = AttributeCache()
        self._queue: deque[Any] = deque()
        self._ready = threading.Condition()
        self._interrupt = threading.Event()
        self._input_done = False
        self._closed = False
        self._deadline: float | None = None
        self._exported = 0
        self._dropped = 0
        self._reported = ExporterStatus()
        self._status_fd = status_fd
        self._status_lock = threading.Lock()
        self._parent = os.getppid()
        self._log = RateLimitedLog(logger)

    # --- input ----------------------------------------------------------------------------------------------------

    def read(self, stream: IO[bytes]) -> None:
        """Reader thread: frames until SHUTDOWN or EOF."""
        grace = self.config.grace_s
        try:
            while True:
                frame = read_frame(stream)
                if frame is None:
                    break
                kind, payload = frame
                if kind == SPANS:
                    self._enqueue(payload)
                elif kind == SCOPES:
                    self._scopes.update(payload)
                elif kind == SHUTDOWN:
                    grace = max(0.0, float(payload) - _SHUTDOWN_MARGIN_S)
                    break
        except (OSError, ValueError, msgspec.DecodeError) as exc:
            logger.error("span exporter input failed: %s", exc)
        self.finish_input(grace)

    def finish_input(self, grace_s: float) -> None:
        with self._ready:
            self._input_done = True
            self.set_deadline(grace_s)
            self._ready.notify_all()

    def set_deadline(self, grace_s: float) -> None:
        deadline = time.monotonic() + grace_s
        if self._deadline is None or deadline < self._deadline:
            self._deadline = deadline
        self._interrupt.set()

    def _enqueue(self, records: list[Any]) -> None:
        limit = self.config.max_queue
        with self._ready:
            if self._closed:  # read after the deadline: too late to export, not too late to count
                self._dropped += len(records)
                return
            overflow = len(self._queue) + len(records) - limit
            if overflow > 0:
                from_queue = min(overflow, len(self._queue))
                for _ in range(from_queue):
                    self._queue.popleft()
                if overflow > from_queue:
                    records = records[overflow - from_queue :]
                self._dropped += overflow
                self._log.warning("overflow", "span exporter queue full (%d); dropping the oldest spans", limit)
            self._queue.extend(records)
            self._ready.notify()

    # --- output ---------------------------------------------------------------------------------------------------

    def run(self) -> None:
        """Main thread: export batches until the input is done and the queue empty, or the deadline passes."""
        while True:
            batch = self._next_batch()
            if batch is None:
                break
            if batch:
                self._export(batch)
            self.report()
        with self._ready:
            self._closed = True
            left = len(self._queue)
            self._queue.clear()
            self._dropped += left
        if left:
            logger.warning("span exporter stopped with %d spans unexported", left)
        self._client.close()
        self.report(final=True)

    def _next_batch(self) -> list[Any] | None:
        with self._ready:
            if not self._queue and not self._input_done:
                self._ready.wait(_POLL_S)
            if os.getppid() != self._parent and not self._input_done:
                self._input_done = True
                self.set_deadline(self.config.grace_s)
            if self._deadline is not None and time.monotonic() >= self._deadline:
                return None
            if not self._queue:
                return None if self._input_done else []
            return [self._queue.popleft() for _ in range(min(self.config.max_batch, len(self._queue)))]

    def _export(self, batch: list[Any]) -> None:
        try:
            body = encode_request(batch, self._scopes, self._resource, self._attributes)
        except Exception as exc:  # a malformed record must cost its batch, not the process
            self._drop(len(batch), "encode", "cannot encode %d spans: %s", len(batch), exc)
            return
        give_up = time.monotonic() + self.config.retry_budget_s
        attempt = 0
        while True:
            timeout = None if self._deadline is None else max(0.1, self._deadline - time.monotonic())
            outcome = self._client.post(body, timeout if timeout is None else min(timeout, self.config.timeout_s))
            if outcome.ok:
                self._exported += len(batch) - outcome.rejected
                if outcome.rejected:
                    self._drop(outcome.rejected, "rejected", "collector rejected %d spans", outcome.rejected)
                return
            if not outcome.retryable or (outcome.unreachable and self._deadline is not None):
                # Shutting down with no collector to talk to: waiting for one would only delay the service's exit.
                self._drop(
                    len(batch), "failed", "span export failed (%s); %d spans dropped", outcome.reason, len(batch)
                )
                return
            delay = outcome.retry_after_s if outcome.retry_after_s is not None else backoff_s(attempt)
            attempt += 1
            limit = give_up if self._deadline is None else min(give_up, self._deadline)
            if time.monotonic() + delay > limit:
                self._drop(
                    len(batch), "gave-up", "span export failed (%s); %d spans dropped", outcome.reason, len(batch)
                )
                return
            self._log.warning("retry", "span export failed (%s); retrying", outcome.reason)
            self.report()
            self._interrupt.clear()
            self._interrupt.wait(delay)

    def _drop(self, count: int, key: str, message: str, *args: object) -> None:
        with self._ready:  # the reader thread counts its drops too
            self._dropped += count
        self._log.warning(key, message, *args)

    def report(self, final: bool = False) -> None:
        """Send the counters to the parent when they changed; a full pipe just skips one (they are cumulative)."""
        status = ExporterStatus(self._exported, self._dropped)
        if status == self._reported and not final:
            return
        frame = encode_frame(STATUS, status)
        with self._status_lock:
            if final:
                os.set_blocking(self._status_fd, True)
            try:
                os.write(self._status_fd, frame)
                self._reported = status
            except OSError:  # full (skip this one) or the parent is gone (no one to tell)
                pass


def read_frame(stream: IO[bytes]) -> tuple[int, Any] | None:
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (length,) = HEADER.unpack(header)
    body = stream.read(length)
    if len(body) < length:
        return None
    return decode_frame(body)


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s otel-exporter[%(process)d] %(levelname)s %(message)s",
    )
    # stdout is our status channel: keep it to ourselves, and let stray prints go to stderr.
    status_fd = os.dup(sys.stdout.fileno())
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    os.set_blocking(status_fd, False)
    stream = sys.stdin.buffer
    try:
        first = read_frame(stream)
    except (OSError, ValueError, msgspec.DecodeError) as exc:
        logger.error("span exporter: unreadable configuration frame: %s", exc)
        return 2
    if first is None:
        return 0  # the parent went away before saying anything
    kind, payload = first
    if kind != CONFIG:
        logger.error("span exporter: expected a configuration frame, got kind %d", kind)
        return 2
    try:
        exporter = Exporter(msgspec.convert(payload, ExporterConfig), status_fd)
    except (msgspec.ValidationError, ValueError) as exc:
        logger.error("span exporter: invalid configuration: %s", exc)
        return 2

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        exporter.set_deadline(exporter.config.grace_s)

    signal.signal(signal.SIGTERM, on_sigterm)
    reader = threading.Thread(target=exporter.read, args=(stream,), name="span-exporter-reader", daemon=True)
    reader.start()
    exporter.run()
    with contextlib.suppress(OSError):
        os.close(status_fd)
    return 0
