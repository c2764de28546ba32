from __future__ import annotations

import math

import pytest

from loadtests.report.units import format_bound, format_margin, format_ms, format_number, format_percent, format_value


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.412, "0.41"), (3.4, "3.40"), (41.04, "41.0"), (612.3, "612"), (12345.6, "12,346"), (None, "\u2014")],
)
def test_milliseconds_keep_precision_where_it_matters(value: float | None, expected: str) -> None:
    assert format_ms(value) == expected


@pytest.mark.parametrize(
    ("fraction", "expected"),
    [(0.0041, "0.41 %"), (0.7, "70 %"), (0.9995, "99.95 %"), (1.0, "100 %"), (-0.05, "\u22125 %")],
)
def test_fractions_print_as_percentages(fraction: float, expected: str) -> None:
    assert format_percent(fraction) == expected


def test_values_print_in_their_unit() -> None:
    assert format_value(612.3, "ms") == "612 ms"
    assert format_value(0.02, "ratio") == "2 %"
    assert format_value(80.0, "percent") == "80 %"
    assert format_value(29.7, "rps") == "29.7 req/s"
    assert format_value(1234.4, "rps") == "1,234 req/s"
    assert format_value(412.0, "MB") == "412 MB"
    assert format_value(50.0, "count") == "50"
    assert format_value(None, "ms") == "\u2014"
    assert format_value(math.nan, "ms") == "\u2014"
    assert format_value(3.0, "furlongs") == "3 furlongs"


def test_bounds_and_margins() -> None:
    assert format_bound("<", 500.0, "ms") == "< 500 ms"
    assert format_bound(">=", 0.85, "ratio") == "\u2265 85 %"
    assert format_margin(0.2246) == "+22.5 %"
    assert format_margin(-0.2246) == "\u221222.5 %"
    assert format_margin(None) == "\u2014"


def test_numbers_have_significant_digits_and_no_exponent() -> None:
    assert format_number(0.000123456) == "0.0001235"
    assert format_number(180.2) == "180.2"
    assert format_number(14876.0) == "14,876"
    assert format_number(0) == "0"
    assert format_number(math.inf) == "\u2014"
