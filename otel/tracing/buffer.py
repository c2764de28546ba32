"""The bounded in-process span buffer between ``FastSpan.end`` and the shipper thread.

``append`` is the only part on the request path, so it takes no lock: ``deque.append``/``popleft`` are atomic under
the GIL, and a length check in front keeps the buffer bounded (by at most one record per racing thread). When it is
full the span is dropped and counted — a request never waits for telemetry. The drop counter is the one thing
guarded by a lock, because ``+=`` from several threads can lose counts and drops are exactly what must be reported.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from otel.tracing.wire import SpanRecord

__all__ = ("SpanBuffer",)


class SpanBuffer:
    def __init__(self, capacity: int, batch: int) -> None:
        self._queue: deque[SpanRecord] = deque()
        self._capacity = capacity
        self._batch = batch
        self._dropped = 0
        self._drop_lock = threading.Lock()
        self.wake = threading.Event()
        """Set when a full batch is waiting, so the shipper need not wait for its timer."""

    def append(self, record: SpanRecord) -> None:
        queue = self._queue
        if len(queue) < self._capacity:
            queue.append(record)
            if len(queue) == self._batch:
                self.wake.set()
        else:
            self.count_dropped(1)

    def drain(self, limit: int) -> list[SpanRecord]:
        """Up to ``limit`` records, oldest first."""
        popleft = self._queue.popleft
        return [popleft() for _ in range(min(limit, len(self._queue)))]

    def close(self) -> None:
        """Refuse (and count) every later span: after shutdown there is no one left to ship it."""
        self._capacity = 0

    def count_dropped(self, count: int) -> None:
        with self._drop_lock:
            self._dropped += count

    @property
    def dropped(self) -> int:
        return self._dropped

    @property
    def capacity(self) -> int:
        return self._capacity

    def __len__(self) -> int:
        return len(self._queue)
