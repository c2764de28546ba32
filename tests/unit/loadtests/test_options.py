from __future__ import annotations

import pickle
from typing import Any

import msgspec
import pytest

from loadtests.errors import EXIT_OK, INVALID_CONFIG, SCRIPT_EXCEPTION, THRESHOLDS_FAILED, ConfigError, LoadTestError
from loadtests.options import (
    EXECUTORS,
    ConstantArrivalRate,
    ConstantVUs,
    Options,
    PerVUIterations,
    RampingArrivalRate,
    RampingVUs,
    RateStage,
    SharedIterations,
    Stage,
    apply_overrides,
    describe,
    load_options,
    max_duration,
    max_vus,
    total_duration,
)


def load(raw: dict[str, Any] | None) -> Options:
    return load_options(raw, source="scripts/storm.py")


def scenarios(**named: dict[str, Any]) -> Options:
    return load({"scenarios": named})


SEED = {
    "scenarios": {
        "warmup": {"executor": "ramping-arrival-rate", "startRate": 0, "preAllocatedVUs": 10,
                   "stages": [{"duration": "30s", "target": 5}, {"duration": "30s", "target": 5}]},
        "storm": {"executor": "constant-arrival-rate", "rate": 30, "duration": "3m", "preAllocatedVUs": 50,
                  "startTime": "1m", "gracefulStop": "10s"},
        "spike": {"executor": "ramping-arrival-rate", "startRate": 30, "timeUnit": "1m", "preAllocatedVUs": 20,
                  "maxVUs": 150, "startTime": "4m",
                  "stages": [{"duration": "20s", "target": 6000}, {"duration": "20s", "target": 6000},
                             {"duration": "20s", "target": 0}]},
        "users": {"executor": "ramping-vus", "startVUs": 0,
                  "stages": [{"duration": "1m", "target": 20}, {"duration": "3m", "target": 20},
                             {"duration": "1m", "target": 0}]},
    },
    "thresholds": {"http_req_duration": ["p(95)<200"], "checks": [{"threshold": "rate>0.99", "abortOnFail": True}]},
    "tags": {"suite": "seed"},
}  # fmt: skip


# -- errors.py ---------------------------------------------------------------------------------------------------


def test_exit_codes_are_k6s() -> None:
    assert (EXIT_OK, THRESHOLDS_FAILED, INVALID_CONFIG, SCRIPT_EXCEPTION) == (0, 99, 104, 107)


def test_errors_print_one_line_and_survive_pickling() -> None:
    error = ConfigError("must be more than 0", where="options.scenarios.storm.rate")
    assert error.code == INVALID_CONFIG
    assert str(error) == "options.scenarios.storm.rate: must be more than 0"
    assert str(LoadTestError("boom", code=SCRIPT_EXCEPTION)) == "boom"
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is ConfigError
    assert (copy.message, copy.code, copy.where, str(copy)) == (error.message, 104, error.where, str(error))


# -- loading -----------------------------------------------------------------------------------------------------


def test_every_executor_loads_with_k6_defaults() -> None:
    options = scenarios(
        car={"executor": "constant-arrival-rate", "rate": 50, "duration": "5m", "preAllocatedVUs": 20},
        rar={"executor": "ramping-arrival-rate", "preAllocatedVUs": 5, "maxVUs": 9,
             "stages": [{"duration": "10s", "target": 10}]},
        cv={"executor": "constant-vus", "duration": 30},
        rv={"executor": "ramping-vus", "stages": [{"duration": "1m", "target": 3}]},
        pvi={"executor": "per-vu-iterations"},
        si={"executor": "shared-iterations", "vus": 2, "iterations": 7, "maxDuration": "1h"},
    )  # fmt: skip
    assert options.script_scenarios
    car = options.scenarios["car"]
    assert car == ConstantArrivalRate(rate=50, duration=300.0, pre_allocated_vus=20)
    assert isinstance(car, ConstantArrivalRate)
    assert (car.time_unit, car.max_vus, car.start_time, car.graceful_stop, car.exec) == (1.0, 20, 0.0, 30.0, "default")
    assert (car.env, car.tags, car.executor) == ({}, {}, "constant-arrival-rate")
    rar = options.scenarios["rar"]
    assert rar == RampingArrivalRate(pre_allocated_vus=5, max_vus=9, stages=(RateStage(duration=10.0, target=10),))
    assert isinstance(rar, RampingArrivalRate) and rar.start_rate == 0
    assert options.scenarios["cv"] == ConstantVUs(vus=1, duration=30.0)
    rv = options.scenarios["rv"]
    assert rv == RampingVUs(stages=(Stage(duration=60.0, target=3),))
    assert isinstance(rv, RampingVUs) and (rv.start_vus, rv.graceful_ramp_down) == (1, 30.0)
    assert options.scenarios["pvi"] == PerVUIterations(vus=1, iterations=1, max_duration=600.0)
    assert options.scenarios["si"] == SharedIterations(vus=2, iterations=7, max_duration=3600.0)
    assert {s.executor for s in options.scenarios.values()} == set(EXECUTORS)
    assert (options.setup_timeout, options.teardown_timeout) == (60.0, 60.0)


def test_common_options_and_top_level_fields() -> None:
    options = load(
        {
            "scenarios": {
                "a-b_1": {"executor": "constant-vus", "duration": "1m", "startTime": "30s", "gracefulStop": "5s",
                          "exec": "browse", "env": {"MODE": "x"}, "tags": {"kind": "read"}},
            },
            "thresholds": {"http_req_failed": "rate<0.01", "checks": [{"threshold": "rate>0.9", "abortOnFail": True}]},
            "tags": {"team": "sre"},
            "setupTimeout": "2m",
            "teardownTimeout": 5,
        }
    )  # fmt: skip
    scenario = options.scenarios["a-b_1"]
    assert (scenario.start_time, scenario.graceful_stop, scenario.exec) == (30.0, 5.0, "browse")
    assert (scenario.env, scenario.tags) == ({"MODE": "x"}, {"kind": "read"})
    assert options.thresholds == {
        "http_req_failed": ["rate<0.01"],
        "checks": [{"threshold": "rate>0.9", "abortOnFail": True}],
    }
    assert options.tags == {"team": "sre"}
    assert (options.setup_timeout, options.teardown_timeout) == (120.0, 5.0)


def test_options_cross_process_boundaries_as_msgspec() -> None:
    options = load(SEED)
    encoded = msgspec.json.encode(options)
    assert b'"executor":"ramping-arrival-rate"' in encoded
    assert b'"preAllocatedVUs":10' in encoded
    assert msgspec.json.decode(encoded, type=Options) == options
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(options), type=Options) == options


# -- k6's shortcuts ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, PerVUIterations(vus=1, iterations=1)),
        ({}, PerVUIterations(vus=1, iterations=1)),
        ({"duration": "30s"}, ConstantVUs(vus=1, duration=30.0)),
        ({"vus": 10, "duration": "1m"}, ConstantVUs(vus=10, duration=60.0)),
        ({"iterations": 20}, SharedIterations(vus=1, iterations=20, max_duration=600.0)),
        ({"vus": 5, "iterations": 20, "duration": "2m"}, SharedIterations(vus=5, iterations=20, max_duration=120.0)),
        (
            {"stages": [{"duration": "1m", "target": 10}]},
            RampingVUs(start_vus=1, stages=(Stage(duration=60, target=10),)),
        ),
        (
            {"vus": 3, "stages": [{"duration": "1m", "target": 10}]},
            RampingVUs(start_vus=3, stages=(Stage(duration=60, target=10),)),
        ),
    ],
)
def test_shortcuts_become_one_default_scenario(raw: dict[str, Any] | None, expected: object) -> None:
    options = load(raw)
    assert options.scenarios == {"default": expected}
    assert not options.script_scenarios
    assert options.warnings == ()


def test_vus_alone_is_ignored_with_a_warning_as_in_k6() -> None:
    options = load({"vus": 10})
    assert options.scenarios == {"default": PerVUIterations()}
    assert len(options.warnings) == 1
    assert "vus=10" in options.warnings[0]
    assert "ignored" in options.warnings[0]


# -- every ConfigError -------------------------------------------------------------------------------------------


def car(**extra: Any) -> dict[str, Any]:
    return {"executor": "constant-arrival-rate", "rate": 10, "duration": "1m", "preAllocatedVUs": 5, **extra}


def stages(*pairs: tuple[Any, Any]) -> list[dict[str, Any]]:
    return [{"duration": d, "target": t} for d, t in pairs]


S = "options.scenarios.storm"

CASES: list[tuple[str, dict[str, Any] | Any, str, list[str]]] = [
    ("options not a dict", ["vus"], "options", ["must be a dict", "scripts/storm.py"]),
    ("unknown top-level", {"durtion": "1m"}, "options", ['unknown option "durtion"', 'did you mean "duration"']),
    ("unknown without hint", {"zzz": 1}, "options", ['unknown option "zzz"']),
    ("shortcut with scenarios", {"duration": "1m", "scenarios": {"storm": car()}}, "options",
     ['"duration"', "cannot be combined with `scenarios`"]),
    ("vus with scenarios", {"vus": 3, "scenarios": {"storm": car()}}, "options", ['"vus"', "`scenarios`"]),
    ("iterations and stages", {"iterations": 3, "stages": stages(("1s", 1))}, "options",
     ['"iterations" and "stages"']),
    ("duration and stages", {"duration": "1m", "stages": stages(("1s", 1))}, "options", ['"duration" and "stages"']),
    ("zero duration shortcut", {"duration": "0s"}, "options.duration", ["more than 0s"]),
    ("vus not an int", {"vus": "10", "duration": "1m"}, "options.vus", ["whole number", "'10'"]),
    ("vus zero", {"vus": 0, "duration": "1m"}, "options.vus", ["at least 1"]),
    ("iterations negative", {"iterations": -2}, "options.iterations", ["at least 1"]),
    ("shortcut stage target", {"stages": stages(("1s", -1))}, "options.stages[0].target", ["negative"]),
    ("shortcut iterations < vus", {"vus": 5, "iterations": 2}, "options.vus", ["iterations (2)", "VUs (5)"]),
    ("bad setupTimeout", {"setupTimeout": "soon"}, "options.setupTimeout", ["invalid duration 'soon'"]),
    ("tags not strings", {"tags": {"team": 1}}, "options.tags.team", ["expected a string"]),
    ("thresholds not a dict", {"thresholds": ["p(95)<1"]}, "options.thresholds", ["dict of metric names"]),
    ("threshold item", {"thresholds": {"http_reqs": [3]}}, "options.thresholds.http_reqs[0]", ['"p(95)<200"']),
    ("threshold list", {"thresholds": {"http_reqs": 3}}, "options.thresholds.http_reqs", ["list of thresholds"]),
    ("scenarios not a dict", {"scenarios": ["storm"]}, "options.scenarios", ["dict of scenario names"]),
    ("no scenarios", {"scenarios": {}}, "options.scenarios", ["no scenarios"]),
    ("scenario name", {"scenarios": {"my storm": car()}}, "options.scenarios", ["'my storm'", "[A-Za-z0-9_-]+"]),
    ("scenario not a dict", {"scenarios": {"storm": "fast"}}, S, ["must be a dict"]),
    ("missing executor", {"scenarios": {"storm": {"rate": 1}}}, S, ['missing required option "executor"',
                                                                    "constant-arrival-rate"]),
    ("unknown executor", {"scenarios": {"storm": {"executor": "constant-arival-rate"}}}, f"{S}.executor",
     ["unknown executor 'constant-arival-rate'", 'did you mean "constant-arrival-rate"', "shared-iterations"]),
    ("unknown option hint", {"scenarios": {"storm": {"executor": "ramping-arrival-rate", "startrate": 1}}}, S,
     ['unknown option "startrate"', 'did you mean "startRate"']),
    ("snake_case hint", {"scenarios": {"storm": car(pre_allocated_vus=3)}}, S,
     ['unknown option "pre_allocated_vus"', 'did you mean "preAllocatedVUs"']),
    ("option of another executor", {"scenarios": {"storm": {"executor": "constant-vus", "duration": "1m",
                                                             "rate": 3}}}, S,
     ['option "rate" does not apply to the constant-vus executor', "constant-arrival-rate"]),
    ("missing rate", {"scenarios": {"storm": {"executor": "constant-arrival-rate", "duration": "1m",
                                              "preAllocatedVUs": 1}}}, S, ['missing required option "rate"']),
    ("missing duration", {"scenarios": {"storm": {"executor": "constant-vus"}}}, S,
     ['missing required option "duration"']),
    ("missing stages", {"scenarios": {"storm": {"executor": "ramping-vus"}}}, S, ['missing required option "stages"']),
    ("missing preAllocatedVUs", {"scenarios": {"storm": {"executor": "ramping-arrival-rate",
                                                         "stages": stages(("1s", 1))}}}, S,
     ['missing required option "preAllocatedVUs"']),
    ("rate wrong type", {"scenarios": {"storm": car(rate="fast")}}, f"{S}.rate", ["expected a number", "'fast'"]),
    ("rate bool", {"scenarios": {"storm": car(rate=True)}}, f"{S}.rate", ["expected a number", "boolean"]),
    ("vus float", {"scenarios": {"storm": {"executor": "constant-vus", "duration": "1m", "vus": 2.5}}}, f"{S}.vus",
     ["expected a whole number", "2.5"]),
    ("exec wrong type", {"scenarios": {"storm": car(exec=3)}}, f"{S}.exec", ["expected a string"]),
    ("exec not a name", {"scenarios": {"storm": car(exec="my func")}}, f"{S}.exec", ["must name a function"]),
    ("env values", {"scenarios": {"storm": car(env={"A": 1})}}, f"{S}.env.A", ["expected a string"]),
    ("rate zero", {"scenarios": {"storm": car(rate=0)}}, f"{S}.rate", ["more than 0"]),
    ("rate negative", {"scenarios": {"storm": car(rate=-3)}}, f"{S}.rate", ["more than 0", "-3"]),
    ("negative VUs", {"scenarios": {"storm": car(preAllocatedVUs=-1)}}, f"{S}.preAllocatedVUs", ["negative"]),
    ("maxVUs below pre", {"scenarios": {"storm": car(maxVUs=2)}}, f"{S}.maxVUs",
     ["maxVUs (2) cannot be less than preAllocatedVUs (5)"]),
    ("no VUs at all", {"scenarios": {"storm": car(preAllocatedVUs=0)}}, f"{S}.maxVUs", ["more than 0"]),
    ("zero timeUnit", {"scenarios": {"storm": car(timeUnit="0s")}}, f"{S}.timeUnit", ["more than 0s"]),
    ("zero duration", {"scenarios": {"storm": car(duration=0)}}, f"{S}.duration", ["more than 0s"]),
    ("negative startTime", {"scenarios": {"storm": car(startTime="-1s")}}, f"{S}.startTime", ["negative"]),
    ("bad gracefulStop", {"scenarios": {"storm": car(gracefulStop="30")}}, f"{S}.gracefulStop", ['"30s"']),
    ("empty stages", {"scenarios": {"storm": {"executor": "ramping-vus", "stages": []}}}, f"{S}.stages", ["empty"]),
    ("stages not a list", {"scenarios": {"storm": {"executor": "ramping-vus", "stages": "up"}}}, f"{S}.stages",
     ["list of {duration, target}"]),
    ("stage duration", {"scenarios": {"storm": {"executor": "ramping-vus",
                                                "stages": stages(("1m", 5), ("1x", 2))}}},
     f"{S}.stages[1].duration", ["invalid duration '1x'"]),
    ("stage unknown key", {"scenarios": {"storm": {"executor": "ramping-vus",
                                                   "stages": [{"duration": "1s", "traget": 2}]}}},
     f"{S}.stages[0]", ['unknown option "traget"', 'did you mean "target"']),
    ("stage missing target", {"scenarios": {"storm": {"executor": "ramping-vus", "stages": [{"duration": "1s"}]}}},
     f"{S}.stages[0]", ['missing required option "target"']),
    ("stage target VUs", {"scenarios": {"storm": {"executor": "ramping-vus", "stages": stages(("1s", 1.5))}}},
     f"{S}.stages[0].target", ["whole number of VUs", "1.5"]),
    ("stage target negative", {"scenarios": {"storm": {"executor": "ramping-arrival-rate", "preAllocatedVUs": 1,
                                                       "stages": stages(("1s", -5))}}},
     f"{S}.stages[0].target", ["negative"]),
    ("stages last 0s", {"scenarios": {"storm": {"executor": "ramping-vus", "stages": stages((0, 3))}}},
     f"{S}.stages", ["0s in total"]),
    ("negative startRate", {"scenarios": {"storm": {"executor": "ramping-arrival-rate", "preAllocatedVUs": 1,
                                                    "startRate": -1, "stages": stages(("1s", 1))}}},
     f"{S}.startRate", ["negative"]),
    ("zero iterations", {"scenarios": {"storm": {"executor": "per-vu-iterations", "iterations": 0}}},
     f"{S}.iterations", ["more than 0"]),
    ("zero maxDuration", {"scenarios": {"storm": {"executor": "shared-iterations", "maxDuration": "0s"}}},
     f"{S}.maxDuration", ["more than 0s"]),
    ("shared iterations below vus", {"scenarios": {"storm": {"executor": "shared-iterations", "vus": 4,
                                                             "iterations": 3}}},
     f"{S}.vus", ["iterations (3)", "VUs (4)"]),
    ("constant-vus zero", {"scenarios": {"storm": {"executor": "constant-vus", "vus": 0, "duration": "1s"}}},
     f"{S}.vus", ["more than 0"]),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "where", "fragments"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_config_errors_name_the_problem_and_the_path(raw: Any, where: str, fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        load(raw)
    error = caught.value
    assert error.code == INVALID_CONFIG
    assert error.where == where
    for fragment in fragments:
        assert fragment in error.message
    assert str(error) == f"{where}: {error.message}"
    assert "Traceback" not in str(error) and "$." not in str(error)


# -- CLI overrides: no scenarios in the script (k6's precedence) -------------------------------------------------


def test_flags_replace_the_implicit_default() -> None:
    options = apply_overrides(load(None), vus=10, duration=30.0)
    assert options.scenarios == {"default": ConstantVUs(vus=10, duration=30.0)}
    assert (options.vus, options.duration) == (10, 30.0)


def test_vus_flag_keeps_the_scripts_duration() -> None:
    options = apply_overrides(load({"vus": 2, "duration": "1m"}), vus=8)
    assert options.scenarios == {"default": ConstantVUs(vus=8, duration=60.0)}


def test_duration_or_iterations_flags_clear_the_scripts_other_shortcuts() -> None:
    staged = load({"vus": 2, "stages": [{"duration": "1m", "target": 10}]})
    assert apply_overrides(staged, duration=20.0).scenarios == {"default": ConstantVUs(vus=2, duration=20.0)}
    timed = load({"vus": 2, "duration": "1m"})
    assert apply_overrides(timed, iterations=6).scenarios == {
        "default": SharedIterations(vus=2, iterations=6, max_duration=600.0)
    }
    both = apply_overrides(load(None), iterations=6, duration=90.0, vus=3)
    assert both.scenarios == {"default": SharedIterations(vus=3, iterations=6, max_duration=90.0)}


def test_rate_flag_makes_a_constant_arrival_rate_default() -> None:
    options = apply_overrides(load(None), rate=12.5, duration=60.0)
    assert options.scenarios == {
        "default": ConstantArrivalRate(rate=12.5, duration=60.0, pre_allocated_vus=13, max_vus=13)
    }
    with_vus = apply_overrides(load({"duration": "2m"}), rate=5.0, vus=40)
    assert with_vus.scenarios == {
        "default": ConstantArrivalRate(rate=5.0, duration=120.0, pre_allocated_vus=40, max_vus=40)
    }


@pytest.mark.parametrize(
    ("raw", "flags", "where", "fragment"),
    [
        (None, {"rate": 5.0}, "--rate", "needs a duration"),
        (None, {"rate": 5.0, "iterations": 3}, "--rate", "iterations"),
        (None, {"vus": 0}, "--vus", "at least 1"),
        (None, {"duration": 0.0}, "--duration", "more than 0s"),
        (None, {"duration": float("nan")}, "--duration", "more than 0s"),
        (None, {"iterations": 0}, "--iterations", "at least 1"),
        (None, {"rate": -1.0, "duration": 5.0}, "--rate", "more than 0"),
        (None, {"vus": 5, "iterations": 2}, "options.vus", "after the command-line overrides"),
        (SEED, {"iterations": 10}, "--iterations", "defines scenarios"),
        ({"scenarios": {"a": {"executor": "constant-vus", "duration": "1m"}}}, {"rate": 3.0}, "--rate",
         "needs an arrival-rate scenario"),
        ({"scenarios": {"a": {"executor": "shared-iterations", "iterations": 5}}}, {"vus": 9},
         "options.scenarios.a.vus", "after the command-line overrides"),
    ],
)  # fmt: skip
def test_override_errors(raw: dict[str, Any] | None, flags: dict[str, Any], where: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        apply_overrides(load(raw), **flags)
    assert caught.value.where == where
    assert fragment in caught.value.message


def test_tags_are_merged() -> None:
    options = apply_overrides(load(SEED), tags={"run": "42", "suite": "nightly"})
    assert options.tags == {"suite": "nightly", "run": "42"}
    assert apply_overrides(load(None), tags={"run": "1"}).tags == {"run": "1"}


# -- CLI overrides: scripts with scenarios -----------------------------------------------------------------------


def test_duration_flag_rescales_the_whole_timeline() -> None:
    seed = load(SEED)
    assert total_duration(seed) == 300.0
    options = apply_overrides(seed, duration=30.0)
    assert total_duration(options) == pytest.approx(30.0)
    warmup, storm, spike, users = (options.scenarios[n] for n in ("warmup", "storm", "spike", "users"))
    assert isinstance(warmup, RampingArrivalRate)
    assert [s.duration for s in warmup.stages] == pytest.approx([3.0, 3.0])
    assert [s.target for s in warmup.stages] == [5, 5]
    assert isinstance(storm, ConstantArrivalRate)
    assert (storm.start_time, storm.duration, storm.rate) == pytest.approx((6.0, 18.0, 30.0))
    assert storm.graceful_stop == 10.0
    assert isinstance(spike, RampingArrivalRate)
    assert spike.start_time == pytest.approx(24.0)
    assert [s.duration for s in spike.stages] == pytest.approx([2.0, 2.0, 2.0])
    assert spike.time_unit == 60.0
    assert isinstance(users, RampingVUs)
    assert [s.duration for s in users.stages] == pytest.approx([6.0, 18.0, 6.0])
    assert users.graceful_ramp_down == 30.0 and users.graceful_stop == 30.0
    assert options.thresholds == seed.thresholds
    longer = apply_overrides(seed, duration=600.0)
    assert total_duration(longer) == pytest.approx(600.0)
    assert longer.scenarios["storm"].start_time == pytest.approx(120.0)


def test_duration_flag_scales_iteration_executors_max_duration() -> None:
    options = apply_overrides(
        scenarios(a={"executor": "per-vu-iterations", "maxDuration": "1m"},
                  b={"executor": "constant-vus", "duration": "2m", "startTime": "1m"}),
        duration=30.0,
    )  # fmt: skip
    a, b = options.scenarios["a"], options.scenarios["b"]
    assert isinstance(a, PerVUIterations) and a.max_duration == pytest.approx(10.0)
    assert isinstance(b, ConstantVUs) and (b.start_time, b.duration) == pytest.approx((10.0, 20.0))


def test_rate_flag_scales_every_arrival_rate_so_the_highest_becomes_it() -> None:
    seed = load(SEED)  # highest: spike's 6000/min = 100/s; storm is 30/s, warmup peaks at 5/s
    options = apply_overrides(seed, rate=50.0)
    storm, spike, warmup = options.scenarios["storm"], options.scenarios["spike"], options.scenarios["warmup"]
    assert isinstance(storm, ConstantArrivalRate) and storm.rate == pytest.approx(15.0)
    assert isinstance(spike, RampingArrivalRate)
    assert spike.start_rate == pytest.approx(15.0)
    assert [s.target for s in spike.stages] == pytest.approx([3000.0, 3000.0, 0.0])
    assert isinstance(warmup, RampingArrivalRate)
    assert [s.target for s in warmup.stages] == pytest.approx([2.5, 2.5])
    assert options.scenarios["users"] == seed.scenarios["users"]
    assert "Up to 50.00 iterations/s" in describe(spike)


def test_vus_flag_sets_pools_and_closed_vus() -> None:
    options = apply_overrides(
        load(
            {"scenarios": {**SEED["scenarios"],  # type: ignore[dict-item]
                           "loop": {"executor": "constant-vus", "vus": 3, "duration": "1m"},
                           "each": {"executor": "per-vu-iterations", "vus": 2}}}
        ),
        vus=40,
    )  # fmt: skip
    storm, spike, users = options.scenarios["storm"], options.scenarios["spike"], options.scenarios["users"]
    assert isinstance(storm, ConstantArrivalRate) and (storm.pre_allocated_vus, storm.max_vus) == (40, 40)
    assert isinstance(spike, RampingArrivalRate) and (spike.pre_allocated_vus, spike.max_vus) == (40, 40)
    assert isinstance(users, RampingVUs)
    assert users.start_vus == 0
    assert [s.target for s in users.stages] == [40, 40, 0]
    assert options.scenarios["loop"] == ConstantVUs(vus=40, duration=60.0)
    assert options.scenarios["each"] == PerVUIterations(vus=40)


def test_vus_flag_scales_ramping_vus_stages_to_the_peak() -> None:
    options = apply_overrides(
        scenarios(r={"executor": "ramping-vus", "startVUs": 2,
                     "stages": [{"duration": "1m", "target": 10}, {"duration": "1m", "target": 5}]}),
        vus=4,
    )  # fmt: skip
    ramp = options.scenarios["r"]
    assert isinstance(ramp, RampingVUs)
    assert ramp.start_vus == 1  # 0.8 rounds up
    assert [s.target for s in ramp.stages] == [4, 2]


# -- what the header prints --------------------------------------------------------------------------------------


def test_total_and_max_duration() -> None:
    seed = load(SEED)
    assert total_duration(seed) == 300.0  # users: 5m; spike: 4m + 1m
    assert max_duration(seed) == 330.0  # users' or spike's 30s gracefulStop
    assert total_duration(load(None)) == 600.0  # per-vu-iterations' maxDuration
    assert max_duration(load({"duration": "10s"})) == 40.0


def test_max_vus_adds_only_overlapping_scenarios() -> None:
    sequential = scenarios(
        a={"executor": "constant-vus", "vus": 10, "duration": "1m", "gracefulStop": "0s"},
        b={"executor": "constant-vus", "vus": 7, "duration": "1m", "startTime": "1m"},
    )
    assert max_vus(sequential) == 10
    overlapping = scenarios(
        a={"executor": "constant-vus", "vus": 10, "duration": "1m"},  # still stopping until 1m30s
        b={"executor": "constant-vus", "vus": 7, "duration": "1m", "startTime": "1m"},
    )
    assert max_vus(overlapping) == 17
    assert max_vus(load(SEED)) == 50 + 150 + 20  # storm, spike and users overlap at 4m; warmup ended
    assert max_vus(load(None)) == 1


@pytest.mark.parametrize(
    ("scenario", "text"),
    [
        (car(rate=50, duration="5m", preAllocatedVUs=50),
         "50.00 iterations/s for 5m0s (maxVUs: 50, gracefulStop: 30s)"),
        (car(rate=30, timeUnit="1m", maxVUs=20, exec="browse", startTime="1m30s"),
         "0.50 iterations/s for 1m0s (maxVUs: 5-20, exec: browse, startTime: 1m30s, gracefulStop: 30s)"),
        ({"executor": "ramping-arrival-rate", "preAllocatedVUs": 10, "maxVUs": 50,
          "stages": [{"duration": "1m", "target": 30}, {"duration": "30s", "target": 0}]},
         "Up to 30.00 iterations/s for 1m30s over 2 stages (maxVUs: 10-50, gracefulStop: 30s)"),
        ({"executor": "constant-vus", "vus": 10, "duration": "30s"}, "10 looping VUs for 30s (gracefulStop: 30s)"),
        ({"executor": "ramping-vus", "startVUs": 0, "stages": [{"duration": "20s", "target": 8}],
          "gracefulRampDown": "5s", "gracefulStop": "0s"},
         "Up to 8 looping VUs for 20s over 1 stages (gracefulRampDown: 5s, gracefulStop: 0s)"),
        ({"executor": "per-vu-iterations", "vus": 2, "iterations": 3},
         "3 iterations for each of 2 VUs (maxDuration: 10m0s, gracefulStop: 30s)"),
        ({"executor": "shared-iterations", "vus": 2, "iterations": 30, "maxDuration": "1h"},
         "30 iterations shared among 2 VUs (maxDuration: 1h0m0s, gracefulStop: 30s)"),
    ],
)  # fmt: skip
def test_describe_like_k6s_header(scenario: dict[str, Any], text: str) -> None:
    assert describe(scenarios(s=scenario).scenarios["s"]) == text
