"""Incident storm: 50 users, 30 RPS for 300 s, 50 % cache hits: many incidents at once, half of them new.

``python -m loadtests run loadtests/scenarios/storm.py`` (or ``just load storm``). Phases and thresholds:
:mod:`loadtests.scenarios.seed`; incidents, arguments and the hot/cold key split: :mod:`loadtests.scenarios.traffic`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loadtests import check
from loadtests.scenarios.seed import SEED, build_options, build_targets
from loadtests.scenarios.traffic import CALL_SUCCEEDED, ScenarioTraffic

if TYPE_CHECKING:
    from loadtests.scenarios.traffic import VirtualUser

ROW = SEED["storm"]
options = build_options(ROW)
targets = build_targets(ROW)
traffic = ScenarioTraffic(ROW.cache_hit_ratio)


async def setup(vu: VirtualUser) -> dict[str, Any]:
    return await traffic.warm(vu)


async def default(vu: VirtualUser) -> None:
    check(await traffic.send(vu), CALL_SUCCEEDED)
