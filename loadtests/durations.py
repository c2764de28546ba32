"""k6's duration strings ("1m30s", "500ms") to float seconds and back.

A bare number is **seconds**, not k6's milliseconds: in a Python script ``"duration": 30`` reading as 30 ms would
surprise everyone, and Python's own timeouts are seconds too.
"""

from __future__ import annotations

import math
import re

from loadtests.errors import ConfigError

__all__ = ("display_duration", "format_duration", "parse_duration")

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h|d)")
_WHOLE = re.compile(rf"(?:{_PART.pattern})+")
_HINT = 'write a number with a unit, like "30s", "1m30s", "500ms" or "2h"'


def parse_duration(value: str | int | float, *, where: str) -> float:
    """Seconds from a k6 duration string or a bare number of seconds; :class:`ConfigError` names ``where``."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(f"expected a duration, got {type(value).__name__} {value!r}; {_HINT}", where=where)
    if isinstance(value, int | float):
        seconds = float(value)
        if not math.isfinite(seconds):
            raise ConfigError(f"duration must be finite, got {value!r}", where=where)
        if seconds < 0:
            raise ConfigError(f"duration cannot be negative, got {value!r}", where=where)
        return seconds
    text = value.strip()
    if text.startswith("-"):
        raise ConfigError(f"duration cannot be negative, got {value!r}", where=where)
    if text == "0":
        return 0.0
    if not _WHOLE.fullmatch(text):
        if re.fullmatch(r"\d+(?:\.\d*)?", text):
            raise ConfigError(f'duration {value!r} has no unit; write "{text}s" for seconds', where=where)
        raise ConfigError(f"invalid duration {value!r}; {_HINT}", where=where)
    return sum(float(number) * _UNITS[unit] for number, unit in _PART.findall(text))


def format_duration(seconds: float) -> str:
    """Go's ``time.Duration`` spelling, as k6 prints it: "1m30s", "300ms", "2h0m0s", "1.5s", "0s"."""
    if not math.isfinite(seconds):
        return str(seconds)
    nanos = round(seconds * 1e9)
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    if nanos == 0:
        return "0s"
    if nanos < 1_000:
        return f"{sign}{nanos}ns"
    if nanos < 1_000_000:
        return f"{sign}{_decimal(nanos, 1_000)}µs"
    if nanos < 1_000_000_000:
        return f"{sign}{_decimal(nanos, 1_000_000)}ms"
    hours, rest = divmod(nanos, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    secs = f"{_decimal(rest, 1_000_000_000)}s"
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}"
    if minutes:
        return f"{sign}{minutes}m{secs}"
    return f"{sign}{secs}"


def display_duration(seconds: float) -> str:
    """``format_duration`` rounded for people: tenths of a second above one second, milliseconds below."""
    return format_duration(round(seconds, 1) if abs(seconds) >= 1 else round(seconds, 3))


def _decimal(count: int, unit: int) -> str:
    """``count / unit`` exactly, without trailing zeros ("1.5", "30")."""
    whole, frac = divmod(count, unit)
    if not frac:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}.{frac:0{digits}d}".rstrip("0")
