"""Cache keys: one key per *meaning* of a tool call, not per spelling of it.

The original keyed on the raw ``JSON.stringify`` of the arguments, so ``{a, b}`` and ``{b, a}`` were two entries
and the hit rate depended on how a client happened to order its fields. Here the arguments are normalised first.
Every rule below merges two spellings only when the retrieval service answers them identically; a rule that could
merge two calls with different answers would serve one caller the other's result, which is worse than a miss.

* ``None`` values are dropped: every optional argument defaults to ``None`` and is handled as "not given", so an
  explicit ``null`` and an absent key are the same call.
* Mapping keys are sorted: JSON objects are unordered. Keys are *not* case-folded, because two keys that differ
  only in case are two distinct names in an alert context (folding could collide them, and then dict order would
  decide which value the key describes).
* Strings are stripped and lower-cased: the service matches alert types, systems, categories, queries, ids and
  context values case-insensitively and ignores surrounding whitespace. Any tool that starts treating string
  arguments case-sensitively must not use this key function as it is.
* Lists whose items are all scalars are de-duplicated and sorted: such arguments are sets
  (``affected_systems``, ``categories``, tag lists) and their order carries no meaning. Lists holding containers
  keep their order; only their items are normalised.
* Integral floats become ints: ``1`` and ``1.0`` compare equal everywhere downstream (JSON does not even
  distinguish them). Booleans stay booleans: ``true`` and ``1`` are different answers to a condition.
* Nested mappings and lists are normalised recursively, so an alert context gets the same treatment as the top
  level.

Pass the decoded request Struct rather than the raw mapping when you have it: the Struct has its defaults filled
in, so ``{"limit": 5}`` and an absent ``limit`` also collide.

The normalised form is JSON-encoded and hashed with BLAKE2b (16-byte digest): keys have a fixed, small size no
matter how large the alert context is, and 128 bits make an accidental collision negligible. The tool name is both
hashed and kept in clear as a readable prefix (``search_runbooks:3f9a...``); the Redis prefix is added by the L2.
"""

from __future__ import annotations

from hashlib import blake2b
from typing import TYPE_CHECKING, Any, Final, Literal

import msgspec

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ("TTL_SECONDS", "ContentType", "cache_key", "normalise")

ContentType = Literal["runbooks", "procedures", "decision_trees", "knowledge_base"]
"""What a cached value holds; it picks the TTL and the stats bucket."""

TTL_SECONDS: Final[Mapping[ContentType, int]] = {
    "runbooks": 3600,
    "procedures": 1800,
    "decision_trees": 2400,
    "knowledge_base": 900,
}
"""How long a non-empty result of each content type stays cached, in both tiers."""

_encode = msgspec.json.Encoder(order="sorted").encode
_ONLY_STR = {str}


def cache_key(tool: str, args: msgspec.Struct | Mapping[str, Any]) -> str:
    """Return ``"<tool>:<32 hex digits>"`` for a tool call; equal for calls the service answers the same way."""
    digest = blake2b(tool.encode(), digest_size=16)
    digest.update(b"\x00")
    builtins = msgspec.to_builtins(args if isinstance(args, (msgspec.Struct, dict)) else dict(args))
    digest.update(_encode(normalise(builtins)))
    return f"{tool}:{digest.hexdigest()}"


def normalise(value: Any) -> Any:
    """Return the canonical form of a ``msgspec.to_builtins`` value (the rules are in the module docstring).

    Exact type checks, not ``isinstance``: the input holds only plain builtins, and this runs on every request.
    """
    kind = type(value)
    if kind is str:
        return value.strip().lower()
    if kind is dict:
        # Key order does not matter here: the encoder sorts keys.
        return {k: normalise(v) for k, v in value.items() if v is not None}
    if kind is list:
        if set(map(type, value)) == _ONLY_STR:  # the common case, a set of names: skip a call per item
            return sorted({v.strip().lower() for v in value})
        return _normalise_list([normalise(v) for v in value])
    if kind is float and value.is_integer():
        return int(value)
    return value


def _normalise_list(items: list[Any]) -> list[Any]:
    kinds = {type(v) for v in items}
    if dict in kinds or list in kinds:
        return items  # a sequence of records: order may matter
    if len(kinds) == 1:
        return sorted(set(items))  # the common case: a set of strings (or of numbers)
    # Mixed scalars: dedupe on (type, value) so True and 1 stay distinct, and sort with the type first so the
    # order is deterministic without comparing across types.
    unique = {(type(v).__name__, v) for v in items}
    return [v for _, v in sorted(unique, key=_sort_key)]


def _sort_key(item: tuple[str, Any]) -> tuple[str, str]:
    type_name, value = item
    return (type_name, value if isinstance(value, str) else repr(value))
