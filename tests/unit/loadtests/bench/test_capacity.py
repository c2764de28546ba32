"""The capacity search on synthetic services whose knee is known exactly."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import msgspec
import pytest

from loadtests.bench.capacity import Observation, SearchConfig, judge, search_capacity

if TYPE_CHECKING:
    from collections.abc import Callable


def queue_model(capacity_rps: float, service_ms: float = 2.0) -> Callable[[float], Observation]:
    """An M/M/1-like service: p99 = service · ln(100) / (1 − ρ); past capacity it cannot keep up at all."""

    def probe(offered: float) -> Observation:
        rho = offered / capacity_rps
        if rho >= 1.0:
            return Observation(
                offered_rps=offered, achieved_rps=capacity_rps, p50_ms=900.0, p95_ms=2000.0, p99_ms=3000.0
            )
        p99 = service_ms * math.log(100.0) / (1.0 - rho)
        return Observation(offered_rps=offered, achieved_rps=offered, p50_ms=service_ms, p95_ms=p99 / 2, p99_ms=p99)

    return probe


def true_knee(capacity_rps: float, target_ms: float, service_ms: float = 2.0) -> float:
    """The rate where the model's p99 equals the target."""
    return capacity_rps * (1.0 - service_ms * math.log(100.0) / target_ms)


@pytest.mark.parametrize("capacity", [80.0, 333.0, 1234.0, 5000.0])
def test_the_search_finds_the_knee_within_one_bisection_interval(capacity):
    config = SearchConfig(target_p99_ms=200.0, start_rps=25.0, factor=2.0, bisect=4, resolution=0.02)
    knee = true_knee(capacity, 200.0)
    result = search_capacity(queue_model(capacity), config)
    assert result.knee_rps is not None and result.first_bad_rps is not None
    # the reported knee held and the first bad rate broke, with the true knee between them
    assert result.knee_rps <= knee < result.first_bad_rps
    # four bisections of a factor of 2 leave a bracket of at most 2 ** (1/16) (plus rounding to whole rates)
    assert result.first_bad_rps / result.knee_rps <= 2 ** (1 / 16) + 2 / result.knee_rps
    assert result.limited_by == "server"
    assert [s.kind for s in result.steps].count("bisect") <= 4


def test_every_step_is_recorded_and_the_curve_is_sorted_by_offered_rate():
    result = search_capacity(queue_model(1000.0), SearchConfig(start_rps=100.0, factor=2.0, bisect=2))
    offered = [s.offered_rps for s in result.steps]
    assert offered[:5] == [100.0, 200.0, 400.0, 800.0, 1600.0]  # geometric until past the capacity, then bisection
    assert [s.offered_rps for s in result.curve] == sorted(offered)
    assert all(s.ok == (s.offered_rps <= result.knee_rps) for s in result.steps if result.knee_rps)


def test_when_the_first_step_breaks_the_search_goes_down_then_bisects():
    config = SearchConfig(target_p99_ms=200.0, start_rps=400.0, factor=2.0, bisect=3)
    result = search_capacity(queue_model(100.0), config)
    kinds = [s.kind for s in result.steps]
    assert kinds[0] == "geometric" and "descend" in kinds
    assert result.knee_rps is not None and result.knee_rps <= true_knee(100.0, 200.0)
    assert result.first_bad_rps is not None and result.first_bad_rps > true_knee(100.0, 200.0)


def test_a_knee_beyond_the_ceiling_is_a_lower_bound():
    result = search_capacity(queue_model(1e9), SearchConfig(start_rps=10.0, factor=10.0, max_rps=1000.0))
    assert result.knee_rps == 1000.0
    assert result.first_bad_rps is None
    assert result.limited_by == "max_rate"
    assert "lower bound" in result.note


def test_too_few_steps_to_break_say_so():
    result = search_capacity(queue_model(1e9), SearchConfig(start_rps=10.0, factor=2.0, max_steps=3))
    assert [s.offered_rps for s in result.steps] == [10.0, 20.0, 40.0]
    assert result.limited_by == "max_steps"


def test_an_overloaded_generator_makes_the_knee_the_generators():
    def probe(offered: float) -> Observation:
        lagging = ["the load generator's event loop lagged"] if offered >= 200 else []
        return Observation(offered_rps=offered, achieved_rps=offered, p50_ms=1.0, p95_ms=2.0, p99_ms=3.0,
                           generator_notes=lagging)  # fmt: skip

    result = search_capacity(probe, SearchConfig(start_rps=50.0, factor=2.0, bisect=0))
    assert result.knee_rps == 100.0
    assert result.first_bad_rps == 200.0
    assert result.limited_by == "generator"
    assert "generator" in result.note


def test_interrupted_search_stops_and_keeps_its_steps():
    calls = []

    def probe(offered: float) -> Observation:
        calls.append(offered)
        if len(calls) == 3:
            return Observation(offered_rps=offered, achieved_rps=0.0, p50_ms=None, p95_ms=None, p99_ms=None,
                               interrupted=True)  # fmt: skip
        return Observation(offered_rps=offered, achieved_rps=offered, p50_ms=1.0, p95_ms=1.0, p99_ms=1.0)

    result = search_capacity(probe, SearchConfig(start_rps=10.0, factor=2.0))
    assert len(calls) == 3
    assert len(result.steps) == 2
    assert result.limited_by == "interrupted"
    assert result.knee_rps == 20.0


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"p99_ms": 250.0}, "p99 250.0 ms > 200 ms"),
        ({"achieved_rps": 90.0}, "achieved 90.0/s < 95% of 100/s offered"),
        ({"error_rate": 0.05}, "errors 5.00% > 2%"),
        ({"p99_ms": None}, "no successful call"),
        ({"generator_notes": ["lag"]}, "load generator was overloaded"),
    ],
)
def test_each_criterion_alone_breaks_a_step(changes, reason):
    base = Observation(offered_rps=100.0, achieved_rps=100.0, p50_ms=1.0, p95_ms=5.0, p99_ms=150.0)
    step = judge(msgspec.structs.replace(base, **changes), SearchConfig(), "geometric")
    assert not step.ok
    assert len(step.reasons) == 1 and reason in step.reasons[0]


def test_a_step_within_every_criterion_holds():
    step = judge(
        Observation(offered_rps=100.0, achieved_rps=96.0, p50_ms=1.0, p95_ms=5.0, p99_ms=199.0, error_rate=0.02),
        SearchConfig(),
        "bisect",
    )
    assert step.ok and step.reasons == [] and step.kind == "bisect"
