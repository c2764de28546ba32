from __future__ import annotations

import itertools

import msgspec
import pytest

from loadtests.errors import ConfigError
from loadtests.segments import Segment, parse_shard


def owns_by_definition(levels: tuple[tuple[int, int], ...], k: int) -> bool:
    """The documented rule, level by level: k % c0 == i0, then k // c0 against the next level, ..."""
    for index, count in levels:
        if k % count != index:
            return False
        k //= count
    return True


def leaves(counts: tuple[int, ...]) -> list[Segment]:
    return [Segment(tuple(zip(indexes, counts, strict=True))) for indexes in itertools.product(*map(range, counts))]


def test_whole_owns_everything() -> None:
    whole = Segment.whole()
    assert whole == Segment()
    assert all(whole.owns(k) for k in range(100))
    assert whole.share(37) == 37
    assert list(whole.units(5)) == [0, 1, 2, 3, 4]
    assert str(whole) == "whole"


def test_child_appends_a_level() -> None:
    segment = Segment.whole().child(1, 3).child(0, 2)
    assert segment == Segment(((1, 3), (0, 2)))
    assert segment.stride == 6
    assert segment.offset == 1
    assert str(segment) == "2/3 > 1/2"


@pytest.mark.parametrize("counts", [(1,), (3,), (3, 2), (2, 3), (2, 2, 2), (4, 1, 3)])
def test_ownership_matches_the_level_by_level_definition(counts: tuple[int, ...]) -> None:
    for segment in leaves(counts):
        for k in range(200):
            assert segment.owns(k) == owns_by_definition(segment.levels, k), (segment, k)


@pytest.mark.parametrize("counts", [(3,), (3, 2), (2, 2, 2), (5, 3)])
def test_leaves_partition_every_prefix_and_differ_by_at_most_one(counts: tuple[int, ...]) -> None:
    parts = leaves(counts)
    for n in range(0, 61):
        owned = [set(part.units(n)) for part in parts]
        assert set().union(*owned) == set(range(n))
        assert sum(len(o) for o in owned) == n  # disjoint
        shares = [part.share(n) for part in parts]
        assert shares == [len(o) for o in owned]
        assert max(shares) - min(shares) <= 1


def test_siblings_at_one_level_partition_their_parent() -> None:
    parent = Segment.whole().child(2, 3)
    children = [parent.child(i, 4) for i in range(4)]
    parent_units = set(parent.units(500))
    child_units = [set(child.units(500)) for child in children]
    assert set().union(*child_units) == parent_units
    assert sum(map(len, child_units)) == len(parent_units)


def test_local_and_global_index_round_trip() -> None:
    segment = Segment(((1, 3), (1, 2)))
    owned = list(segment.units(100))
    assert owned == [k for k in range(100) if segment.owns(k)]
    assert [segment.local_index(k) for k in owned] == list(range(len(owned)))
    assert [segment.global_index(i) for i in range(len(owned))] == owned
    with pytest.raises(ValueError, match="does not belong"):
        segment.local_index(0)
    assert not segment.owns(-segment.stride + segment.offset)


def test_units_with_a_start_and_in_reverse() -> None:
    segment = Segment(((2, 3),))
    assert list(segment.units(20, 6)) == [8, 11, 14, 17]
    assert list(segment.units(20, 8)) == [8, 11, 14, 17]
    assert list(reversed(segment.units(12, 3))) == [11, 8, 5]
    assert list(segment.units(2)) == []
    assert len(segment.units(10**12)) == segment.share(10**12)


def test_share_is_constant_time_for_huge_counts() -> None:
    segment = Segment(((1, 3), (0, 2), (3, 7)))
    n = 10**15
    assert segment.share(n) == len(range(segment.offset, n, segment.stride))


@pytest.mark.parametrize("level", [(3, 3), (-1, 2), (0, 0)])
def test_invalid_levels_are_rejected(level: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="0 <= index < count"):
        Segment((level,))


def test_segments_cross_process_boundaries_as_msgspec() -> None:
    segment = Segment(((1, 3), (0, 2)))
    assert msgspec.json.decode(msgspec.json.encode(segment), type=Segment) == segment
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"levels": [[4, 2]]}', type=Segment)


@pytest.mark.parametrize(("text", "level"), [("1/3", (0, 3)), ("3/3", (2, 3)), (" 2 / 4 ", (1, 4)), ("1/1", (0, 1))])
def test_parse_shard_counts_from_one(text: str, level: tuple[int, int]) -> None:
    assert parse_shard(text) == level


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("0/3", "between 1 and 3"),
        ("4/3", "between 1 and 3"),
        ("1/0", "at least 1"),
        ("a/b", 'expected "i/n"'),
        ("1", 'expected "i/n"'),
        ("", 'expected "i/n"'),
        ("-1/3", 'expected "i/n"'),
    ],
)
def test_parse_shard_rejects_bad_input(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_shard(text)
    assert caught.value.where == "--shard"
    assert fragment in caught.value.message
