"""When iterations start and how many VUs run, for one segment of a scenario: pure math, seconds from its start.

The engine turns these into timers. Every segment computes the same global schedule and keeps its own units
(:mod:`loadtests.segments`), so workers and machines need no coordination and together run exactly the whole.

Arrival-rate rule. Global iteration ``k`` starts at the smallest ``t`` where the integral of the rate from 0 to
``t`` reaches ``k + phase``. ``phase`` is 0 when the rate is positive at the start (iteration 0 at ``t = 0``, and a
flat ramping stage gives exactly constant-arrival-rate's ``k * timeUnit / rate``), and 1/2 when the test starts
at rate 0 (no iteration at ``t = 0`` from a rate that has not begun; each start sits in the middle of its unit of
the integral). The test has the iterations whose threshold lies below the whole integral ``F``: ``ceil(F)`` with
phase 0 and ``F`` rounded half down with phase 1/2, so ``round(F)`` whenever ``F`` is whole (a constant rate over
its duration, or 0→10/s over 10 s = 50). Offsets within a nanosecond-scale tolerance of the end count as the end.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from loadtests.options import (
    ConstantArrivalRate,
    ConstantVUs,
    PerVUIterations,
    RampingArrivalRate,
    RampingVUs,
    SharedIterations,
    scenario_length,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from loadtests.options import Scenario
    from loadtests.segments import Segment

__all__ = (
    "arrival_offsets",
    "end_offset",
    "graceful_stop_deadline",
    "iteration_plan",
    "planned_arrivals",
    "vu_plan",
)

_RELATIVE_TOLERANCE = 1e-9
"""Float error allowed in an iteration count before it rounds up to one more iteration."""


def end_offset(scenario: Scenario) -> float:
    """When the scenario stops starting iterations, from its own start (an iteration executor may finish earlier)."""
    return scenario_length(scenario)


def graceful_stop_deadline(scenario: Scenario) -> float:
    """When iterations still running are interrupted: the end plus ``gracefulStop``."""
    return scenario_length(scenario) + scenario.graceful_stop


# -- open model --------------------------------------------------------------------------------------------------


def _iterations_below(total: float, phase: float) -> int:
    """How many thresholds ``k + phase`` (k = 0, 1, ...) lie strictly below ``total``."""
    return max(0, math.ceil(total - phase - _RELATIVE_TOLERANCE * max(1.0, total)))


def _pieces(scenario: RampingArrivalRate) -> tuple[list[tuple[float, float, float, float, float]], float]:
    """Per stage ``(start, duration, rate_from, rate_to, integral_before)`` (rates per second), and the integral."""
    pieces: list[tuple[float, float, float, float, float]] = []
    start = area = 0.0
    rate = scenario.start_rate / scenario.time_unit
    for stage in scenario.stages:
        target = stage.target / scenario.time_unit
        pieces.append((start, stage.duration, rate, target, area))
        area += (rate + target) / 2 * stage.duration
        start += stage.duration
        rate = target
    return pieces, area


def _phase(scenario: RampingArrivalRate) -> float:
    rate = scenario.start_rate
    for stage in scenario.stages:  # zero-duration stages at the start jump the rate before anything runs
        if stage.duration > 0:
            break
        rate = stage.target
    return 0.0 if rate > 0 else 0.5


def _arrival_total(scenario: ConstantArrivalRate | RampingArrivalRate) -> int:
    if isinstance(scenario, ConstantArrivalRate):
        return _iterations_below(scenario.rate * scenario.duration / scenario.time_unit, 0.0)
    return _iterations_below(_pieces(scenario)[1], _phase(scenario))


def planned_arrivals(scenario: Scenario, segment: Segment) -> int:
    """How many iterations :func:`arrival_offsets` yields for this segment (without generating them)."""
    return segment.share(_arrival_total(_arrival(scenario)))


def _arrival(scenario: Scenario) -> ConstantArrivalRate | RampingArrivalRate:
    if not isinstance(scenario, ConstantArrivalRate | RampingArrivalRate):
        raise ValueError(f"{scenario.executor} has no arrival schedule (only the arrival-rate executors do)")
    return scenario


def arrival_offsets(scenario: Scenario, segment: Segment) -> Iterator[float]:
    """Start offsets (seconds from the scenario's start) of the iterations this segment owns, ascending, lazily."""
    scenario = _arrival(scenario)
    owned = segment.units(_arrival_total(scenario))
    if isinstance(scenario, ConstantArrivalRate):
        time_unit, rate = scenario.time_unit, scenario.rate
        return (k * time_unit / rate for k in owned)
    return _ramping_offsets(scenario, owned)


def _ramping_offsets(scenario: RampingArrivalRate, owned: range) -> Iterator[float]:
    pieces, _ = _pieces(scenario)
    phase = _phase(scenario)
    ends = [piece[4] for piece in pieces[1:]]  # the integral at the end of each stage but the last
    last = len(pieces) - 1
    index = 0
    for k in owned:
        threshold = k + phase
        while index < last and threshold > ends[index]:
            index += 1
        start, duration, rate_from, rate_to, before = pieces[index]
        yield start + _reach(threshold - before, duration, rate_from, rate_to)


def _reach(amount: float, duration: float, rate_from: float, rate_to: float) -> float:
    """The time into a linear-rate stage at which its integral reaches ``amount`` (solved exactly).

    ``a x + s x² / 2 = amount`` with ``s = (b - a) / d``; the root ``2 amount / (a + sqrt(a² + 2 s amount))`` is
    the stable form of the quadratic formula, and is ``amount / a`` for a flat stage.
    """
    if amount <= 0:
        return 0.0
    if duration <= 0:
        return duration
    slope = (rate_to - rate_from) / duration
    root = math.sqrt(max(0.0, rate_from * rate_from + 2.0 * slope * amount))
    denominator = rate_from + root
    if denominator <= 0:
        return duration
    return min(duration, 2.0 * amount / denominator)


# -- closed model ------------------------------------------------------------------------------------------------


def vu_plan(scenario: Scenario, segment: Segment) -> list[tuple[float, int]]:
    """The VUs this segment runs as a step function: ``(offset, count from then on)``.

    The first entry is at 0.0 and the last is ``(end, 0)``; in between, one entry per change. Global VU ``v``
    (0-based) is active while the global target, linear within each stage, is above ``v``: on the way up it starts
    as the target reaches ``v``, on the way down it stops as the target falls to ``v`` (k6's steps). A
    zero-duration stage is a jump. A VU removed by a ramp-down may finish its current iteration for up to
    ``gracefulRampDown`` (the engine's job); one removed by the final ``(end, 0)`` gets ``gracefulStop``.
    """
    if isinstance(scenario, ConstantVUs):
        return [(0.0, segment.share(scenario.vus)), (scenario.duration, 0)]
    if not isinstance(scenario, RampingVUs):
        raise ValueError(f"{scenario.executor} has no VU plan (only constant-vus and ramping-vus do)")
    plan = [(0.0, segment.share(scenario.start_vus))]
    start, current = 0.0, scenario.start_vus
    for stage in scenario.stages:
        target, duration = stage.target, stage.duration
        if duration <= 0:
            _step(plan, start, segment.share(target))
        elif target > current:
            for vu in segment.units(target, current):
                _step(plan, start + duration * (vu - current) / (target - current), segment.share(vu + 1))
        elif target < current:
            for vu in reversed(segment.units(current, target)):
                _step(plan, start + duration * (current - vu) / (current - target), segment.share(vu))
        start += duration
        current = target
    if plan[-1][0] >= start:
        plan[-1] = (start, 0)
    else:
        plan.append((start, 0))
    return plan


def _step(plan: list[tuple[float, int]], at: float, count: int) -> None:
    """Record a change; changes at the same instant collapse into the last one."""
    if plan[-1][0] == at:
        plan[-1] = (at, count)
        if len(plan) > 1 and plan[-2][1] == count:
            plan.pop()
    elif plan[-1][1] != count:
        plan.append((at, count))


def iteration_plan(scenario: Scenario, segment: Segment) -> tuple[int, int]:
    """``(VUs, iterations)`` this segment runs, in total, for the iteration-count executors.

    per-vu-iterations: the segment's share of the VUs, each doing ``iterations``. shared-iterations: the segment's
    share of the global iteration numbers, run by its share of the VUs but never more VUs than iterations.
    """
    if isinstance(scenario, PerVUIterations):
        vus = segment.share(scenario.vus)
        return vus, vus * scenario.iterations
    if isinstance(scenario, SharedIterations):
        iterations = segment.share(scenario.iterations)
        return min(segment.share(scenario.vus), iterations), iterations
    raise ValueError(f"{scenario.executor} has no iteration plan (only the iteration-count executors do)")
