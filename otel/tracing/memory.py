"""An in-memory span pipeline: the fast provider's equivalent of the SDK's ``InMemorySpanExporter``.

For tests that check what code records (names, parentage, attributes) without an exporter process, and for the
micro-benchmark, which must measure the request path rather than a pipe.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from otel.tracing.wire import ScopeRecord, SpanRecord

__all__ = ("InMemorySpans",)


class InMemorySpans:
    """Keeps every ended span's record (and every scope) in lists; ``clear()`` between tests."""

    def __init__(self) -> None:
        self.records: list[SpanRecord] = []
        self.scopes: list[ScopeRecord] = []
        self._lock = threading.Lock()

    def append(self, record: SpanRecord) -> None:
        self.records.append(record)

    def register_scope(self, scope: ScopeRecord) -> None:
        with self._lock:
            self.scopes.append(scope)

    def force_flush(self, timeout_s: float) -> bool:
        return True

    def shutdown(self, timeout_s: float) -> None:
        pass

    def clear(self) -> None:
        self.records.clear()

    def named(self, name: str) -> list[SpanRecord]:
        return [record for record in self.records if record[4] == name]
