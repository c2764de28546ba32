"""Escaping for everything the report prints: the only way input text reaches the page.

Span names, tool arguments, error messages and queries come from the run, and a run can carry anything; every
such string goes through ``text`` (element content and attribute values alike), inside SVG too. C0 control
characters are dropped (HTML forbids them), and bidirectional overrides and isolates are shown as U+FFFD: they
would otherwise reorder the text around them, making a value read as something it is not.
"""

from __future__ import annotations

import html
import re

__all__ = ("clip", "text")

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")


def text(value: object) -> str:
    """Escape for element content and for quoted attribute values (``&``, ``<``, ``>``, ``"`` and ``'``)."""
    return html.escape(_BIDI.sub("\ufffd", _CONTROL.sub("", str(value))), quote=True)


def clip(value: str, limit: int) -> str:
    """Shorten to ``limit`` characters with an ellipsis; clip before escaping, so no entity is cut in half."""
    return value if len(value) <= limit else value[: max(1, limit - 1)] + "\u2026"
