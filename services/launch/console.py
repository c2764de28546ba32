"""Printing for the user, from the launcher and from its shutdown path."""

from __future__ import annotations

import contextlib
import sys

__all__ = ("say",)


def say(message: str, *, warn: bool = False, prefix: str = "serve: ") -> None:
    """Print for the user. Never raises: after SIGHUP the terminal is gone, and shutdown must still finish."""
    stream = sys.stderr if warn else sys.stdout
    with contextlib.suppress(OSError, ValueError):
        stream.write(f"{prefix}{'WARNING: ' if warn else ''}{message}\n")
        stream.flush()
