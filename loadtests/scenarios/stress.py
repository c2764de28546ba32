"""Stress: 100 users, 50 RPS for 180 s, 30 % cache hits: capacity testing, mostly cold retrievals.

``python -m loadtests run loadtests/scenarios/stress.py`` (or ``just load stress``). Phases and thresholds:
:mod:`loadtests.scenarios.seed`; incidents, arguments and the hot/cold key split: :mod:`loadtests.scenarios.traffic`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loadtests import check
from loadtests.scenarios.seed import SEED, build_options, build_targets
from loadtests.scenarios.traffic import CALL_SUCCEEDED, ScenarioTraffic

if TYPE_CHECKING:
    from loadtests.scenarios.traffic import VirtualUser

ROW = SEED["stress"]
options = build_options(ROW)
targets = build_targets(ROW)
traffic = ScenarioTraffic(ROW.cache_hit_ratio)


async def setup(vu: VirtualUser) -> dict[str, Any]:
    return await traffic.warm(vu)


async def default(vu: VirtualUser) -> None:
    check(await traffic.send(vu), CALL_SUCCEEDED)
