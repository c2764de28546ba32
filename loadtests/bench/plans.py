"""Each phase as k6 options: which executor, how many VUs, for how long — and why that model.

* **cold**, **baseline**, **cache**: one VU back to back (``per-vu-iterations``), a fixed list of calls. Nothing
  queues, so a call's latency is the service's time for it alone: the closed model at concurrency 1 is the point.
* **warmup**, **memory**: the seed's incident mix, ``vus`` VUs back to back (``constant-vus``). The memory phase is
  closed on purpose: it makes as many requests per minute as the service can take, so a per-request leak shows
  fastest (growth is also reported per 1,000 requests, so runs at different throughput compare).
* **load**, **stress**: each tool alone, ``vus`` (stress: 2 × ``vus``) VUs back to back (``constant-vus``), one
  scenario per tool, one after the other. Closed because the question is "what does N calls in flight cost": the
  concurrency is held and latency and throughput are the answers (stress against load shows whether doubling the
  concurrency bought throughput or only queueing). The open-model question, "what latency at R requests/s", is
  the capacity search's.
* **capacity**: ``constant-arrival-rate`` at the step's rate, cached calls only; enough VUs that the pool does not
  cap concurrency before the latency target does (Little's law at the target latency, doubled).
"""

from __future__ import annotations

import math
from typing import Any, Final

from loadtests.bench.plan import CallSpec, PhasePlan, sequence_length
from loadtests.scenarios.traffic import CACHED_TOOLS

__all__ = (
    "GAP_S",
    "baseline_plan",
    "cache_plan",
    "capacity_plan",
    "capacity_vus",
    "cold_plan",
    "mix_plan",
    "per_tool_plan",
)

GAP_S: Final = 0.5
"""Between two tools' scenarios: the graceful stop of the one before, so their calls never overlap."""
_SEQUENCE_LIMIT_S: Final = 600.0


def _seconds(value: float) -> str:
    return f"{value:.3f}s"


def _sequence(phase: str, scenario: str, spec: CallSpec, *, warm: bool) -> PhasePlan:
    options: dict[str, Any] = {
        "scenarios": {
            scenario: {
                "executor": "per-vu-iterations",
                "vus": 1,
                "iterations": max(1, sequence_length(spec)),
                "maxDuration": _seconds(_SEQUENCE_LIMIT_S),
                "gracefulStop": "5s",
                "tags": {"phase": phase},
            }
        }
    }
    return PhasePlan(phase=phase, options=options, calls={scenario: spec}, warm=warm)


def cold_plan(tools: tuple[str, ...], procedure_offset: int) -> PhasePlan:
    """One call per tool with a never-seen key, before anything else has touched the stack (no setup warming)."""
    spec = CallSpec(mode="sequence", sequence="cold", tools=tools, procedure_offset=procedure_offset)
    return _sequence("cold", "cold", spec, warm=False)


def baseline_plan(tools: tuple[str, ...], iterations: int, procedure_offset: int) -> PhasePlan:
    spec = CallSpec(
        mode="sequence", sequence="baseline", tools=tools, iterations=iterations, procedure_offset=procedure_offset
    )
    return _sequence("baseline", "baseline", spec, warm=True)


def cache_plan(tools: tuple[str, ...], pairs: int, repeats: int, procedure_offset: int) -> PhasePlan:
    cached = tuple(t for t in tools if t in CACHED_TOOLS)
    spec = CallSpec(
        mode="sequence",
        sequence="pairs",
        tools=cached,
        pairs=pairs,
        repeats=repeats,
        procedure_offset=procedure_offset,
    )
    return _sequence("cache", "cache", spec, warm=False)


def mix_plan(phase: str, tools: tuple[str, ...], vus: int, duration_s: float, hit_ratio: float) -> PhasePlan:
    """The seed's incident mix over ``tools`` at ``hit_ratio``, ``vus`` VUs back to back."""
    options: dict[str, Any] = {
        "scenarios": {
            phase: {
                "executor": "constant-vus",
                "vus": vus,
                "duration": _seconds(duration_s),
                "gracefulStop": "5s",
                "tags": {"phase": phase},
            }
        }
    }
    spec = CallSpec(mode="mix", tools=tools, hit_ratio=hit_ratio)
    return PhasePlan(phase=phase, options=options, calls={phase: spec}, warm=True)


def per_tool_plan(phase: str, tools: tuple[str, ...], vus: int, duration_s: float, hit_ratio: float) -> PhasePlan:
    """Scenario ``<phase>_<tool>`` per tool, ``vus`` VUs back to back for ``duration_s``, one tool after another."""
    scenarios: dict[str, dict[str, Any]] = {}
    calls: dict[str, CallSpec] = {}
    for index, tool in enumerate(tools):
        name = f"{phase}_{tool}"
        scenarios[name] = {
            "executor": "constant-vus",
            "vus": vus,
            "duration": _seconds(duration_s),
            "startTime": _seconds(index * (duration_s + GAP_S)),
            "gracefulStop": _seconds(GAP_S),
            "tags": {"phase": phase},
        }
        calls[name] = CallSpec(mode="tool", tool=tool, hit_ratio=hit_ratio)
    return PhasePlan(phase=phase, options={"scenarios": scenarios}, calls=calls, warm=True)


def capacity_vus(rate: float, target_p99_ms: float) -> tuple[int, int]:
    """(preAllocatedVUs, maxVUs) for a step: in flight = rate × latency (Little), at twice the target latency."""
    most = max(16, math.ceil(rate * target_p99_ms / 1000.0 * 2.0))
    return min(most, max(8, math.ceil(rate * 0.02))), most


def capacity_plan(tools: tuple[str, ...], rate: float, duration_s: float, target_p99_ms: float) -> PhasePlan:
    pre, most = capacity_vus(rate, target_p99_ms)
    options: dict[str, Any] = {
        "scenarios": {
            "capacity": {
                "executor": "constant-arrival-rate",
                "rate": max(1, round(rate)),
                "timeUnit": "1s",
                "duration": _seconds(duration_s),
                "preAllocatedVUs": pre,
                "maxVUs": most,
                "gracefulStop": _seconds(max(1.0, target_p99_ms / 1000.0 * 5)),
                "tags": {"phase": "capacity"},
            }
        }
    }
    spec = CallSpec(mode="mix", tools=tools, cached_only=True, hit_ratio=1.0)
    return PhasePlan(phase="capacity", options=options, calls={"capacity": spec}, warm=True)
