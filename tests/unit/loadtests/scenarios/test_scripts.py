"""The five scripts: found by name, loadable as the engine loads them, and wired to their row of the seed."""

from __future__ import annotations

import importlib.util
import inspect
from typing import TYPE_CHECKING

import pytest

from loadtests.scenarios import SCENARIOS, UnknownScenarioError, available, path_of
from loadtests.scenarios.seed import SEED, build_options

if TYPE_CHECKING:
    from types import ModuleType


def load(name: str) -> ModuleType:
    path = path_of(name)
    spec = importlib.util.spec_from_file_location(f"scenario_under_test_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_seed_scenario_has_a_script():
    assert list(available()) == list(SCENARIOS) == list(SEED)
    for name in SCENARIOS:
        assert path_of(name).name == f"{name}.py" and path_of(name).is_file()
    assert path_of(" Storm ") == path_of("storm")


def test_an_unknown_scenario_names_the_available_ones():
    with pytest.raises(UnknownScenarioError, match="unknown scenario 'soak'; available: normal, peak, storm"):
        path_of("soak")


@pytest.mark.parametrize("name", SCENARIOS)
def test_script_exports_options_targets_setup_and_default(name: str):
    module = load(name)
    assert module.options == build_options(SEED[name])
    assert module.targets["cache_hit_ratio"] == SEED[name].cache_hit_ratio
    assert inspect.iscoroutinefunction(module.setup) and inspect.iscoroutinefunction(module.default)
    assert module.traffic.hit_ratio == SEED[name].cache_hit_ratio
