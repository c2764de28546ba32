"""One phase as the engine runs it: k6 options plus, per scenario, what its VUs call — handed to the script by env.

The benchmark drives the real engine (``Coordinator``) with one script, ``loadtests/bench/scripts/phase.py``, whose
shape comes from ``$PP_BENCH_PLAN`` (this struct as JSON), as ``loadtests.engine.bench`` does with its own script:
the worker processes inherit the environment, so coordinator and workers load the same plan.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Final, Literal

import msgspec

from loadtests.scenarios.traffic import CACHED_TOOLS

__all__ = ("PLAN_ENV", "SCRIPT", "CallSpec", "PhasePlan", "procedures_used", "read_plan", "sequence_length")

PLAN_ENV: Final = "PP_BENCH_PLAN"
SCRIPT: Final = Path(__file__).resolve().parent / "scripts" / "phase.py"


class CallSpec(msgspec.Struct, frozen=True, kw_only=True):
    """What one scenario's VUs call.

    ``sequence``: one VU works through a fixed list (``cold``, ``baseline`` or ``pairs``, :mod:`loadtests.bench.keys`),
    one call per iteration; ``tool``: one tool, warm keys with probability ``hit_ratio``, else new ones; ``mix``: the
    seed's incident mix over ``tools`` (``cached_only``: only the cached ones) at ``hit_ratio``.
    """

    mode: Literal["sequence", "tool", "mix"]
    sequence: Literal["cold", "baseline", "pairs"] | None = None
    tool: str | None = None
    tools: tuple[str, ...] = ()
    cached_only: bool = False
    hit_ratio: float = 1.0
    iterations: int = 0
    """baseline: calls per tool and cache class."""
    pairs: int = 0
    repeats: int = 0
    procedure_offset: int = 0
    """Where this phase's never-used get_procedure keys start in ``keys.unique_procedures()``."""


class PhasePlan(msgspec.Struct, frozen=True, kw_only=True):
    phase: str
    options: dict[str, Any]
    calls: dict[str, CallSpec]
    warm: bool = True
    """setup() calls every hot key once, so hits are hits (a no-op cost after the first phase)."""


def sequence_length(spec: CallSpec) -> int:
    """How many calls a ``sequence`` spec makes (its scenario's iteration count)."""
    cached = sum(1 for tool in spec.tools if tool in CACHED_TOOLS)
    if spec.sequence == "cold":
        return len(spec.tools)
    if spec.sequence == "baseline":
        return spec.iterations * (2 * cached + (len(spec.tools) - cached))
    if spec.sequence == "pairs":
        return cached * spec.pairs * (1 + spec.repeats)
    return 0


def procedures_used(spec: CallSpec) -> int:
    """How many never-used get_procedure keys a ``sequence`` spec consumes."""
    if "get_procedure" not in spec.tools:
        return 0
    if spec.sequence == "cold":
        return 1
    if spec.sequence == "baseline":
        return spec.iterations
    if spec.sequence == "pairs":
        return spec.pairs
    return 0


def read_plan() -> PhasePlan:
    raw = os.environ.get(PLAN_ENV)
    if not raw:
        raise RuntimeError(f"${PLAN_ENV} is not set: this script is run by `python -m loadtests bench`")
    return msgspec.json.decode(raw, type=PhasePlan)
