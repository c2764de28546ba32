"""The in-process span buffer is bounded, never blocks, and counts what it drops."""

from __future__ import annotations

import threading
from typing import Any

from otel.tracing.buffer import SpanBuffer


def record(i: int) -> Any:
    return (0, i, i, 0, "s", 0, 0, 0, 0, None, {}, None, None, 0, 1, "", None)


def test_appends_up_to_capacity_then_drops_and_counts() -> None:
    buffer = SpanBuffer(capacity=10, batch=4)
    for i in range(25):
        buffer.append(record(i))
    assert len(buffer) == 10
    assert buffer.dropped == 15
    assert [r[2] for r in buffer.drain(3)] == [0, 1, 2], "oldest first"
    assert len(buffer.drain(100)) == 7
    buffer.append(record(99))
    assert len(buffer) == 1, "space again after draining"


def test_a_full_batch_wakes_the_shipper() -> None:
    buffer = SpanBuffer(capacity=100, batch=3)
    buffer.append(record(1))
    buffer.append(record(2))
    assert not buffer.wake.is_set()
    buffer.append(record(3))
    assert buffer.wake.is_set()


def test_after_close_every_span_is_counted_as_dropped() -> None:
    buffer = SpanBuffer(capacity=100, batch=10)
    buffer.append(record(1))
    buffer.close()
    buffer.append(record(2))
    assert len(buffer) == 1
    assert buffer.dropped == 1


def test_concurrent_appends_keep_the_bound_and_lose_no_count() -> None:
    buffer = SpanBuffer(capacity=1_000, batch=10_000)

    def produce() -> None:
        for i in range(5_000):
            buffer.append(record(i))

    threads = [threading.Thread(target=produce) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(buffer) <= 1_000 + len(threads)
    assert len(buffer) + buffer.dropped == 20_000
