"""Spike: from the normal 5 RPS to 100 RPS in 5 s, held 60 s, back to 5 RPS, then 60 s of recovery; 150 users.

A flat 100 RPS (the original's "spike") says nothing about how the service takes a surge or gets over one, so the
load phase is five k6 scenarios run back to back, each tagged ``phase=load`` and ``stage=<name>``:

* ``before``: 30 s at 5 RPS, the baseline that recovery is compared with;
* ``ramp_up``: ramping-arrival-rate from 5 to 100 RPS over 5 s;
* ``spike``: 100 RPS for the seed's 60 s;
* ``ramp_down``: ramping-arrival-rate from 100 back to 5 RPS over 5 s;
* ``recovery``: 60 s at 5 RPS, long enough to see latency return to the ``before`` level (or not).

Separate scenarios rather than one ramping-arrival-rate, because k6 tags are per scenario: this way every sample
says which part of the spike it belongs to, and a threshold can name one (``mcp_tool_duration{stage:recovery}``).
Every sub-phase has the 150 users as its VU pool. Warm-up (at 2.5 RPS) and cool-down are the other scenarios'.
The intended cache-hit ratio is 20 %: a surge is mostly new incidents.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loadtests import check
from loadtests.scenarios.seed import SEED, build_options, build_targets
from loadtests.scenarios.traffic import CALL_SUCCEEDED, ScenarioTraffic

if TYPE_CHECKING:
    from loadtests.scenarios.traffic import VirtualUser

ROW = SEED["spike"]
options = build_options(ROW)
targets = build_targets(ROW)
traffic = ScenarioTraffic(ROW.cache_hit_ratio)


async def setup(vu: VirtualUser) -> dict[str, Any]:
    return await traffic.warm(vu)


async def default(vu: VirtualUser) -> None:
    check(await traffic.send(vu), CALL_SUCCEEDED)
