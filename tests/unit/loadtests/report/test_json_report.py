from __future__ import annotations

import json
from typing import TYPE_CHECKING

import msgspec
import pytest

from loadtests.errors import ConfigError
from loadtests.report import read_json, write_json
from loadtests.validate.verdict import SCHEMA

from .sample import sample_verdict

if TYPE_CHECKING:
    from pathlib import Path


def test_the_verdict_round_trips_with_its_schema_first(tmp_path: Path) -> None:
    verdict = sample_verdict()
    path = tmp_path / "reports" / "run" / "verdict.json"
    write_json(verdict, path)
    text = path.read_text()
    assert text.lstrip("{ \n").startswith('"schema": "pp-validate/v1"')
    assert json.loads(text)["timeseries"][1] == [
        1.0,
        5.0,
        0.0,
        3.0,
        pytest.approx(122.66, abs=0.01),
        pytest.approx(385.45, abs=0.01),
    ]
    assert read_json(path) == verdict


def test_writing_replaces_the_file_and_leaves_no_temporary_behind(tmp_path: Path) -> None:
    path = tmp_path / "verdict.json"
    path.write_text("old")
    write_json(sample_verdict(), path)
    assert json.loads(path.read_text())["schema"] == SCHEMA
    assert sorted(p.name for p in tmp_path.iterdir()) == ["verdict.json"]


def test_a_failed_write_keeps_the_previous_report(tmp_path: Path) -> None:
    path = tmp_path / "verdict.json"
    path.write_text('{"schema": "old"}')
    broken = msgspec.structs.replace(sample_verdict(), recommendations=[object()])
    with pytest.raises(TypeError):
        write_json(broken, path)
    assert path.read_text() == '{"schema": "old"}'


def test_non_finite_numbers_become_null(tmp_path: Path) -> None:
    verdict = sample_verdict()
    verdict.targets[0].observed = float("nan")
    path = tmp_path / "v.json"
    write_json(verdict, path)
    assert json.loads(path.read_text())["targets"][0]["observed"] is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"schema": "pp-validate/v0"}', "'pp-validate/v0' document"),
        ("{}", "schema-less"),
        ("not json", "cannot read"),
        ('{"schema": "pp-validate/v1", "passed": "yes"}', "does not match"),
    ],
)
def test_reading_refuses_what_it_does_not_understand(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        read_json(path)


def test_reading_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        read_json(tmp_path / "nope.json")
