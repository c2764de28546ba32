from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

import pytest

from loadtests.options import (
    ConstantArrivalRate,
    ConstantVUs,
    PerVUIterations,
    RampingArrivalRate,
    RampingVUs,
    RateStage,
    Scenario,
    SharedIterations,
    Stage,
)
from loadtests.schedules import (
    arrival_offsets,
    end_offset,
    graceful_stop_deadline,
    iteration_plan,
    planned_arrivals,
    vu_plan,
)
from loadtests.segments import Segment

WHOLE = Segment.whole()


def thirds() -> list[Segment]:
    return [WHOLE.child(i, 3) for i in range(3)]


def shards_and_workers() -> list[Segment]:
    return [WHOLE.child(m, 3).child(w, 2) for m in range(3) for w in range(2)]


def ramp(start_rate: float, *stages: tuple[float, float], time_unit: float = 1.0) -> RampingArrivalRate:
    return RampingArrivalRate(
        start_rate=start_rate,
        time_unit=time_unit,
        stages=tuple(RateStage(duration=d, target=t) for d, t in stages),
        pre_allocated_vus=10,
    )


def integral(scenario: RampingArrivalRate, t: float) -> float:
    """The integral of the piecewise-linear rate from 0 to t, by the trapezoid rule per stage (exact)."""
    total, start, rate = 0.0, 0.0, scenario.start_rate / scenario.time_unit
    for stage in scenario.stages:
        target = stage.target / scenario.time_unit
        if t <= start:
            break
        if stage.duration > 0:
            x = min(t - start, stage.duration)
            at_x = rate + (target - rate) * x / stage.duration
            total += (rate + at_x) / 2 * x
        start += stage.duration
        rate = target
    return total


# -- constant arrival rate ---------------------------------------------------------------------------------------


def test_constant_rate_starts_evenly_from_zero() -> None:
    scenario = ConstantArrivalRate(rate=10, duration=2.0, pre_allocated_vus=5)
    offsets = list(arrival_offsets(scenario, WHOLE))
    assert len(offsets) == 20
    assert offsets == pytest.approx([k / 10 for k in range(20)])
    assert planned_arrivals(scenario, WHOLE) == 20


def test_constant_rate_honours_time_unit() -> None:
    scenario = ConstantArrivalRate(rate=120, time_unit=60.0, duration=3.0, pre_allocated_vus=1)
    assert list(arrival_offsets(scenario, WHOLE)) == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.5])


@pytest.mark.parametrize(("rate", "duration", "count"), [(10, 0.3, 3), (3, 1.0, 3), (7, 0.5, 4), (0.5, 3.0, 2)])
def test_constant_rate_counts_starts_strictly_before_the_end(rate: float, duration: float, count: int) -> None:
    scenario = ConstantArrivalRate(rate=rate, duration=duration, pre_allocated_vus=1)
    offsets = list(arrival_offsets(scenario, WHOLE))
    assert len(offsets) == count
    assert all(offset < duration for offset in offsets)


@pytest.mark.parametrize("segments", [thirds, shards_and_workers])
def test_constant_rate_segments_partition_the_schedule(segments: object) -> None:
    scenario = ConstantArrivalRate(rate=10, duration=2.0, pre_allocated_vus=5)
    whole = list(arrival_offsets(scenario, WHOLE))
    parts = [list(arrival_offsets(scenario, segment)) for segment in segments()]  # type: ignore[operator]
    assert sorted(itertools.chain(*parts)) == whole
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    assert all(part == sorted(part) for part in parts)


def test_a_long_high_rate_schedule_is_lazy() -> None:
    scenario = ConstantArrivalRate(rate=50_000, duration=300.0, pre_allocated_vus=100)
    segment = WHOLE.child(2, 3).child(1, 4)
    offsets = arrival_offsets(scenario, segment)
    assert isinstance(offsets, Iterator)
    first = list(itertools.islice(offsets, 3))
    k0 = segment.offset
    assert first == pytest.approx([(k0 + j * segment.stride) / 50_000 for j in range(3)])
    assert planned_arrivals(scenario, segment) == segment.share(15_000_000)


# -- ramping arrival rate ----------------------------------------------------------------------------------------


def test_ramp_from_zero_has_round_integral_iterations_and_none_at_zero() -> None:
    scenario = ramp(0, (10.0, 10))
    offsets = list(arrival_offsets(scenario, WHOLE))
    assert len(offsets) == 50
    assert offsets[0] > 0
    assert all(a < b for a, b in itertools.pairwise(offsets))
    assert offsets[-1] < 10.0
    # rate(t) = t, so the integral t²/2 reaches k + 1/2 at sqrt(2k + 1)
    assert offsets == pytest.approx([math.sqrt(2 * k + 1) for k in range(50)])
    assert planned_arrivals(scenario, WHOLE) == 50


def test_flat_ramp_with_a_positive_start_matches_constant_rate() -> None:
    ramping = ramp(10, (2.0, 10))
    constant = ConstantArrivalRate(rate=10, duration=2.0, pre_allocated_vus=5)
    assert list(arrival_offsets(ramping, WHOLE)) == pytest.approx(list(arrival_offsets(constant, WHOLE)))


def test_ramp_down_to_zero_places_each_start_where_the_integral_reaches_it() -> None:
    scenario = ramp(10, (10.0, 0))  # integral 50, positive at the start: phase 0
    offsets = list(arrival_offsets(scenario, WHOLE))
    assert len(offsets) == 50
    assert offsets[0] == 0.0
    assert all(a < b for a, b in itertools.pairwise(offsets))
    assert offsets[-1] < 10.0
    for k, t in enumerate(offsets):
        assert integral(scenario, t) == pytest.approx(k, abs=1e-9)


def test_multi_stage_ramp_solves_each_stage_exactly() -> None:
    scenario = ramp(2, (4.0, 6), (2.0, 6), (3.0, 0), time_unit=1.0)
    offsets = list(arrival_offsets(scenario, WHOLE))
    total = integral(scenario, 9.0)
    assert total == pytest.approx(16 + 12 + 9)
    assert len(offsets) == 37
    for k, t in enumerate(offsets):
        assert integral(scenario, t) == pytest.approx(k, abs=1e-9)
        assert 0 <= t < 9.0
    assert all(a < b for a, b in itertools.pairwise(offsets))


def test_ramp_with_a_minute_time_unit() -> None:
    scenario = ramp(0, (10.0, 600), time_unit=60.0)  # same as 0 -> 10/s over 10 s
    assert list(arrival_offsets(scenario, WHOLE)) == pytest.approx([math.sqrt(2 * k + 1) for k in range(50)])


def test_a_flat_zero_stage_then_a_jump() -> None:
    scenario = ramp(0, (5.0, 0), (0.0, 10), (2.0, 10))
    offsets = list(arrival_offsets(scenario, WHOLE))
    assert len(offsets) == 20
    assert offsets == pytest.approx([5.05 + k / 10 for k in range(20)])


def test_a_jump_at_the_start_counts_as_a_positive_start_rate() -> None:
    scenario = ramp(0, (0.0, 10), (1.0, 10))
    assert list(arrival_offsets(scenario, WHOLE)) == pytest.approx([k / 10 for k in range(10)])


def test_a_pause_in_the_middle_of_a_ramp() -> None:
    scenario = ramp(10, (1.0, 10), (0.0, 0), (5.0, 0), (0.0, 10), (1.0, 10))
    offsets = list(arrival_offsets(scenario, WHOLE))
    assert len(offsets) == 20
    assert offsets[:10] == pytest.approx([k / 10 for k in range(10)])
    assert offsets[10] == pytest.approx(1.0)  # the smallest t where the integral reaches 10
    assert offsets[11:] == pytest.approx([6 + k / 10 for k in range(1, 10)])


def test_an_all_zero_ramp_starts_nothing() -> None:
    assert list(arrival_offsets(ramp(0, (10.0, 0)), WHOLE)) == []


@pytest.mark.parametrize("segments", [thirds, shards_and_workers])
def test_ramping_segments_partition_the_schedule(segments: object) -> None:
    scenario = ramp(0, (10.0, 10), (5.0, 10), (5.0, 0))
    whole = list(arrival_offsets(scenario, WHOLE))
    parts = [list(arrival_offsets(scenario, segment)) for segment in segments()]  # type: ignore[operator]
    assert sorted(itertools.chain(*parts)) == whole
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    for segment, part in zip(segments(), parts, strict=True):  # type: ignore[operator]
        assert len(part) == planned_arrivals(scenario, segment)
        assert part == [whole[k] for k in segment.units(len(whole))]


def test_arrival_offsets_refuses_closed_executors() -> None:
    with pytest.raises(ValueError, match="no arrival schedule"):
        arrival_offsets(ConstantVUs(vus=1, duration=1.0), WHOLE)


# -- closed model: VU plans --------------------------------------------------------------------------------------


def count_at(plan: list[tuple[float, int]], t: float) -> int:
    """The step function's value at t (right-continuous)."""
    value = 0
    for at, count in plan:
        if at <= t:
            value = count
    return value


def assert_plan(plan: list[tuple[float, int]], expected: list[tuple[float, int]]) -> None:
    assert [count for _, count in plan] == [count for _, count in expected]
    assert [at for at, _ in plan] == pytest.approx([at for at, _ in expected], abs=1e-12)


def test_constant_vus_plan() -> None:
    scenario = ConstantVUs(vus=10, duration=30.0)
    assert vu_plan(scenario, WHOLE) == [(0.0, 10), (30.0, 0)]
    assert [vu_plan(scenario, s)[0][1] for s in thirds()] == [4, 3, 3]


def test_ramping_vus_change_points_up_and_down() -> None:
    scenario = RampingVUs(start_vus=0, stages=(Stage(duration=10.0, target=10), Stage(duration=10.0, target=0)))
    plan = vu_plan(scenario, WHOLE)
    up = [(float(v), v + 1) for v in range(10)]  # VU v starts as the target reaches v
    down = [(10.0 + (10 - v), v) for v in range(9, 0, -1)]  # and stops as it falls back to v
    assert_plan(plan, [*up, *down, (20.0, 0)])


def test_ramping_vus_solves_fractional_crossings() -> None:
    scenario = RampingVUs(start_vus=1, stages=(Stage(duration=3.0, target=4), Stage(duration=2.0, target=4)))
    assert_plan(vu_plan(scenario, WHOLE), [(0.0, 2), (1.0, 3), (2.0, 4), (5.0, 0)])
    slow = RampingVUs(start_vus=0, stages=(Stage(duration=7.0, target=3),))
    assert_plan(vu_plan(slow, WHOLE), [(0.0, 1), (7 / 3, 2), (14 / 3, 3), (7.0, 0)])


def test_ramping_vus_jumps_on_zero_duration_stages() -> None:
    scenario = RampingVUs(
        start_vus=5,
        stages=(Stage(duration=0.0, target=2), Stage(duration=5.0, target=2), Stage(duration=0.0, target=7)),
    )
    assert vu_plan(scenario, WHOLE) == [(0.0, 2), (5.0, 0)]
    hold = RampingVUs(start_vus=5, stages=(Stage(duration=4.0, target=5), Stage(duration=0.0, target=8)))
    assert vu_plan(hold, WHOLE) == [(0.0, 5), (4.0, 0)]
    bump = RampingVUs(
        start_vus=2,
        stages=(Stage(duration=1.0, target=2), Stage(duration=0.0, target=6), Stage(duration=1.0, target=6)),
    )
    assert vu_plan(bump, WHOLE) == [(0.0, 2), (1.0, 6), (2.0, 0)]


@pytest.mark.parametrize("segments", [thirds, shards_and_workers])
def test_ramping_vus_segments_add_up_to_the_whole(segments: object) -> None:
    scenario = RampingVUs(
        start_vus=3,
        stages=(Stage(duration=10.0, target=20), Stage(duration=5.0, target=20), Stage(duration=7.0, target=4)),
    )
    whole = vu_plan(scenario, WHOLE)
    plans = [vu_plan(scenario, segment) for segment in segments()]  # type: ignore[operator]
    for plan in plans:
        assert plan[0][0] == 0.0
        assert plan[-1] == (22.0, 0)
        times = [at for at, _ in plan]
        assert times == sorted(times)
        assert all(a != b for a, b in itertools.pairwise(count for _, count in plan[:-1]))
    probes = sorted({at for plan in plans for at, _ in plan} | {at + 0.01 for at, _ in whole} | {0.0, 11.0, 21.9})
    for t in probes:
        counts = [count_at(plan, t) for plan in plans]
        assert sum(counts) == count_at(whole, t), t
        assert max(counts) - min(counts) <= 1


def test_vu_plan_refuses_other_executors() -> None:
    with pytest.raises(ValueError, match="no VU plan"):
        vu_plan(PerVUIterations(), WHOLE)


# -- closed model: iteration counts ------------------------------------------------------------------------------


def test_per_vu_iterations_split_the_vus() -> None:
    scenario = PerVUIterations(vus=10, iterations=5)
    assert iteration_plan(scenario, WHOLE) == (10, 50)
    assert [iteration_plan(scenario, s) for s in thirds()] == [(4, 20), (3, 15), (3, 15)]


def test_shared_iterations_split_the_iteration_numbers() -> None:
    scenario = SharedIterations(vus=4, iterations=10)
    assert iteration_plan(scenario, WHOLE) == (4, 10)
    assert [iteration_plan(scenario, s) for s in thirds()] == [(2, 4), (1, 3), (1, 3)]
    parts = [iteration_plan(scenario, s) for s in shards_and_workers()]
    assert sum(iterations for _, iterations in parts) == 10
    assert sum(vus for vus, _ in parts) == 4


def test_shared_iterations_never_give_a_segment_more_vus_than_iterations() -> None:
    scenario = SharedIterations(vus=6, iterations=2)  # built directly, bypassing load_options' check
    assert iteration_plan(scenario, WHOLE) == (2, 2)
    few = SharedIterations(vus=3, iterations=3)
    assert [iteration_plan(few, WHOLE.child(i, 4)) for i in range(4)] == [(1, 1), (1, 1), (1, 1), (0, 0)]


def test_iteration_plan_refuses_other_executors() -> None:
    with pytest.raises(ValueError, match="no iteration plan"):
        iteration_plan(ConstantVUs(duration=1.0), WHOLE)


# -- ends --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "end", "deadline"),
    [
        (ConstantArrivalRate(rate=1, duration=60.0, pre_allocated_vus=1, graceful_stop=5.0), 60.0, 65.0),
        (ramp(0, (10.0, 5), (20.0, 5)), 30.0, 60.0),
        (ConstantVUs(duration=12.0, start_time=100.0), 12.0, 42.0),
        (RampingVUs(stages=(Stage(duration=3.0, target=1),), graceful_stop=0.0), 3.0, 3.0),
        (PerVUIterations(max_duration=90.0), 90.0, 120.0),
        (SharedIterations(), 600.0, 630.0),
    ],
)
def test_end_offset_and_graceful_stop_deadline(scenario: Scenario, end: float, deadline: float) -> None:
    assert end_offset(scenario) == end
    assert graceful_stop_deadline(scenario) == deadline
