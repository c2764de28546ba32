"""Targets: the seed's defaults (code and file agree), user files over them, scenario targets, margins, checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtests.errors import ConfigError
from loadtests.scenarios.traffic import CACHED_TOOLS
from loadtests.validate import targets as targets_module
from loadtests.validate.targets import (
    DEFAULT_CACHED_TOOLS,
    Config,
    Targets,
    check,
    effective_targets,
    load_config,
    margin,
)

DEFAULT_FILE = Path(targets_module.__file__).with_name("targets.default.toml")


def test_the_default_file_says_exactly_what_the_code_defaults_are() -> None:
    assert load_config(DEFAULT_FILE) == Config()
    assert load_config(None) == Config()


def test_the_seed_targets_are_the_defaults() -> None:
    t = Config().targets
    assert (t.cached_p95_ms, t.uncached_p95_ms, t.cold_max_ms, t.p95_ms) == (200, 500, 2000, 1000)
    assert (t.error_rate, t.availability) == (0.02, 0.99)
    assert (t.throughput_min_rps, t.throughput_target_rps) == (10, 25)
    assert (t.memory_mb, t.cpu_percent, t.cache_hit_min, t.cache_hit_target) == (2048, 80, 0.70, 0.85)


def test_cached_tools_match_the_traffic_model() -> None:
    assert set(DEFAULT_CACHED_TOOLS) == set(CACHED_TOOLS)


def test_a_user_toml_overrides_only_what_it_names(tmp_path: Path) -> None:
    path = tmp_path / "targets.toml"
    path.write_text("[targets]\ncached_p95_ms = 100\n[cache]\nhit_ratio_tolerance = 0.05\n")
    config = load_config(path)
    assert config.targets.cached_p95_ms == 100
    assert config.targets.uncached_p95_ms == 500
    assert config.cache.hit_ratio_tolerance == 0.05
    assert config.cache.tools == DEFAULT_CACHED_TOOLS


def test_a_user_yaml_file_works_too(tmp_path: Path) -> None:
    path = tmp_path / "targets.yaml"
    path.write_text("targets:\n  error_rate: 0.01\nsamples:\n  p95: 50\n")
    config = load_config(path)
    assert (config.targets.error_rate, config.samples.p95, config.samples.p99) == (0.01, 50, 100)
    empty = tmp_path / "empty.yml"
    empty.write_text("")
    assert load_config(empty) == Config()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[targets]\ncached_p59_ms = 100\n", "cached_p59_ms"),
        ("[targets]\nerror_rate = 2\n", "fraction"),
        ("[targets]\np95_ms = -1\n", "positive"),
        ("[targets\n", "not a valid targets file"),
        ("[targets]\np95_ms = 'fast'\n", "p95_ms"),
        ("[baseline]\nstats = ['p42']\n", "p42"),
    ],
)
def test_a_bad_file_is_a_config_error_naming_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "targets.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert info.value.where == str(path)


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.toml")


def test_scenario_targets_tighten_but_never_loosen() -> None:
    scenario = {"error_rate": 0.01, "p95_ms": 5000.0, "cached_p95_ms": 150.0, "availability": 0.95,
                "cache_hit_ratio": 0.5, "rps": 30.0}  # fmt: skip
    effective = effective_targets(Config(), scenario)
    assert effective.targets.error_rate == 0.01
    assert effective.targets.cached_p95_ms == 150.0
    assert effective.targets.p95_ms == 1000.0
    assert effective.targets.availability == 0.99
    assert effective.intended_hit_ratio == 0.5
    assert len(effective.notes) == 2
    off = effective_targets(Config(scenario_targets=False), scenario)
    assert off.targets == Targets() and off.intended_hit_ratio is None
    assert effective_targets(Config(), None).targets == Targets()


def test_margins_are_the_unused_share_of_the_budget() -> None:
    assert margin(100, "<", 200, "ms") == 0.5
    assert margin(300, "<", 200, "ms") == -0.5
    assert margin(0.005, "<", 0.02, "ratio") == pytest.approx(0.75)
    assert margin(0.999, ">=", 0.99, "ratio") == pytest.approx(0.9), "of the 1 % shortfall allowed, 0.9 unused"
    assert margin(0.98, ">=", 0.99, "ratio") == pytest.approx(-1.0)
    assert margin(30, ">=", 10, "rps") == 2.0


@pytest.mark.parametrize(
    ("observed", "op", "passed"),
    [(199.9, "<", True), (200.0, "<", False), (200.1, "<", False), (200.0, "<=", True), (200.0, ">=", True),
     (199.9, ">=", False), (200.0, ">", False), (200.1, ">", True)],
)  # fmt: skip
def test_check_at_below_and_above_the_bound(observed: float, op: str, passed: bool) -> None:
    result = check(id="x", description="x", scope="overall", source="server_spans", observed=observed,
                   op=op, bound=200.0, unit="ms", samples=30, needed=20)  # type: ignore[arg-type]  # fmt: skip
    assert result.passed is passed
    assert result.samples == 30 and result.observed == observed


def test_check_without_data_or_samples_is_not_evaluable() -> None:
    none = check(id="x", description="x", scope="s", source="client", observed=None, op="<", bound=1, unit="ms")
    assert none.passed is None and "no data" in none.note
    few = check(id="x", description="x", scope="s", source="client", observed=0.5, op="<", bound=1, unit="ms",
                samples=3, needed=20, note="why")  # fmt: skip
    assert few.passed is None and few.observed is None and few.margin is None
    assert few.note.startswith("not evaluable: 3 samples, 20 needed") and few.note.endswith("; why")


def test_not_applicable_is_reported_but_marked() -> None:
    result = check(id="throughput_min", description="d", scope="phase:load", source="client", observed=5.0, op=">=",
                   bound=10, unit="rps", samples=3, needed=1, inapplicable="the scenario offered 5 RPS")  # fmt: skip
    assert result.applicable is False and result.passed is None and result.observed == 5.0 and result.samples == 3
    assert result.note == "not applicable: the scenario offered 5 RPS"
