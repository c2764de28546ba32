from __future__ import annotations

import math

import pytest

from loadtests.durations import format_duration, parse_duration
from loadtests.errors import INVALID_CONFIG, ConfigError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("1m30s", 90.0),
        ("2h", 7200.0),
        ("500ms", 0.5),
        ("1.5s", 1.5),
        ("1h2m3s", 3723.0),
        ("0s", 0.0),
        ("0", 0.0),
        ("1d", 86400.0),
        ("250us", 250e-6),
        ("10µs", 10e-6),
        ("100ns", 100e-9),
        (".5s", 0.5),
        ("2m0.5s", 120.5),
        (30, 30.0),
        (1.5, 1.5),
        (0, 0.0),
    ],
)
def test_parse_duration_accepts_k6_forms_and_bare_seconds(text: str | float, seconds: float) -> None:
    assert parse_duration(text, where="options.duration") == pytest.approx(seconds, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("-5s", "negative"),
        (-1, "negative"),
        (-0.5, "negative"),
        ("5x", "invalid duration '5x'"),
        ("", "invalid duration ''"),
        ("abc", "invalid duration 'abc'"),
        ("1m-3s", "invalid duration"),
        ("s", "invalid duration"),
        ("30", 'no unit; write "30s"'),
        (True, "expected a duration, got bool"),
        (None, "expected a duration, got NoneType"),
        ([1], "expected a duration, got list"),
        (math.nan, "finite"),
        (math.inf, "finite"),
    ],
)
def test_parse_duration_rejects_bad_values_naming_where(value: object, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_duration(value, where="options.scenarios.storm.stages[1].duration")  # type: ignore[arg-type]
    error = caught.value
    assert error.code == INVALID_CONFIG
    assert error.where == "options.scenarios.storm.stages[1].duration"
    assert fragment in error.message
    assert str(error).startswith("options.scenarios.storm.stages[1].duration: ")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (90, "1m30s"),
        (0.3, "300ms"),
        (7200, "2h0m0s"),
        (1.5, "1.5s"),
        (0, "0s"),
        (30, "30s"),
        (300, "5m0s"),
        (3723, "1h2m3s"),
        (90.5, "1m30.5s"),
        (1e-6, "1µs"),
        (500e-9, "500ns"),
        (0.0015, "1.5ms"),
        (-1, "-1s"),
        (600, "10m0s"),
    ],
)
def test_format_duration_spells_durations_like_go(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds", [0.0, 0.001, 0.25, 1.0, 59.999, 61.5, 3599.0, 3600.0, 86461.125])
def test_format_then_parse_round_trips(seconds: float) -> None:
    assert parse_duration(format_duration(seconds), where="x") == pytest.approx(seconds, abs=1e-9)
