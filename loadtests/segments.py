"""Which share of a scenario's units (iteration numbers, VU numbers) one worker on one machine runs.

A segment is a path of ``(index, count)`` levels, e.g. machine shard 1 of 3 then worker 0 of 2 on it:
``Segment(((1, 3), (0, 2)))``. Unit ``k`` belongs to it when ``k % c0 == i0`` and, with ``k1 = k // c0``,
``k1 % c1 == i1``, and so on. That is the same as ``k % M == r`` with ``M = c0 * c1 * ...`` and
``r = i0 + c0 * i1 + c0 * c1 * i2 + ...``, so the owned units are ``r, r + M, r + 2M, ...``: every question
below is O(levels), and siblings at any depth differ by at most one unit in any prefix ``0..n-1``.
Unlike k6's fractional execution segments, this needs no coordination beyond each process knowing its path.
"""

from __future__ import annotations

import re

import msgspec

from loadtests.errors import ConfigError

__all__ = ("Segment", "parse_shard")


class Segment(msgspec.Struct, frozen=True):
    """A path of ``(index, count)`` levels (0-based indexes); ``Segment()`` is the whole."""

    levels: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        for index, count in self.levels:
            if count < 1 or not 0 <= index < count:
                raise ValueError(f"a segment level needs 0 <= index < count, got ({index}, {count})")

    @classmethod
    def whole(cls) -> Segment:
        return cls(())

    def child(self, index: int, count: int) -> Segment:
        """This segment split ``count`` ways, part ``index`` (0-based)."""
        return Segment((*self.levels, (index, count)))

    @property
    def stride(self) -> int:
        """``M``: one unit in every ``stride`` belongs to this segment."""
        stride = 1
        for _, count in self.levels:
            stride *= count
        return stride

    @property
    def offset(self) -> int:
        """``r``: the first unit this segment owns."""
        offset, scale = 0, 1
        for index, count in self.levels:
            offset += index * scale
            scale *= count
        return offset

    def owns(self, k: int) -> bool:
        return k >= 0 and k % self.stride == self.offset

    def share(self, n: int) -> int:
        """How many of the units ``0..n-1`` this segment owns."""
        first = self.offset
        return 0 if n <= first else (n - first + self.stride - 1) // self.stride

    def local_index(self, k: int) -> int:
        """The position of owned unit ``k`` among this segment's units (0, 1, 2, ...)."""
        if not self.owns(k):
            raise ValueError(f"unit {k} does not belong to segment {self}")
        return (k - self.offset) // self.stride

    def global_index(self, local: int) -> int:
        """The unit at position ``local`` among this segment's units."""
        return self.offset + local * self.stride

    def units(self, stop: int, start: int = 0) -> range:
        """The owned units in ``start..stop-1``, ascending (a ``range``: lazy, sized and reversible)."""
        first, stride = self.offset, self.stride
        begin = first if start <= first else first + -(-(start - first) // stride) * stride
        return range(begin, max(begin, stop), stride)

    def __str__(self) -> str:
        if not self.levels:
            return "whole"
        return " > ".join(f"{index + 1}/{count}" for index, count in self.levels)


_SHARD = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


def parse_shard(text: str) -> tuple[int, int]:
    """``--shard i/n`` (``i`` counts from 1, as people number machines) to a 0-based ``(index, count)`` level."""
    match = _SHARD.fullmatch(text)
    if not match:
        raise ConfigError(f'expected "i/n" such as "1/3" (this machine is shard i of n), got {text!r}', where="--shard")
    number, count = int(match.group(1)), int(match.group(2))
    if count < 1:
        raise ConfigError(f"the number of shards must be at least 1, got {text!r}", where="--shard")
    if not 1 <= number <= count:
        raise ConfigError(
            f"the shard number must be between 1 and {count} (it counts from 1), got {text!r}", where="--shard"
        )
    return number - 1, count
