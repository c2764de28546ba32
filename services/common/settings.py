"""Typed settings from environment variables: one Struct per process, one prefix (``PP_``).

A field ``redis_url`` on a Struct read with prefix ``PP_`` comes from ``PP_REDIS_URL``. Values are converted with
msgspec (``"8081"`` → ``8081``, ``"true"`` → ``True``), so a bad value fails at start-up with the variable's name.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, TypeVar

import msgspec

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ("SettingsError", "from_env")

T = TypeVar("T", bound=msgspec.Struct)


class SettingsError(ValueError):
    """A ``PP_*`` variable could not be converted to its field's type."""


def from_env(cls: type[T], prefix: str = "PP_", environ: Mapping[str, str] | None = None) -> T:
    env = os.environ if environ is None else environ
    raw: dict[str, str] = {}
    for name in cls.__struct_fields__:
        value = env.get(f"{prefix}{name.upper()}")
        if value is not None and value != "":
            raw[name] = value
    try:
        return msgspec.convert(raw, cls, strict=False)
    except msgspec.ValidationError as exc:
        # "Expected `int`, got `str` - at `$.port`" -> name the variable the user actually set.
        message = str(exc)
        for name in raw:
            message = message.replace(f"`$.{name}`", f"{prefix}{name.upper()}")
        raise SettingsError(f"invalid setting: {message}") from None
