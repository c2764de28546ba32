"""The load generator's benchmark script (``loadtests.engine.bench``): one GET per iteration, shaped by env.

``PP_BENCH_MODE`` picks the shape: ``closed`` (``PP_BENCH_VUS`` VUs back to back: the most one worker can send),
``open`` (``PP_BENCH_RATE`` iterations/s, arrival rate: the same with the intended-start bookkeeping and the
corrected latency on), ``lateness`` (the same at a modest rate: how late the scheduler starts iterations).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loadtests.engine.vu import VU

_mode = os.environ.get("PP_BENCH_MODE", "closed")
_seconds = f"{os.environ.get('PP_BENCH_SECONDS', '5')}s"
_vus = int(os.environ.get("PP_BENCH_VUS", "64"))
_rate = float(os.environ.get("PP_BENCH_RATE", "1000"))

_scenario: dict[str, Any]
if _mode == "closed":
    _scenario = {"executor": "constant-vus", "vus": _vus, "duration": _seconds, "gracefulStop": "2s"}
else:
    _scenario = {
        "executor": "constant-arrival-rate",
        "rate": _rate,
        "duration": _seconds,
        "preAllocatedVUs": _vus,
        "maxVUs": _vus * 4,
        "gracefulStop": "2s",
    }

options = {"scenarios": {_mode: _scenario}}
_url = os.environ.get("PP_BENCH_URL", "http://127.0.0.1:8099/")


async def default(vu: VU) -> None:
    await vu.http.get(_url)
