"""How the reports print numbers: one place, so the HTML, the JUnit messages and the terminal agree.

Verdict values are milliseconds, fractions and requests per second (see ``verdict.py``); people read
``612 ms``, ``1.2 %`` and ``25.3 req/s``.
"""

from __future__ import annotations

import math

__all__ = (
    "DASH",
    "MINUS",
    "format_bound",
    "format_margin",
    "format_ms",
    "format_number",
    "format_percent",
    "format_value",
)

MINUS = "\u2212"
DASH = "\u2014"


def _trim(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def _signed(text: str) -> str:
    return MINUS + text[1:] if text.startswith("-") else text


def format_number(value: float | None, digits: int = 4) -> str:
    """A value of unknown unit with ``digits`` significant digits, thousands grouped, no exponent."""
    if value is None or not math.isfinite(value):
        return DASH
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(0, digits - 1 - magnitude)
    return _signed(_trim(f"{value:,.{decimals}f}"))


def format_ms(value: float | None) -> str:
    """Milliseconds without the unit: two decimals below 10 ms, one below 100 ms, whole above."""
    if value is None or not math.isfinite(value):
        return DASH
    size = abs(value)
    decimals = 2 if size < 10 else 1 if size < 100 else 0
    return _signed(f"{value:,.{decimals}f}")


def format_percent(fraction: float | None) -> str:
    """A fraction as a percentage with at most two decimals: 0.9995 → ``99.95 %``, 0.7 → ``70 %``."""
    if fraction is None or not math.isfinite(fraction):
        return DASH
    return _signed(_trim(f"{fraction * 100:,.2f}")) + " %"


def format_value(value: float | None, unit: str) -> str:
    """A target's observed value or bound in its unit (units outside the schema print as given)."""
    if value is None or not math.isfinite(value):
        return DASH
    if unit == "ms":
        return f"{format_ms(value)} ms"
    if unit == "ratio":
        return format_percent(value)
    if unit == "percent":
        return format_percent(value / 100)
    if unit == "rps":
        return f"{format_number(value, 3) if value < 100 else format_number(round(value), 6)} req/s"
    if unit == "MB":
        return f"{format_number(value, 3) if value < 100 else format_number(round(value), 9)} MB"
    if unit == "count":
        return format_number(value, 9)
    return f"{format_number(value)} {unit}"


def format_bound(op: str, bound: float, unit: str) -> str:
    symbol = {"<": "<", "<=": "\u2264", ">": ">", ">=": "\u2265"}.get(op, op)
    return f"{symbol} {format_value(bound, unit)}"


def format_margin(margin: float | None) -> str:
    """A relative margin, signed: ``+22.5 %`` inside the bound, ``−3.1 %`` outside it."""
    if margin is None or not math.isfinite(margin):
        return DASH
    text = f"{margin * 100:+,.1f} %"
    return _signed(text)
