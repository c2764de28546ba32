"""The in-process tier (L1): an LRU with per-entry expiry, bounded by entry count and by value bytes.

Why hand-written: ``get`` is the hot path of every cached request (thousands per second per core), and an
``OrderedDict`` gives O(1) lookup, recency update and eviction with nothing else on the path. A full cache evicts
the least recently used entries instead of refusing writes (the original threw ``ECACHEFULL`` and stopped caching).

Invariants, after every public call: ``len(self) <= max_entries`` and ``self.nbytes <= max_bytes``, where
``nbytes`` is the sum of ``len(value)`` over stored entries (keys and per-entry overhead are not counted; budget
``max_bytes`` with that in mind). Expired entries are dropped when read; one that is never read again is removed
by LRU eviction in due course, so it can only take space that nothing else currently needs.

Values are ``bytes``, immutable, so handing the stored object to callers is safe (no copies).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ("MemoryCache",)


class MemoryCache:
    __slots__ = ("_clock", "_data", "_nbytes", "evictions", "expirations", "max_bytes", "max_entries")

    def __init__(self, max_entries: int, max_bytes: int, clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("max_entries and max_bytes must be positive")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._clock = clock
        # key -> (value, absolute expiry on self._clock); most recently used last.
        self._data: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self._nbytes = 0
        self.evictions = 0
        """Entries removed to make room (not counting expiry or explicit deletes)."""
        self.expirations = 0
        """Entries found expired on read and dropped."""

    def get(self, key: str) -> tuple[bytes, float] | None:
        """Return ``(value, remaining TTL in seconds)``, or None if absent or expired."""
        entry = self._data.get(key)
        if entry is None:
            return None
        remaining = entry[1] - self._clock()
        if remaining <= 0.0:
            del self._data[key]
            self._nbytes -= len(entry[0])
            self.expirations += 1
            return None
        self._data.move_to_end(key)
        return entry[0], remaining

    def set(self, key: str, value: bytes, ttl_s: float) -> None:
        """Store ``value`` for ``ttl_s`` seconds, evicting LRU entries until both bounds hold.

        A value larger than ``max_bytes`` on its own, or a non-positive TTL, is not stored; any older value under
        ``key`` is dropped either way, because it is superseded and must not be served in the new one's place.
        """
        self.delete(key)
        size = len(value)
        if size > self.max_bytes or ttl_s <= 0.0:
            return
        data = self._data
        data[key] = (value, self._clock() + ttl_s)
        self._nbytes += size
        while len(data) > self.max_entries or self._nbytes > self.max_bytes:
            _, (old, _) = data.popitem(last=False)
            self._nbytes -= len(old)
            self.evictions += 1

    def delete(self, key: str) -> bool:
        entry = self._data.pop(key, None)
        if entry is None:
            return False
        self._nbytes -= len(entry[0])
        return True

    def clear(self) -> None:
        self._data.clear()
        self._nbytes = 0

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        """Presence regardless of expiry, without touching recency (for tests and diagnostics)."""
        return key in self._data

    @property
    def nbytes(self) -> int:
        return self._nbytes
