"""The seed's table and the k6 options built from it: phases, rates, VU pools, thresholds, the spike's shape."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest

from loadtests.scenarios.seed import SEED, build_options, build_targets

TABLE = {  # name: (users, rps, load seconds, cache-hit ratio, error budget), from the original load test
    "normal": (10, 5, 60, 0.8, 0.01),
    "peak": (25, 15, 120, 0.7, 0.02),
    "storm": (50, 30, 300, 0.5, 0.05),
    "stress": (100, 50, 180, 0.3, 0.10),
    "spike": (150, 100, 60, 0.2, 0.15),
}


def seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(s|m)", text)
    assert match, text
    return float(match[1]) * (60 if match[2] == "m" else 1)


def rate_at(options: dict[str, Any], t: float) -> float:
    """Iterations per second the options ask for at ``t`` seconds into the run (arrival-rate executors only)."""
    total = 0.0
    for scenario in options["scenarios"].values():
        start = seconds(scenario["startTime"])
        unit = seconds(scenario["timeUnit"])
        if scenario["executor"] == "constant-arrival-rate":
            if start <= t < start + seconds(scenario["duration"]):
                total += scenario["rate"] / unit
        else:
            assert scenario["executor"] == "ramping-arrival-rate"
            rate, at = float(scenario["startRate"]), start
            for stage in scenario["stages"]:
                length = seconds(stage["duration"])
                if at <= t < at + length:
                    total += (rate + (stage["target"] - rate) * (t - at) / length) / unit
                rate, at = stage["target"], at + length
    return total


def windows(options: dict[str, Any]) -> list[tuple[str, float, float]]:
    out = []
    for name, scenario in options["scenarios"].items():
        start = seconds(scenario["startTime"])
        length = (
            seconds(scenario["duration"])
            if "duration" in scenario
            else sum(seconds(stage["duration"]) for stage in scenario["stages"])
        )
        out.append((name, start, start + length))
    return sorted(out, key=lambda w: w[1])


def test_the_table_is_the_seeds():
    assert list(SEED) == list(TABLE)
    for name, (users, rps, duration, hit, budget) in TABLE.items():
        row = SEED[name]
        assert (row.users, row.rps, row.duration_s, row.cache_hit_ratio, row.error_budget) == (
            users, rps, duration, hit, budget
        )  # fmt: skip


@pytest.mark.parametrize("name", [n for n in TABLE if n != "spike"])
def test_steady_scenarios_run_warmup_load_cooldown(name: str):
    users, rps, duration, _, _ = TABLE[name]
    options = build_options(SEED[name])
    warmup, load, cooldown = (options["scenarios"][p] for p in ("warmup", "load", "cooldown"))
    assert [w[0] for w in windows(options)] == ["warmup", "load", "cooldown"]
    assert rate_at(options, 10) == pytest.approx(rps / 2)
    assert warmup["preAllocatedVUs"] == warmup["maxVUs"] == min(5, users)
    assert seconds(warmup["duration"]) == 30 and seconds(warmup["startTime"]) == 0
    assert load["executor"] == "constant-arrival-rate"
    assert load["rate"] / seconds(load["timeUnit"]) == rps
    assert load["preAllocatedVUs"] == load["maxVUs"] == users
    assert seconds(load["startTime"]) == 30 and seconds(load["duration"]) == duration
    assert rate_at(options, 30 + duration / 2) == rps
    assert seconds(cooldown["startTime"]) == 30 + duration and seconds(cooldown["duration"]) == 15
    assert cooldown["rate"] / seconds(cooldown["timeUnit"]) == 1 and cooldown["maxVUs"] == 2
    assert [s["tags"]["phase"] for s in (warmup, load, cooldown)] == ["warmup", "load", "cooldown"]


@pytest.mark.parametrize("name", list(TABLE))
def test_phases_follow_each_other_without_gap_or_overlap(name: str):
    spans = windows(build_options(SEED[name]))
    for (_, _, end), (_, start, _) in itertools.pairwise(spans):
        assert start == end
    for scenario in build_options(SEED[name])["scenarios"].values():
        assert isinstance(scenario.get("rate", scenario.get("startRate")), int)  # k6 rates are whole numbers


def test_spike_goes_from_the_normal_rate_to_100_and_back():
    options = build_options(SEED["spike"])
    load = {n: s for n, s in options["scenarios"].items() if s["tags"]["phase"] == "load"}
    assert list(load) == ["before", "ramp_up", "spike", "ramp_down", "recovery"]
    assert all(s["tags"]["stage"] == n for n, s in load.items())
    assert all(s["preAllocatedVUs"] == s["maxVUs"] == 150 for s in load.values())
    start, end = seconds(load["before"]["startTime"]), windows(options)[-2][2]
    profile = [rate_at(options, start + i / 10) for i in range(int((end - start) * 10))]
    peak_at = profile.index(max(profile))
    assert max(profile) == 100
    assert profile[0] == 5 and profile[-1] == 5
    # up within a few seconds, held for the seed's 60 s, down within a few seconds, then 5 RPS long enough
    rising = [r for r in profile[:peak_at] if 5 < r < 100]
    assert 0 < len(rising) / 10 <= 10
    assert sum(1 for r in profile if r == 100) / 10 == pytest.approx(60, abs=0.2)
    assert all(b >= a for a, b in itertools.pairwise(profile[:peak_at]))
    after = profile[peak_at:]
    assert all(b <= a for a, b in itertools.pairwise(after))
    assert sum(1 for r in after if r == 5) / 10 >= 60
    assert rate_at(options, 10) == pytest.approx(2.5)  # the warm-up is at half the opening rate, not 50 RPS


def test_thresholds_carry_the_seeds_targets():
    for name, (_, _, _, _, budget) in TABLE.items():
        thresholds = build_options(SEED[name])["thresholds"]
        assert thresholds["mcp_tool_duration{phase:load}"] == ["p(95)<1000"]
        assert thresholds["mcp_tool_duration{phase:load,cache:hot}"] == ["p(95)<200"]
        errors = thresholds["mcp_tool_errors{phase:load}"]
        assert errors[0] == f"rate<{min(budget, 0.02):g}"
        assert errors[1]["abortOnFail"] is True and errors[1]["threshold"] == f"rate<{max(budget, 0.02):g}"
        assert thresholds["checks"] == ["rate>0.99"]
    assert "mcp_tool_duration{stage:recovery}" in build_options(SEED["spike"])["thresholds"]


def test_targets_tell_the_validator_the_intended_ratio_and_budget():
    for name, (users, rps, _, hit, _) in TABLE.items():
        targets = build_targets(SEED[name])
        assert targets["cache_hit_ratio"] == hit
        assert targets["users"] == users and targets["rps"] == rps
        assert targets["error_rate"] <= 0.02
        assert all(isinstance(v, float) for v in targets.values())
    assert build_targets(SEED["spike"])["base_rps"] == 5
