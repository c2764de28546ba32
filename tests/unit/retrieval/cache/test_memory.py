from __future__ import annotations

import pytest

from services.retrieval.cache.memory import MemoryCache


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_get_returns_value_and_remaining_ttl(clock: FakeClock) -> None:
    cache = MemoryCache(10, 1000, clock=clock)
    cache.set("k", b"value", 60.0)
    clock.now += 15.0
    hit = cache.get("k")
    assert hit is not None
    assert hit[0] == b"value"
    assert hit[1] == pytest.approx(45.0)
    assert cache.get("absent") is None


def test_entry_expires_and_is_dropped_on_access(clock: FakeClock) -> None:
    cache = MemoryCache(10, 1000, clock=clock)
    cache.set("k", b"12345", 10.0)
    clock.now += 9.999
    assert cache.get("k") is not None
    clock.now += 0.001
    assert cache.get("k") is None
    assert len(cache) == 0
    assert cache.nbytes == 0
    assert cache.expirations == 1


def test_evicts_least_recently_used_by_entry_count(clock: FakeClock) -> None:
    cache = MemoryCache(3, 10_000, clock=clock)
    for key in "abc":
        cache.set(key, key.encode(), 60.0)
    assert cache.get("a") is not None  # a becomes most recently used; b is now the oldest
    cache.set("d", b"d", 60.0)
    assert "b" not in cache
    assert all(k in cache for k in "acd")
    assert len(cache) == 3
    assert cache.evictions == 1


def test_evicts_least_recently_used_by_bytes(clock: FakeClock) -> None:
    cache = MemoryCache(100, 10, clock=clock)
    cache.set("a", b"aaaa", 60.0)
    cache.set("b", b"bbbb", 60.0)
    cache.get("a")
    cache.set("c", b"cccccc", 60.0)  # 14 bytes > 10: evict b (LRU), then 10 bytes fit
    assert "b" not in cache
    assert cache.nbytes == 10
    cache.set("d", b"dddddddd", 60.0)  # needs both a and c gone
    assert list(k for k in "abcd" if k in cache) == ["d"]
    assert cache.nbytes == 8
    assert cache.evictions == 3


def test_value_larger_than_the_byte_budget_is_not_stored(clock: FakeClock) -> None:
    cache = MemoryCache(10, 8, clock=clock)
    cache.set("small", b"1234", 60.0)
    cache.set("small", b"123456789", 60.0)  # supersedes the old value, so that must not survive either
    assert cache.get("small") is None
    assert cache.nbytes == 0
    assert cache.evictions == 0


def test_overwrite_replaces_size_and_ttl(clock: FakeClock) -> None:
    cache = MemoryCache(10, 100, clock=clock)
    cache.set("k", b"x" * 40, 10.0)
    cache.set("k", b"y" * 10, 100.0)
    assert cache.nbytes == 10
    clock.now += 50.0
    hit = cache.get("k")
    assert hit is not None
    assert hit[0] == b"y" * 10
    assert hit[1] == pytest.approx(50.0)


def test_nonpositive_ttl_is_not_stored(clock: FakeClock) -> None:
    cache = MemoryCache(10, 100, clock=clock)
    cache.set("k", b"v", 0.0)
    assert len(cache) == 0


def test_delete_and_clear(clock: FakeClock) -> None:
    cache = MemoryCache(10, 100, clock=clock)
    cache.set("a", b"12", 60.0)
    cache.set("b", b"345", 60.0)
    assert cache.delete("a")
    assert not cache.delete("a")
    assert cache.nbytes == 3
    cache.clear()
    assert len(cache) == 0
    assert cache.nbytes == 0


@pytest.mark.parametrize(("entries", "nbytes"), [(0, 10), (10, 0)], ids=["no-entries", "no-bytes"])
def test_rejects_empty_bounds(entries: int, nbytes: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        MemoryCache(entries, nbytes)
