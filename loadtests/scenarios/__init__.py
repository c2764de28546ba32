"""The seed's five load scenarios as k6-style scripts: ``python -m loadtests run $(path_of("storm"))``.

Each script is short: its options come from :mod:`loadtests.scenarios.seed`, its calls from
:mod:`loadtests.scenarios.traffic`. Nothing here reads the corpus until a scenario runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

__all__ = ("SCENARIOS", "UnknownScenarioError", "available", "path_of")

SCENARIOS: Final = ("normal", "peak", "storm", "stress", "spike")
"""The seed's scenarios, lightest first (the order of its table)."""

_HERE: Final = Path(__file__).resolve().parent


class UnknownScenarioError(ValueError):
    """A scenario name that is none of the five; the message lists them."""


def available() -> dict[str, Path]:
    """Scenario name → script file, for the five whose file exists."""
    return {name: _HERE / f"{name}.py" for name in SCENARIOS if (_HERE / f"{name}.py").is_file()}


def path_of(name: str) -> Path:
    """The script of a seed scenario (``just load SCENARIO``).

    Raises:
        UnknownScenarioError: ``name`` is not a scenario here.
    """
    scripts = available()
    found = scripts.get(name.strip().lower())
    if found is None:
        raise UnknownScenarioError(f"unknown scenario {name!r}; available: {', '.join(scripts) or 'none'}")
    return found
