"""Span limits and attribute-value cleaning for the fast provider.

The SDK wraps every attribute set in a locked ``BoundedAttributes``; here a span's attributes are a plain dict and
the common case (a ``str``/``int``/``float``/``bool`` value, under the count limit) is one type check and one store.
Anything else goes through ``clean_value``, which follows the API's ``AnyValue`` rules: sequences become tuples,
mappings dicts, other objects their ``str()`` if they define one. Unlike the SDK (which evicts the *oldest*
attribute), an attribute beyond the count limit is discarded and counted: that is what the specification asks for,
and it costs nothing on the path that fits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import msgspec

if TYPE_CHECKING:
    from collections.abc import Callable

    from opentelemetry.util import types as otel_types

__all__ = ("INVALID", "SCALARS", "SpanLimits", "bounded_attributes", "clean_value")

SCALARS: Final = frozenset({str, bool, int, float})
"""Value types stored as they are (when no length limit applies to strings)."""
_PASS_THROUGH: Final = frozenset({bool, int, float, bytes, type(None)})
_SUBCLASSES: Final[tuple[tuple[Any, Callable[[Any], Any]], ...]] = (
    (str, str.__str__),
    (int, int),
    (float, float),
    (bytes | bytearray | memoryview, bytes),
)
INVALID: Final = object()
"""Returned by ``clean_value`` for a value with no faithful representation; the attribute is dropped and counted."""


class SpanLimits(msgspec.Struct, frozen=True, kw_only=True):
    """The ``OTEL_*_LIMIT`` values, defaults as in the SDK (128 each, string length unlimited)."""

    max_attributes: int = 128
    max_events: int = 128
    max_links: int = 128
    max_event_attributes: int = 128
    max_link_attributes: int = 128
    max_value_length: int | None = None


def clean_value(value: object, max_length: int | None) -> Any:
    """A valid ``AnyValue`` for ``value`` (strings truncated to ``max_length``), or ``INVALID``."""
    kind = type(value)
    if kind is str:
        text: str = value  # type: ignore[assignment]
        return text if max_length is None or len(text) <= max_length else text[:max_length]
    if kind in _PASS_THROUGH:
        return value
    for base, convert in _SUBCLASSES:
        if isinstance(value, base):
            return clean_value(convert(value), max_length)  # an IntEnum, a str subclass...: the plain value
    if isinstance(value, Mapping):
        return _clean_mapping(value, max_length)
    if isinstance(value, Sequence):
        items = [clean_value(item, max_length) for item in value]
        return tuple(item for item in items if item is not INVALID)
    if kind.__str__ is not object.__str__ or kind.__repr__ is not object.__repr__:
        return clean_value(str(value), max_length)
    return INVALID


def _clean_mapping(value: Mapping[Any, Any], max_length: int | None) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(key, str) and key:
            item = clean_value(item, max_length)
            if item is not INVALID:
                cleaned[key] = item
    return cleaned


def bounded_attributes(
    attributes: otel_types.Attributes, limit: int, max_length: int | None
) -> tuple[dict[str, Any], int]:
    """A cleaned copy of ``attributes`` holding at most ``limit`` entries, and how many were dropped.

    A copy, because the caller may mutate its mapping after handing it over and the span must not change with it.
    """
    if not attributes:
        return {}, 0
    cleaned: dict[str, Any] = {}
    dropped = 0
    for key, value in attributes.items():
        if type(value) in SCALARS and (max_length is None or type(value) is not str):
            item: Any = value
        else:
            item = clean_value(value, max_length)
        if item is INVALID or not key or type(key) is not str:
            dropped += 1
        elif len(cleaned) < limit or key in cleaned:
            cleaned[key] = item
        else:
            dropped += 1
    return cleaned, dropped
