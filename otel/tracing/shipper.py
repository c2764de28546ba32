"""The service side of the exporter process: spawn it, feed it span frames from one background thread, stop it.

Why a process: building OTLP protobuf costs ~70 µs per span in Python, which on the request core is more than the
request itself (reference/otel-cost.md). The exporter process (``python -m otel.tracing.exporter``) pays it on
another core; this process only msgpack-encodes batches of flat tuples, off the request path, on this thread.

Back-pressure never reaches a request. The pipe is non-blocking: when it is full (the exporter lags), the current
frame waits here and new spans wait in the ``SpanBuffer`` until its bound, beyond which they are dropped and counted.
The exporter reports its own drops (collector down, retries exhausted) back over its stdout, so ``dropped`` is the
whole count. If the exporter dies it is restarted (at most every ``restart_interval_s``); the spans of a frame it
never read are counted as dropped. It dies with us: it exits on EOF of its stdin, which the kernel delivers when
this process ends however it ends, and it also watches its parent pid.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import msgspec

from otel.tracing.buffer import SpanBuffer
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
    from collections.abc import Callable, Sequence

    from otel.tracing.wire import ScopeRecord, SpanRecord

__all__ = ("EXPORTER_COMMAND", "Shipper")

EXPORTER_COMMAND: Final = (sys.executable, "-m", "otel.tracing.exporter")
_PACKAGE_ROOT: Final = str(Path(__file__).resolve().parents[2])
_F_SETPIPE_SZ: Final = 1031
_PIPE_SIZE: Final = 1 << 20
_INT64_MIN: Final = -(1 << 63)
_UINT64_MAX: Final = (1 << 64) - 1

logger = logging.getLogger(__name__)


class Shipper:
    """A ``SpanPipeline`` backed by an exporter process; ``start()`` it, ``shutdown()`` it exactly once."""

    append: Callable[[SpanRecord], None]

    def __init__(
        self,
        config: ExporterConfig,
        *,
        capacity: int,
        batch: int,
        interval_s: float,
        restart_interval_s: float = 5.0,
        command: Sequence[str] = EXPORTER_COMMAND,
    ) -> None:
        self.buffer = SpanBuffer(capacity, batch)
        self.append = self.buffer.append
        self._config = config
        self._batch = batch
        self._interval_s = interval_s
        self._restart_interval_s = restart_interval_s
        self._command = tuple(command)
        self._scopes: list[ScopeRecord] = []
        self._scopes_sent = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._stdin = -1
        self._stdout = -1
        self._inbox = bytearray()
        self._pending: memoryview | None = None
        self._pending_spans = 0
        self._sent = 0
        """Spans whose frames the current exporter has in full: what its counters must add up to at its end."""
        self._next_start = 0.0
        self._lost = 0
        self._status = ExporterStatus()
        self._retired = ExporterStatus()
        self._flush_waiters: list[threading.Event] = []
        self._lock = threading.Lock()
        self._stopping = False
        self._deadline = 0.0
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="pp-span-shipper", daemon=True)
        self._log = RateLimitedLog(logger)

    # --- the SpanPipeline protocol --------------------------------------------------------------------------------

    def register_scope(self, scope: ScopeRecord) -> None:
        self._scopes.append(scope)

    def force_flush(self, timeout_s: float) -> bool:
        """Wait until every span ended so far is written to the exporter's pipe (not: exported)."""
        if self._stopping:
            return False
        waiter = threading.Event()
        with self._lock:
            self._flush_waiters.append(waiter)
        self.buffer.wake.set()
        return waiter.wait(timeout_s)

    def shutdown(self, timeout_s: float) -> None:
        """Ship what is buffered, let the exporter export it, and wait for it to exit (then kill it)."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
            self._deadline = time.monotonic() + timeout_s
        self.buffer.wake.set()
        if self._thread.is_alive():
            self._thread.join(max(0.0, self._deadline - time.monotonic()) + 1.0)
        process = self._process
        if process is not None:
            try:
                process.wait(max(0.1, self._deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("span exporter (pid %d) did not exit in time; killing it", process.pid)
                process.kill()
                process.wait()
            self._read_status(final=True)
            self._retire()
        self._stopped = True
        if self._lost:
            logger.warning("%d spans were lost on their way to the span exporter", self._lost)

    # --- counters -------------------------------------------------------------------------------------------------

    @property
    def dropped(self) -> int:
        """Spans that will never be exported: buffer full, lost with a dead exporter, dropped by the exporter."""
        return self.buffer.dropped + self._lost + self._retired.dropped + self._status.dropped

    @property
    def exported(self) -> int:
        """Spans the collector accepted (as last reported by the exporter process)."""
        return self._retired.exported + self._status.exported

    @property
    def exporter_pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    # --- lifecycle ------------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._spawn()
        self._thread.start()

    def _spawn(self) -> None:
        self._next_start = time.monotonic() + self._restart_interval_s
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (_PACKAGE_ROOT, env.get("PYTHONPATH"))))
        try:
            process = subprocess.Popen(
                self._command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
                process_group=0,  # a terminal's Ctrl-C must not kill it before our final flush
            )
        except OSError as exc:
            self._log.error("spawn", "cannot start the span exporter: %s", exc)
            return
        assert process.stdin is not None and process.stdout is not None
        self._process = process
        self._stdin = process.stdin.fileno()
        self._stdout = process.stdout.fileno()
        os.set_blocking(self._stdin, False)
        os.set_blocking(self._stdout, False)
        with contextlib.suppress(OSError):
            fcntl.fcntl(self._stdin, _F_SETPIPE_SZ, _PIPE_SIZE)
        scopes = list(self._scopes)
        self._scopes_sent = len(scopes)
        hello = encode_frame(CONFIG, self._config)
        if scopes:
            hello += encode_frame(SCOPES, scopes)
        self._pending = memoryview(hello)
        self._pending_spans = 0

    def _run(self) -> None:
        while not self._stopping:
            self.buffer.wake.wait(self._interval_s)
            self.buffer.wake.clear()
            try:
                self._tick(deadline=None)
            except Exception:  # the thread must outlive any bug in one batch
                logger.exception("span shipper failed; continuing")
        try:
            self._finish()
        except Exception:
            logger.exception("span shipper failed to flush at shutdown")

    def _tick(self, deadline: float | None) -> bool:
        self._check_process()
        shipped = self._ship(deadline)
        self._read_status()
        if shipped:
            with self._lock:
                waiters, self._flush_waiters = self._flush_waiters, []
            for waiter in waiters:
                waiter.set()
        return shipped

    def _finish(self) -> None:
        """Drain everything (then refuse new spans) before the deadline, then tell the exporter to finish."""
        deadline = self._deadline
        closed = False
        while True:
            if self._tick(deadline):
                if closed:
                    break
                self.buffer.close()  # spans ended from now on are counted as dropped
                closed = True
                continue
            if time.monotonic() >= deadline:
                break
            time.sleep(0.01)
        remaining = len(self.buffer)
        if remaining:
            self.buffer.drain(remaining)
            self.buffer.count_dropped(remaining)
        if self._pending is not None:
            # Out of time with a frame unwritten (maybe half-written: no SHUTDOWN frame can follow it). EOF tells
            # the exporter to finish; whatever it cannot report by the deadline is counted when it is retired.
            self._lost += self._pending_spans
            self._pending = None
            self._pending_spans = 0
        elif self._process is not None:
            self._pending = memoryview(encode_frame(SHUTDOWN, max(0.0, deadline - time.monotonic())))
            self._write_pending(deadline)
            self._pending = None
        if self._process is not None and self._process.stdin is not None:
            with contextlib.suppress(OSError):
                self._process.stdin.close()

    # --- the pipe -------------------------------------------------------------------------------------------------

    def _ship(self, deadline: float | None) -> bool:
        """Write buffered spans as frames; True when the buffer is empty and nothing is left half-written."""
        while True:
            if self._pending is not None and not self._write_pending(deadline):
                return False
            if self._process is None:
                return len(self.buffer) == 0
            records = self.buffer.drain(self._batch)
            if not records:
                return True
            frame = self._frame(records)
            self._pending = memoryview(frame) if frame else None
            self._pending_spans = len(records) if frame else 0

    def _write_pending(self, deadline: float | None) -> bool:
        pending = self._pending
        while pending:
            try:
                written = os.write(self._stdin, pending)
            except BlockingIOError:
                remaining = -1.0 if deadline is None else deadline - time.monotonic()
                if remaining <= 0:
                    self._pending = pending
                    return False
                select.select([], [self._stdin], [], min(remaining, 0.05))
                continue
            except OSError as exc:  # BrokenPipeError and friends: the exporter is gone
                self._log.warning("pipe", "span exporter pipe failed: %s", exc)
                self._pending = None
                self._exporter_gone()
                return False
            pending = pending[written:]
        self._pending = None
        self._sent += self._pending_spans
        self._pending_spans = 0
        return True

    def _frame(self, records: list[SpanRecord]) -> bytes:
        head = b""
        if len(self._scopes) > self._scopes_sent:
            new = self._scopes[self._scopes_sent :]
            self._scopes_sent += len(new)
            head = encode_frame(SCOPES, new)
        try:
            return head + encode_frame(SPANS, records)
        except (OverflowError, TypeError, ValueError, msgspec.EncodeError):
            return head + self._frame_salvaged(records)

    def _frame_salvaged(self, records: list[SpanRecord]) -> bytes:
        """One span had a value msgpack cannot carry (an integer beyond 64 bits, an odd type): fix or drop just it."""
        kept: list[Any] = []
        for record in records:
            try:
                encode_frame(SPANS, [record])
                kept.append(record)
            except (OverflowError, TypeError, ValueError, msgspec.EncodeError):
                kept.append(_sanitized(record))
        try:
            return encode_frame(SPANS, kept)
        except (OverflowError, TypeError, ValueError, msgspec.EncodeError):
            self._lost += len(records)
            self._log.error("encode", "could not encode %d spans; dropped", len(records))
            return b""

    def _read_status(self, final: bool = False) -> None:
        if self._stdout < 0:
            return
        if final:
            os.set_blocking(self._stdout, True)
        while True:
            try:
                chunk = os.read(self._stdout, 65536)
            except BlockingIOError:
                break
            except OSError:
                chunk = b""
            if not chunk:
                break
            self._inbox += chunk
        while len(self._inbox) >= HEADER.size:
            (length,) = HEADER.unpack_from(self._inbox)
            if len(self._inbox) < HEADER.size + length:
                break
            body = bytes(self._inbox[HEADER.size : HEADER.size + length])
            del self._inbox[: HEADER.size + length]
            with contextlib.suppress(msgspec.DecodeError, ValueError, TypeError):
                kind, payload = decode_frame(body)
                if kind == STATUS:
                    self._status = msgspec.convert(payload, ExporterStatus)

    # --- exporter failures ----------------------------------------------------------------------------------------

    def _check_process(self) -> None:
        process = self._process
        if process is not None and process.poll() is not None:
            self._log.warning("exited", "span exporter exited with code %s", process.returncode)
            self._exporter_gone()
        if self._process is None and not self._stopped and time.monotonic() >= self._next_start:
            self._spawn()

    def _exporter_gone(self) -> None:
        process = self._process
        if process is None:
            return
        self._lost += self._pending_spans
        self._pending = None
        self._pending_spans = 0
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(0.5)
        self._read_status(final=process.returncode is not None)
        self._retire()

    def _retire(self) -> None:
        """Fold the finished process's counters into the totals and let go of its pipes.

        Spans it received but neither exported nor reported dropped (it crashed, or was killed at the deadline)
        are counted as lost here, so ``dropped`` stays complete whatever the exporter's end.
        """
        process = self._process
        unaccounted = self._sent - self._status.exported - self._status.dropped
        if unaccounted > 0:
            self._lost += unaccounted
        self._sent = 0
        self._retired = ExporterStatus(
            self._retired.exported + self._status.exported, self._retired.dropped + self._status.dropped
        )
        self._status = ExporterStatus()
        self._inbox.clear()
        self._process = None
        self._stdin = self._stdout = -1
        if process is not None:
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()


def _sanitized(record: SpanRecord) -> Any:
    """The record with every value msgpack cannot encode replaced by its ``str()``."""
    fields: list[Any] = list(record)
    fields[10] = _safe(fields[10])
    if fields[11]:
        fields[11] = [(name, time_ns, _safe(attrs), dropped) for name, time_ns, attrs, dropped in fields[11]]
    if fields[12]:
        fields[12] = [(*link[:5], _safe(link[5]), link[6]) for link in fields[12]]
    return tuple(fields)


def _safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_safe(item) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, str | float | bytes):
        return value
    if isinstance(value, int) and _INT64_MIN <= value <= _UINT64_MAX:
        return value
    return str(value)
