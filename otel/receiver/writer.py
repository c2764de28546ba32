"""The writer thread: group commit of decoded batches into the store (then the JSON lines).

Requests wait for their batch to be committed before they are answered, so an exporter's 200 means "queryable
now" (the tests and the validator rely on it). Batches that queue up while a transaction runs go into the next one
together, so under load the cost of a commit is shared by many requests, and with one sender there is no waiting
for a timer. A group that fails is retried batch by batch, so one poisonous request cannot fail its neighbours.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from otel.receiver.decode import Batch
    from otel.receiver.jsonl import JsonlSink
    from otel.receiver.store import SpanStore

__all__ = ("Writer",)

log = logging.getLogger(__name__)

_Item = tuple["Batch", "Future[None]"]
MAX_GROUP_ROWS = 20_000
"""Rows per transaction at most: big enough to amortise the commit, small enough to keep answers prompt."""


class Writer:
    """Owns the store (and the JSON-lines sink) once started; ``submit`` from any thread."""

    def __init__(self, store: SpanStore, jsonl: JsonlSink | None = None) -> None:
        self._store = store
        self._jsonl = jsonl
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()  # None: commit what came before, stop
        self._thread = threading.Thread(target=self._run, name="otlp-writer", daemon=True)
        self._pending_rows = 0
        self._pending_lock = threading.Lock()
        self.committed_rows = 0
        self.last_error: str | None = None

    def start(self) -> None:
        self._thread.start()

    @property
    def pending_rows(self) -> int:
        """Rows accepted but not yet committed: the back-pressure signal for the HTTP side."""
        return self._pending_rows

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, batch: Batch) -> Future[None]:
        """Queue ``batch``; the future completes when it is committed (or fails with the store's error)."""
        future: Future[None] = Future()
        with self._pending_lock:
            self._pending_rows += len(batch.rows)
        self._queue.put((batch, future))
        return future

    def close(self, timeout: float = 60.0) -> None:
        """Commit everything queued so far, then close the store and the sink."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)
        try:
            self._store.close()
        finally:
            if self._jsonl is not None:
                self._jsonl.close()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            group = [first]
            rows = len(first[0].rows)
            while rows < MAX_GROUP_ROWS:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                group.append(item)
                rows += len(item[0].rows)
            self._commit(group)

    def _commit(self, group: list[_Item]) -> None:
        batches = [batch for batch, _ in group]
        started = time.perf_counter()
        try:
            self._store.write(batches)
        except Exception as exc:
            if len(group) > 1:
                for one in group:
                    self._commit([one])
                return
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("store write failed (%d rows)", len(batches[0].rows))
            self._settle(group, exc)
            return
        rows = sum(len(batch.rows) for batch in batches)
        self.committed_rows += rows
        if self._jsonl is not None:
            try:
                self._jsonl.write(batches)
            except OSError:
                # The store has the data; the file copy is best effort, and its failure must not fail exporters.
                log.exception("writing the JSON lines failed")
        elapsed_ms = 1e3 * (time.perf_counter() - started)
        log.debug("committed %d rows from %d requests in %.1f ms", rows, len(group), elapsed_ms)
        self._settle(group, None)

    def _settle(self, group: list[_Item], error: BaseException | None) -> None:
        with self._pending_lock:
            self._pending_rows -= sum(len(batch.rows) for batch, _ in group)
        for _, future in group:
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)
