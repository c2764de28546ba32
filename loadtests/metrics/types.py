"""The vocabulary every metrics module shares: k6's four metric types, what a value measures, and tag sets."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ("MetricType", "TagSet", "ValueKind", "tagset")


class MetricType(StrEnum):
    """k6's metric types: what a sample means and how series merge."""

    COUNTER = "counter"
    GAUGE = "gauge"
    RATE = "rate"
    TREND = "trend"


class ValueKind(StrEnum):
    """k6's ``contains``: how a value is formatted (``time`` values are milliseconds, ``data`` values bytes)."""

    TIME = "time"
    DATA = "data"
    DEFAULT = "default"


TagSet = tuple[tuple[str, str], ...]
"""Tags as ``(key, value)`` pairs sorted by key: hashable, so one series per distinct set."""


def tagset(tags: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> TagSet:
    """Normalise a mapping or pairs to a :data:`TagSet` (values as strings; for pairs, a later key wins)."""
    items = tags.items() if isinstance(tags, Mapping) else tags
    merged = {str(k): str(v) for k, v in items}
    return tuple(sorted(merged.items()))
