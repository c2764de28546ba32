"""Hits and misses on purpose (the argument sources), and each phase's k6 options as the engine reads them."""

from __future__ import annotations

import itertools
import random

import msgspec
import pytest

from loadtests.bench import plans
from loadtests.bench.keys import (
    baseline_calls,
    cached_incidents,
    cold_calls,
    feasible_hit_ratio,
    pair_calls,
    tool_hot,
    tool_mix,
    tool_templates,
    unique_procedures,
)
from loadtests.bench.options import ALL_TOOLS
from loadtests.bench.plan import procedures_used, sequence_length
from loadtests.options import ConstantArrivalRate, ConstantVUs, PerVUIterations, load_options
from loadtests.scenarios.traffic import CACHED_TOOLS, INCIDENTS, Call

_key = msgspec.json.Encoder(order="sorted").encode


def _identity(call_args: dict[str, object]) -> bytes:
    return _key(call_args)


def test_unique_procedures_are_distinct_and_never_hot():
    keys = unique_procedures()
    identities = {(k["runbook_id"].lower(), k["step_name"].lower()) for k in keys}
    assert len(identities) == len(keys) > 500
    hot = {(a["runbook_id"].lower(), a["step_name"].lower()) for a in tool_hot(None)["get_procedure"]}
    assert hot and not hot & identities
    assert unique_procedures() == keys  # fixed order: phases can be given disjoint slices


def test_cold_calls_are_one_new_key_per_tool_in_order():
    calls = cold_calls(ALL_TOOLS, "bench-1-cold", 0)
    assert [c.tool for c in calls] == list(ALL_TOOLS)
    assert all(c.tags == {"cache": "cold"} for c in calls)
    search = calls[0].arguments
    assert search["context"]["incident_id"].startswith("bench")
    other_run = cold_calls(ALL_TOOLS, "bench-2-cold", 0)[0].arguments
    assert search["context"]["incident_id"] != other_run["context"]["incident_id"]
    assert calls[2].arguments == unique_procedures()[0]


def test_baseline_calls_misses_are_all_new_and_hits_all_warm():
    tools = ("search_runbooks", "get_procedure", "search_knowledge_base", "get_escalation_path")
    hot = tool_hot(None)
    calls = baseline_calls(tools, hot, 20, "bench-x-baseline", 5)
    spec = plans.baseline_plan(tools, 20, 5).calls["baseline"]
    assert len(calls) == sequence_length(spec) == 20 * (2 * 3 + 1)
    for tool in tools:
        mine = [c for c in calls if c.tool == tool]
        misses = [_identity(c.arguments) for c in mine if c.tags["cache"] == "miss"]
        hits = [_identity(c.arguments) for c in mine if c.tags["cache"] == "hit"]
        if tool in CACHED_TOOLS:
            assert len(misses) == len(set(misses)) == 20
            warm = {_identity(a) for a in hot[tool]}
            assert set(hits) <= warm and len(hits) == 20
            assert not set(misses) & warm
        else:
            assert [c.tags["cache"] for c in mine] == ["none"] * 20
    procedures = [c.arguments for c in calls if c.tool == "get_procedure" and c.tags["cache"] == "miss"]
    assert procedures == [dict(k) for k in unique_procedures()[5:25]]


def test_pair_calls_repeat_the_new_key_exactly():
    calls = pair_calls(ALL_TOOLS, 3, 2, "bench-x-cache", 0)
    spec = plans.cache_plan(ALL_TOOLS, 3, 2, 0).calls["cache"]
    assert len(calls) == sequence_length(spec) == len(CACHED_TOOLS) * 3 * 3
    assert {c.tool for c in calls} == set(CACHED_TOOLS)
    for start in range(0, len(calls), 3):
        miss, *hits = calls[start : start + 3]
        assert miss.tags == {"cache": "miss"} and all(h.tags == {"cache": "hit"} for h in hits)
        assert all(h.arguments == miss.arguments and h.tool == miss.tool for h in hits)
    misses = [_identity(c.arguments) for c in calls if c.tags["cache"] == "miss"]
    assert len(set(misses)) == len(misses)


def test_phases_get_disjoint_slices_of_the_procedure_keys():
    def fresh(calls: list[Call]) -> set[bytes]:
        return {_identity(c.arguments) for c in calls if c.tool == "get_procedure" and c.tags["cache"] != "hit"}

    cold_spec = plans.cold_plan(ALL_TOOLS, 0).calls["cold"]
    baseline_spec = plans.baseline_plan(ALL_TOOLS, 10, 0).calls["baseline"]
    cold = fresh(cold_calls(ALL_TOOLS, "r", 0))
    offset = procedures_used(cold_spec)
    baseline = fresh(baseline_calls(ALL_TOOLS, tool_hot(None), 10, "r", offset))
    offset += procedures_used(baseline_spec)
    cache = fresh(pair_calls(ALL_TOOLS, 4, 1, "r", offset))
    assert (len(cold), len(baseline), len(cache)) == (1, 10, 4)
    assert not cold & baseline and not baseline & cache and not cold & cache


def test_tool_mix_never_misses_get_procedure_and_always_misses_on_zero_hit_ratio():
    hot = tool_hot(None)
    rng = random.Random(1)
    counter = iter(range(1_000_000))
    procedure = tool_mix("get_procedure", hot, 0.0)
    assert {procedure.draw(rng, lambda: f"t{next(counter)}").tags["cache"] for _ in range(50)} == {"hot"}
    search = tool_mix("search_runbooks", hot, 0.0)
    drawn = [search.draw(rng, lambda: f"t{next(counter)}") for _ in range(50)]
    assert {d.tags["cache"] for d in drawn} == {"cold"}
    assert len({_identity(d.arguments) for d in drawn}) == 50
    escalation = tool_mix("get_escalation_path", hot, 0.5)
    assert {escalation.draw(rng, lambda: "x").tags["cache"] for _ in range(20)} == {"none"}


def test_list_sources_has_templates_although_no_incident_calls_it():
    assert tool_templates()["list_sources"] == [{"include_health": True}, {"include_health": False}]


def test_cached_incidents_and_the_lowest_feasible_hit_ratio():
    cached = cached_incidents(ALL_TOOLS, cached_only=True)
    assert all(set(i.tools) <= CACHED_TOOLS for i in cached)
    assert len(cached) == len(INCIDENTS)  # every incident has a cached tool
    only_procedure = cached_incidents(("get_procedure",), cached_only=False)
    assert feasible_hit_ratio(0.0, only_procedure) == 1.0  # a key set it cannot leave
    assert feasible_hit_ratio(0.5, cached_incidents(ALL_TOOLS, cached_only=False)) == 0.5


# --- plans, as the engine validates them ----------------------------------------------------------------------


def test_per_tool_scenarios_run_one_after_another_without_overlap():
    plan = plans.per_tool_plan("load", ALL_TOOLS, 16, 15.0, 0.8)
    options = load_options(plan.options, source="test")
    scenarios = [options.scenarios[f"load_{t}"] for t in ALL_TOOLS]
    assert all(isinstance(s, ConstantVUs) and s.vus == 16 for s in scenarios)
    for before, after in itertools.pairwise(scenarios):
        assert isinstance(before, ConstantVUs)
        assert before.start_time + before.duration + before.graceful_stop <= after.start_time + 1e-9
    assert set(plan.calls) == {f"load_{t}" for t in ALL_TOOLS}
    assert all(spec.mode == "tool" and spec.hit_ratio == 0.8 for spec in plan.calls.values())


def test_sequences_are_one_vu_and_cold_is_not_warmed_first():
    cold = plans.cold_plan(ALL_TOOLS, 0)
    options = load_options(cold.options, source="test")
    scenario = options.scenarios["cold"]
    assert isinstance(scenario, PerVUIterations)
    assert scenario.vus == 1 and scenario.iterations == len(ALL_TOOLS)
    assert cold.warm is False
    assert plans.baseline_plan(ALL_TOOLS, 3, 0).warm is True


@pytest.mark.parametrize("rate", [1.0, 25.0, 400.0, 6400.0])
def test_capacity_steps_are_open_model_with_enough_vus(rate):
    plan = plans.capacity_plan(("search_runbooks", "get_procedure"), rate, 10.0, 200.0)
    scenario = load_options(plan.options, source="test").scenarios["capacity"]
    assert isinstance(scenario, ConstantArrivalRate)
    assert scenario.rate == max(1, round(rate)) and scenario.time_unit == 1.0
    # Little's law: rate × 2 × target latency in flight must fit in the pool
    assert scenario.max_vus >= rate * 0.2 * 2
    assert scenario.pre_allocated_vus <= scenario.max_vus
    spec = plan.calls["capacity"]
    assert spec.mode == "mix" and spec.cached_only and spec.hit_ratio == 1.0
