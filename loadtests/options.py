"""A script's ``options`` (k6's shape, as a dict) validated into typed scenarios, and the CLI's overrides.

The model is k6's: six executors under ``scenarios``, or the top-level shortcuts ``vus``/``duration``/
``iterations``/``stages`` that become one scenario named ``default`` (``execution_config_shortcuts.go``). Every
problem is a :class:`ConfigError` whose ``where`` is the option path (``options.scenarios.storm.stages[1].duration``),
so the CLI prints one line and exits 104. Durations are float seconds once validated.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, TypeAlias

import msgspec

from loadtests.durations import display_duration, parse_duration
from loadtests.errors import ConfigError

__all__ = (
    "EXECUTORS",
    "ConstantArrivalRate",
    "ConstantVUs",
    "Options",
    "PerVUIterations",
    "RampingArrivalRate",
    "RampingVUs",
    "RateStage",
    "Scenario",
    "SharedIterations",
    "Stage",
    "apply_overrides",
    "describe",
    "load_options",
    "max_duration",
    "max_vus",
    "scenario_length",
    "scenario_max_vus",
    "total_duration",
)

_UNSET_MAX_VUS = -1
"""``maxVUs`` left out: it becomes ``preAllocatedVUs``, as in k6."""


class Stage(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A ramping-vus stage: go linearly to ``target`` VUs over ``duration`` seconds (0 s is a jump)."""

    duration: float
    target: int


class RateStage(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A ramping-arrival-rate stage: ``target`` iterations per ``timeUnit``, reached linearly over ``duration``."""

    duration: float
    target: float


class _Scenario(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="executor", rename="camel"
):
    """What every executor takes; ``executor`` is the msgspec tag and also a class attribute for the engine."""

    executor: ClassVar[str]
    start_time: float = 0.0
    graceful_stop: float = 30.0
    exec: str = "default"
    env: dict[str, str] = {}
    tags: dict[str, str] = {}


class ConstantArrivalRate(_Scenario, frozen=True, kw_only=True, tag="constant-arrival-rate"):
    """Open model: ``rate`` iteration starts per ``time_unit``, evenly spaced, for ``duration``."""

    executor: ClassVar[str] = "constant-arrival-rate"
    rate: float
    time_unit: float = 1.0
    duration: float
    pre_allocated_vus: int = msgspec.field(name="preAllocatedVUs")
    max_vus: int = msgspec.field(default=_UNSET_MAX_VUS, name="maxVUs")

    def __post_init__(self) -> None:
        if self.max_vus == _UNSET_MAX_VUS:
            msgspec.structs.force_setattr(self, "max_vus", self.pre_allocated_vus)


class RampingArrivalRate(_Scenario, frozen=True, kw_only=True, tag="ramping-arrival-rate"):
    """Open model: the start rate ramps linearly through ``stages`` (rates per ``time_unit``)."""

    executor: ClassVar[str] = "ramping-arrival-rate"
    start_rate: float = 0.0
    time_unit: float = 1.0
    stages: tuple[RateStage, ...]
    pre_allocated_vus: int = msgspec.field(name="preAllocatedVUs")
    max_vus: int = msgspec.field(default=_UNSET_MAX_VUS, name="maxVUs")

    def __post_init__(self) -> None:
        if self.max_vus == _UNSET_MAX_VUS:
            msgspec.structs.force_setattr(self, "max_vus", self.pre_allocated_vus)


class ConstantVUs(_Scenario, frozen=True, kw_only=True, tag="constant-vus"):
    """Closed model: ``vus`` VUs loop for ``duration``."""

    executor: ClassVar[str] = "constant-vus"
    vus: int = 1
    duration: float


class RampingVUs(_Scenario, frozen=True, kw_only=True, tag="ramping-vus"):
    """Closed model: the VU count ramps through ``stages``; removed VUs may finish for ``graceful_ramp_down``."""

    executor: ClassVar[str] = "ramping-vus"
    start_vus: int = msgspec.field(default=1, name="startVUs")
    stages: tuple[Stage, ...]
    graceful_ramp_down: float = 30.0


class PerVUIterations(_Scenario, frozen=True, kw_only=True, tag="per-vu-iterations"):
    """Closed model: each of ``vus`` VUs runs ``iterations``, within ``max_duration``."""

    executor: ClassVar[str] = "per-vu-iterations"
    vus: int = 1
    iterations: int = 1
    max_duration: float = 600.0


class SharedIterations(_Scenario, frozen=True, kw_only=True, tag="shared-iterations"):
    """Closed model: ``iterations`` in total, shared by ``vus`` VUs, within ``max_duration``."""

    executor: ClassVar[str] = "shared-iterations"
    vus: int = 1
    iterations: int = 1
    max_duration: float = 600.0


Scenario: TypeAlias = (
    ConstantArrivalRate | RampingArrivalRate | ConstantVUs | RampingVUs | PerVUIterations | SharedIterations
)

_CLASSES: dict[str, type[Scenario]] = {
    cls.executor: cls
    for cls in (ConstantArrivalRate, RampingArrivalRate, ConstantVUs, RampingVUs, PerVUIterations, SharedIterations)
}
EXECUTORS: tuple[str, ...] = tuple(_CLASSES)
"""The executor names k6 scripts use, in k6's documentation order."""

_REQUIRED = {
    "constant-arrival-rate": ("rate", "duration", "preAllocatedVUs"),
    "ramping-arrival-rate": ("stages", "preAllocatedVUs"),
    "constant-vus": ("duration",),
    "ramping-vus": ("stages",),
    "per-vu-iterations": (),
    "shared-iterations": (),
}
_DURATIONS = frozenset({"startTime", "gracefulStop", "duration", "timeUnit", "maxDuration", "gracefulRampDown"})
_NAME = re.compile(r"[A-Za-z0-9_-]+")
_DEFAULT = "default"


class Options(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Validated options; ``scenarios`` is always resolved (shortcuts and k6's default turned into scenarios).

    ``vus``/``duration``/``iterations``/``stages`` keep the script's shortcuts as given so the CLI's flags can
    replace them the k6 way; ``script_scenarios`` says the script defined ``scenarios`` itself. ``warnings`` are
    k6's non-fatal notices (an ignored ``vus``), for the CLI to print.
    """

    scenarios: dict[str, Scenario]
    thresholds: dict[str, list[str | dict[str, Any]]] = {}
    tags: dict[str, str] = {}
    setup_timeout: float = 60.0
    teardown_timeout: float = 60.0
    vus: int | None = None
    duration: float | None = None
    iterations: int | None = None
    stages: tuple[Stage, ...] | None = None
    script_scenarios: bool = False
    warnings: tuple[str, ...] = ()


_SHORTCUTS = ("vus", "duration", "iterations", "stages")
_TOP_LEVEL = ("scenarios", "thresholds", "tags", "setupTimeout", "teardownTimeout", *_SHORTCUTS)


# -- loading -----------------------------------------------------------------------------------------------------


def load_options(raw: Mapping[str, Any] | None, *, source: str) -> Options:
    """Validate a script's ``options`` dict (``source`` names the script in messages that have no option path)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"`options` in {source} must be a dict, got {type(raw).__name__}", where="options")
    _check_keys(raw, _TOP_LEVEL, "options")
    thresholds = _thresholds(raw.get("thresholds", {}), "options.thresholds")
    tags = _str_map(raw.get("tags", {}), "options.tags")
    setup = _duration(raw, "setupTimeout", "options", 60.0)
    teardown = _duration(raw, "teardownTimeout", "options", 60.0)
    vus = _count(raw, "vus", "options", minimum=1)
    iterations = _count(raw, "iterations", "options", minimum=1)
    duration = _duration(raw, "duration", "options", None)
    stages = _vu_stages(raw["stages"], "options.stages") if raw.get("stages") is not None else None
    script_scenarios = raw.get("scenarios") is not None
    if script_scenarios:
        mixed = [name for name in _SHORTCUTS if raw.get(name) is not None]
        if mixed:
            listed = ", ".join(f'"{name}"' for name in mixed)
            raise ConfigError(
                f"the shortcut option(s) {listed} cannot be combined with `scenarios` (k6 rejects this too): "
                "set them inside a scenario instead",
                where="options",
            )
        scenarios = _scenarios(raw["scenarios"])
        notes: tuple[str, ...] = ()
    else:
        scenarios, notes = _from_shortcuts(vus, duration, iterations, stages, where="options")
    return Options(
        scenarios=scenarios,
        thresholds=thresholds,
        tags=tags,
        setup_timeout=_or(setup, 60.0),
        teardown_timeout=_or(teardown, 60.0),
        vus=vus,
        duration=duration,
        iterations=iterations,
        stages=stages,
        script_scenarios=script_scenarios,
        warnings=notes,
    )


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _scenarios(raw: object) -> dict[str, Scenario]:
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"expected a dict of scenario names to scenarios, got {_show(raw)}", where="options.scenarios"
        )
    if not raw:
        raise ConfigError("no scenarios: define at least one, or leave `scenarios` out", where="options.scenarios")
    scenarios: dict[str, Scenario] = {}
    for name, body in raw.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ConfigError(
                f"invalid scenario name {name!r}: use letters, digits, '_' and '-' only ([A-Za-z0-9_-]+)",
                where="options.scenarios",
            )
        scenarios[name] = _scenario(body, f"options.scenarios.{name}")
    return scenarios


def _scenario(raw: object, where: str) -> Scenario:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"a scenario must be a dict, got {_show(raw)}", where=where)
    executor = raw.get("executor")
    valid = ", ".join(EXECUTORS)
    if executor is None:
        raise ConfigError(f'missing required option "executor" (one of: {valid})', where=where)
    if not isinstance(executor, str) or executor not in _CLASSES:
        close = _closest(str(executor), EXECUTORS)
        hint = f' (did you mean "{close}"?)' if close else ""
        raise ConfigError(f"unknown executor {executor!r}{hint}; valid executors: {valid}", where=f"{where}.executor")
    cls = _CLASSES[executor]
    fields = {f.encode_name: f for f in msgspec.structs.fields(cls)}
    _check_keys(raw, ("executor", *fields), where, executor=executor)
    for name in _REQUIRED[executor]:
        if raw.get(name) is None:
            raise ConfigError(f'missing required option "{name}" for the {executor} executor', where=where)
    body: dict[str, Any] = {}
    for key, value in raw.items():
        path = f"{where}.{key}"
        if key in _DURATIONS:
            body[key] = parse_duration(value, where=path)
        elif key == "stages":
            body[key] = _stage_dicts(value, path, rate=executor == "ramping-arrival-rate")
        elif key in ("env", "tags"):
            body[key] = _str_map(value, path)
        else:
            body[key] = value
    for key in ("vus", "iterations", "preAllocatedVUs", "maxVUs", "startVUs"):
        if isinstance(body.get(key), int) and not isinstance(body[key], bool) and body[key] < 0:
            raise ConfigError(f"must not be negative, got {body[key]}", where=f"{where}.{key}")
    scenario = _convert(body, cls, where)
    _validate(scenario, where)
    return scenario


def _convert(body: Mapping[str, Any], cls: type[Scenario], where: str) -> Scenario:
    """Type-check with msgspec, turning its ``$.path`` errors into option paths."""
    try:
        return msgspec.convert(body, type=cls)
    except msgspec.ValidationError as error:
        raise _translate(error, body, where) from None


_TYPE_WORDS = {
    "float": "a number",
    "int": "a whole number",
    "str": "a string",
    "array": "a list",
    "object": "a dict",
    "bool": "true or false",
}


def _translate(error: msgspec.ValidationError, body: Mapping[str, Any], where: str) -> ConfigError:
    text = str(error)
    message, _, at = text.partition(" - at `")
    at = at.rstrip("`")
    tokens = re.findall(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]", at.removeprefix("$"))
    path = where
    value: object = body
    for name, index in tokens:
        path += f".{name}" if name else f"[{index}]"
        if name and isinstance(value, Mapping):
            value = value.get(name)
        elif index.isdigit() and isinstance(value, list | tuple) and int(index) < len(value):
            value = value[int(index)]
        else:
            value = None
    missing = re.fullmatch(r"Object missing required field `(.+)`", message)
    if missing:
        return ConfigError(f'missing required option "{missing.group(1)}"', where=path)
    expected = re.fullmatch(r"Expected `([a-z]+)`(.*), got `[a-z]+`", message)
    if expected:
        word = _TYPE_WORDS.get(expected.group(1), expected.group(1))
        return ConfigError(f"expected {word}{expected.group(2)}, got {_show(value)}", where=path)
    return ConfigError(message[:1].lower() + message[1:], where=path)


def _show(value: object) -> str:
    kind = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list", tuple: "a list"}
    if isinstance(value, Mapping):
        return "a dict"
    if value is None:
        return "null"
    return f"{kind.get(type(value), type(value).__name__)} {value!r}"


def _check_keys(raw: Mapping[Any, Any], allowed: tuple[str, ...], where: str, *, executor: str | None = None) -> None:
    for key in raw:
        if not isinstance(key, str):
            raise ConfigError(f"option names must be strings, got {key!r}", where=where)
        if key in allowed:
            continue
        owners = [name for name, cls in _CLASSES.items() if key in {f.encode_name for f in msgspec.structs.fields(cls)}]
        if executor is not None and owners:
            raise ConfigError(
                f'option "{key}" does not apply to the {executor} executor (it is an option of {", ".join(owners)})',
                where=where,
            )
        close = _closest(key, allowed)
        raise ConfigError(f'unknown option "{key}"' + (f'; did you mean "{close}"?' if close else ""), where=where)


def _closest(word: str, choices: tuple[str, ...]) -> str | None:
    """The near miss a typo meant, comparing case- and separator-insensitively (``pre_allocated_vus``)."""

    def norm(text: str) -> str:
        return text.lower().replace("_", "").replace("-", "")

    folded = {norm(choice): choice for choice in choices}
    if norm(word) in folded:
        return folded[norm(word)]
    close = difflib.get_close_matches(norm(word), list(folded), n=1, cutoff=0.6)
    return folded[close[0]] if close else None


def _duration(raw: Mapping[str, Any], key: str, where: str, default: float | None) -> float | None:
    value = raw.get(key)
    return default if value is None else parse_duration(value, where=f"{where}.{key}")


def _count(raw: Mapping[str, Any], key: str, where: str, *, minimum: int) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"expected a whole number, got {_show(value)}", where=f"{where}.{key}")
    if value < minimum:
        raise ConfigError(f"must be at least {minimum}, got {value}", where=f"{where}.{key}")
    return value


def _str_map(raw: object, where: str) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"expected a dict of strings, got {_show(raw)}", where=where)
    out: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            raise ConfigError(f"keys must be strings, got {key!r}", where=where)
        if not isinstance(value, str):
            raise ConfigError(f"expected a string, got {_show(value)}", where=f"{where}.{key}")
        out[key] = value
    return out


def _thresholds(raw: object, where: str) -> dict[str, list[str | dict[str, Any]]]:
    """Shape only (metric name to a list of expressions or ``{threshold: ...}`` dicts); thresholds.py parses them."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"expected a dict of metric names to lists of thresholds, got {_show(raw)}", where=where)
    out: dict[str, list[str | dict[str, Any]]] = {}
    for metric, rules in raw.items():
        if not isinstance(metric, str) or not metric:
            raise ConfigError(f"metric names must be non-empty strings, got {metric!r}", where=where)
        items = [rules] if isinstance(rules, str | Mapping) else rules
        if not isinstance(items, list | tuple):
            raise ConfigError(f"expected a list of thresholds, got {_show(rules)}", where=f"{where}.{metric}")
        kept: list[str | dict[str, Any]] = []
        for index, rule in enumerate(items):
            if isinstance(rule, str):
                kept.append(rule)
            elif isinstance(rule, Mapping):
                kept.append(dict(rule))
            else:
                raise ConfigError(
                    f'expected a string like "p(95)<200" or a dict with "threshold", got {_show(rule)}',
                    where=f"{where}.{metric}[{index}]",
                )
        out[metric] = kept
    return out


def _stage_dicts(raw: object, where: str, *, rate: bool) -> list[dict[str, Any]]:
    """Stages with their durations parsed; targets are type-checked by msgspec."""
    if not isinstance(raw, list | tuple):
        raise ConfigError(f"expected a list of {{duration, target}} stages, got {_show(raw)}", where=where)
    if not raw:
        raise ConfigError("stages is empty: give at least one {duration, target} stage", where=where)
    stages: list[dict[str, Any]] = []
    for index, stage in enumerate(raw):
        path = f"{where}[{index}]"
        if not isinstance(stage, Mapping):
            raise ConfigError(f"a stage must be a dict with duration and target, got {_show(stage)}", where=path)
        _check_keys(stage, ("duration", "target"), path)
        for key in ("duration", "target"):
            if stage.get(key) is None:
                raise ConfigError(f'missing required option "{key}"', where=path)
        target = stage["target"]
        kind = int if not rate else int | float
        if isinstance(target, bool) or not isinstance(target, kind):
            word = "a number of iterations per timeUnit" if rate else "a whole number of VUs"
            raise ConfigError(f"expected {word}, got {_show(target)}", where=f"{path}.target")
        if target < 0 or not math.isfinite(target):
            raise ConfigError(f"a stage target cannot be negative, got {target}", where=f"{path}.target")
        stages.append({"duration": parse_duration(stage["duration"], where=f"{path}.duration"), "target": target})
    return stages


def _vu_stages(raw: object, where: str) -> tuple[Stage, ...]:
    return tuple(Stage(duration=s["duration"], target=s["target"]) for s in _stage_dicts(raw, where, rate=False))


# -- semantic checks (shared by load_options and apply_overrides) ------------------------------------------------


def _validate(scenario: Scenario, where: str) -> None:
    def need(ok: bool, field: str, message: str) -> None:
        if not ok:
            raise ConfigError(message, where=f"{where}.{field}")

    need(scenario.exec.isidentifier(), "exec", f"exec must name a function of the script, got {scenario.exec!r}")
    need(scenario.start_time >= 0, "startTime", f"must not be negative, got {scenario.start_time}")
    need(scenario.graceful_stop >= 0, "gracefulStop", f"must not be negative, got {scenario.graceful_stop}")
    if isinstance(scenario, ConstantArrivalRate | RampingArrivalRate):
        need(scenario.time_unit > 0, "timeUnit", "must be more than 0s")
        need(scenario.pre_allocated_vus >= 0, "preAllocatedVUs", "must not be negative")
        need(
            scenario.max_vus >= scenario.pre_allocated_vus,
            "maxVUs",
            f"maxVUs ({scenario.max_vus}) cannot be less than preAllocatedVUs ({scenario.pre_allocated_vus})",
        )
        need(scenario.max_vus > 0, "maxVUs", "preAllocatedVUs or maxVUs must be more than 0 to run any iteration")
    if isinstance(scenario, ConstantArrivalRate):
        need(math.isfinite(scenario.rate) and scenario.rate > 0, "rate", f"must be more than 0, got {scenario.rate}")
        need(scenario.duration > 0, "duration", "must be more than 0s")
    elif isinstance(scenario, RampingArrivalRate):
        need(scenario.start_rate >= 0, "startRate", f"must not be negative, got {scenario.start_rate}")
        _validate_stages(scenario.stages, where)
    elif isinstance(scenario, ConstantVUs):
        need(scenario.vus > 0, "vus", f"must be more than 0, got {scenario.vus}")
        need(scenario.duration > 0, "duration", "must be more than 0s")
    elif isinstance(scenario, RampingVUs):
        need(scenario.start_vus >= 0, "startVUs", f"must not be negative, got {scenario.start_vus}")
        _validate_stages(scenario.stages, where)
    else:
        need(scenario.vus > 0, "vus", f"must be more than 0, got {scenario.vus}")
        need(scenario.iterations > 0, "iterations", f"must be more than 0, got {scenario.iterations}")
        need(scenario.max_duration > 0, "maxDuration", "must be more than 0s")
        if isinstance(scenario, SharedIterations):
            need(
                scenario.iterations >= scenario.vus,
                "vus",
                f"the number of iterations ({scenario.iterations}) cannot be less than the number of VUs "
                f"({scenario.vus}): the extra VUs would have nothing to do",
            )


def _validate_stages(stages: Sequence[Stage | RateStage], where: str) -> None:
    if not stages:
        raise ConfigError("stages is empty: give at least one {duration, target} stage", where=f"{where}.stages")
    for index, stage in enumerate(stages):
        if stage.duration < 0:
            raise ConfigError("must not be negative", where=f"{where}.stages[{index}].duration")
        if stage.target < 0:
            raise ConfigError("must not be negative", where=f"{where}.stages[{index}].target")
    if sum(stage.duration for stage in stages) <= 0:
        raise ConfigError("the stages last 0s in total: give at least one a duration", where=f"{where}.stages")


# -- k6's shortcuts ----------------------------------------------------------------------------------------------


def _from_shortcuts(
    vus: int | None,
    duration: float | None,
    iterations: int | None,
    stages: tuple[Stage, ...] | None,
    *,
    where: str,
) -> tuple[dict[str, Scenario], tuple[str, ...]]:
    """k6's ``deriveScenariosFromShortcuts``: iterations, else duration, else stages, else one iteration."""
    scenario: Scenario
    if duration is not None and duration <= 0:
        raise ConfigError("must be more than 0s (an endless test is not supported)", where=f"{where}.duration")
    if iterations is not None:
        if stages:
            raise ConfigError('"iterations" and "stages" cannot be used together (k6 rejects this too)', where=where)
        scenario = SharedIterations(vus=vus or 1, iterations=iterations, max_duration=_or(duration, 600.0))
    elif duration is not None:
        if stages:
            raise ConfigError('"duration" and "stages" cannot be used together (k6 rejects this too)', where=where)
        scenario = ConstantVUs(vus=vus or 1, duration=duration)
    elif stages:
        scenario = RampingVUs(start_vus=1 if vus is None else vus, stages=stages)
    else:
        notes: tuple[str, ...] = ()
        if vus is not None and vus != 1:
            notes = (
                f"the `vus={vus}` option is ignored: it only works together with `iterations`, `duration` or "
                "`stages` (k6 does the same); running 1 iteration with 1 VU",
            )
        return {_DEFAULT: PerVUIterations()}, notes
    _validate(scenario, where)
    return {_DEFAULT: scenario}, ()


# -- CLI overrides -----------------------------------------------------------------------------------------------


def apply_overrides(
    options: Options,
    *,
    vus: int | None = None,
    duration: float | None = None,
    iterations: int | None = None,
    rate: float | None = None,
    tags: Mapping[str, str] | None = None,
) -> Options:
    """Apply ``--vus/--duration/--iterations/--rate/--tag``.

    Without script scenarios this is k6's precedence (a flag replaces the script's shortcut; ``--duration`` or
    ``--iterations`` clear the script's other shortcuts). With scenarios, the flags reshape them instead: the
    timeline is rescaled to ``duration`` (startTime, duration, stages and maxDuration; gracefulStop kept), arrival
    rates are scaled so the highest becomes ``rate`` per second, and ``vus`` sets every scenario's VUs.
    """
    _check_flags(vus, duration, iterations, rate)
    merged_tags = {**options.tags, **_str_map(dict(tags or {}), "--tag")}
    if not options.script_scenarios:
        return _override_shortcuts(options, vus, duration, iterations, rate, merged_tags)
    if iterations is not None:
        raise ConfigError(
            "--iterations cannot be used with a script that defines scenarios: each scenario sets its own "
            "iterations or schedule (use --duration, --rate or --vus to reshape them)",
            where="--iterations",
        )
    scenarios = dict(options.scenarios)
    if duration is not None:
        scenarios = _rescale_time(scenarios, duration)
    if rate is not None:
        scenarios = _rescale_rate(scenarios, rate)
    if vus is not None:
        scenarios = {name: _set_vus(scenario, vus) for name, scenario in scenarios.items()}
    for name, scenario in scenarios.items():
        try:
            _validate(scenario, f"options.scenarios.{name}")
        except ConfigError as error:
            raise ConfigError(f"{error.message} (after the command-line overrides)", where=error.where) from None
    return msgspec.structs.replace(options, scenarios=scenarios, tags=merged_tags)


def _check_flags(vus: int | None, duration: float | None, iterations: int | None, rate: float | None) -> None:
    if vus is not None and vus < 1:
        raise ConfigError(f"must be at least 1, got {vus}", where="--vus")
    if duration is not None and not (math.isfinite(duration) and duration > 0):
        raise ConfigError(f"must be more than 0s, got {duration}", where="--duration")
    if iterations is not None and iterations < 1:
        raise ConfigError(f"must be at least 1, got {iterations}", where="--iterations")
    if rate is not None and not (math.isfinite(rate) and rate > 0):
        raise ConfigError(f"must be more than 0 iterations/s, got {rate}", where="--rate")


def _override_shortcuts(
    options: Options,
    vus: int | None,
    duration: float | None,
    iterations: int | None,
    rate: float | None,
    tags: dict[str, str],
) -> Options:
    new_vus = options.vus if vus is None else vus
    stages = options.stages
    if duration is not None or iterations is not None:
        stages = None
    else:
        duration, iterations = options.duration, options.iterations
    notes: tuple[str, ...]
    if rate is not None:
        if iterations is not None:
            raise ConfigError(
                "--rate cannot be combined with iterations (an arrival rate runs for a time)", where="--rate"
            )
        if duration is None:
            raise ConfigError("--rate needs a duration: add --duration (or `duration` in the options)", where="--rate")
        pool = new_vus if new_vus is not None else math.ceil(rate)
        scenario = ConstantArrivalRate(rate=rate, duration=duration, pre_allocated_vus=pool, max_vus=pool)
        scenarios: dict[str, Scenario] = {_DEFAULT: scenario}
        notes = ()
    else:
        try:
            scenarios, notes = _from_shortcuts(new_vus, duration, iterations, stages, where="options")
        except ConfigError as error:
            raise ConfigError(f"{error.message} (after the command-line overrides)", where=error.where) from None
    return msgspec.structs.replace(
        options,
        scenarios=scenarios,
        tags=tags,
        vus=new_vus,
        duration=duration,
        iterations=iterations,
        stages=stages,
        warnings=notes,
    )


def _rescale_time(scenarios: dict[str, Scenario], target: float) -> dict[str, Scenario]:
    total = max((s.start_time + scenario_length(s) for s in scenarios.values()), default=0.0)
    if total <= 0:
        raise ConfigError("the scenarios have no scheduled length to rescale", where="--duration")
    factor = target / total
    out: dict[str, Scenario] = {}
    for name, scenario in scenarios.items():
        changes: dict[str, Any] = {"start_time": scenario.start_time * factor}
        if isinstance(scenario, ConstantArrivalRate | ConstantVUs):
            changes["duration"] = scenario.duration * factor
        elif isinstance(scenario, RampingVUs):
            changes["stages"] = tuple(Stage(duration=s.duration * factor, target=s.target) for s in scenario.stages)
        elif isinstance(scenario, RampingArrivalRate):
            changes["stages"] = tuple(RateStage(duration=s.duration * factor, target=s.target) for s in scenario.stages)
        else:
            changes["max_duration"] = scenario.max_duration * factor
        out[name] = msgspec.structs.replace(scenario, **changes)
    return out


def _peak_rate_per_s(scenario: ConstantArrivalRate | RampingArrivalRate) -> float:
    if isinstance(scenario, ConstantArrivalRate):
        return scenario.rate / scenario.time_unit
    return max(scenario.start_rate, *(s.target for s in scenario.stages)) / scenario.time_unit


def _rescale_rate(scenarios: dict[str, Scenario], target: float) -> dict[str, Scenario]:
    arrivals = [s for s in scenarios.values() if isinstance(s, ConstantArrivalRate | RampingArrivalRate)]
    if not arrivals:
        raise ConfigError("--rate needs an arrival-rate scenario, and this script has none", where="--rate")
    peak = max(_peak_rate_per_s(s) for s in arrivals)
    if peak <= 0:
        raise ConfigError("every arrival rate in the script is 0, so there is nothing to scale", where="--rate")
    factor = target / peak
    out: dict[str, Scenario] = {}
    for name, scenario in scenarios.items():
        if isinstance(scenario, ConstantArrivalRate):
            scenario = msgspec.structs.replace(scenario, rate=scenario.rate * factor)
        elif isinstance(scenario, RampingArrivalRate):
            stages = tuple(RateStage(duration=s.duration, target=s.target * factor) for s in scenario.stages)
            scenario = msgspec.structs.replace(scenario, start_rate=scenario.start_rate * factor, stages=stages)
        out[name] = scenario
    return out


def _set_vus(scenario: Scenario, vus: int) -> Scenario:
    if isinstance(scenario, ConstantArrivalRate | RampingArrivalRate):
        return msgspec.structs.replace(scenario, pre_allocated_vus=vus, max_vus=vus)
    if isinstance(scenario, RampingVUs):
        peak = max(scenario.start_vus, *(s.target for s in scenario.stages))
        if peak == 0:
            return scenario

        def scaled(count: int) -> int:
            return math.floor(count * vus / peak + 0.5)

        stages = tuple(Stage(duration=s.duration, target=scaled(s.target)) for s in scenario.stages)
        return msgspec.structs.replace(scenario, start_vus=scaled(scenario.start_vus), stages=stages)
    return msgspec.structs.replace(scenario, vus=vus)


# -- what the header prints --------------------------------------------------------------------------------------


def scenario_length(scenario: Scenario) -> float:
    """Seconds from the scenario's start until it stops starting iterations (excluding gracefulStop)."""
    if isinstance(scenario, ConstantArrivalRate | ConstantVUs):
        return scenario.duration
    if isinstance(scenario, RampingArrivalRate | RampingVUs):
        return float(sum(stage.duration for stage in scenario.stages))
    return scenario.max_duration


def scenario_max_vus(scenario: Scenario) -> int:
    """The most VUs the scenario can hold at once."""
    if isinstance(scenario, ConstantArrivalRate | RampingArrivalRate):
        return scenario.max_vus
    if isinstance(scenario, RampingVUs):
        return max(scenario.start_vus, *(stage.target for stage in scenario.stages))
    if isinstance(scenario, SharedIterations):
        return min(scenario.vus, scenario.iterations)
    return scenario.vus


def total_duration(options: Options) -> float:
    """When the last scenario stops starting iterations (its startTime plus its length; no gracefulStop)."""
    return max((s.start_time + scenario_length(s) for s in options.scenarios.values()), default=0.0)


def max_duration(options: Options) -> float:
    """k6's "max duration (incl. graceful stop)": the latest any scenario may still be running."""
    return max((s.start_time + scenario_length(s) + s.graceful_stop for s in options.scenarios.values()), default=0.0)


def max_vus(options: Options) -> int:
    """The most VUs alive at once: scenarios that overlap in time (gracefulStop included) add up."""
    events: list[tuple[float, int]] = []
    for scenario in options.scenarios.values():
        start = scenario.start_time
        events.append((start, scenario_max_vus(scenario)))
        events.append((start + scenario_length(scenario) + scenario.graceful_stop, -scenario_max_vus(scenario)))
    peak = current = 0
    for _, delta in sorted(events, key=lambda event: (event[0], event[1] > 0)):
        current += delta
        peak = max(peak, current)
    return peak


def describe(scenario: Scenario) -> str:
    """k6's one-line scenario summary, e.g. "50.00 iterations/s for 5m0s (maxVUs: 50, gracefulStop: 30s)"."""
    facts: list[str] = []
    if isinstance(scenario, ConstantArrivalRate | RampingArrivalRate):
        facts.append(f"maxVUs: {scenario.pre_allocated_vus}")
        if scenario.max_vus > scenario.pre_allocated_vus:
            facts[-1] += f"-{scenario.max_vus}"
    if isinstance(scenario, ConstantArrivalRate):
        head = f"{scenario.rate / scenario.time_unit:.2f} iterations/s for {display_duration(scenario.duration)}"
    elif isinstance(scenario, RampingArrivalRate):
        head = (
            f"Up to {_peak_rate_per_s(scenario):.2f} iterations/s for {display_duration(scenario_length(scenario))} "
            f"over {len(scenario.stages)} stages"
        )
    elif isinstance(scenario, ConstantVUs):
        head = f"{scenario.vus} looping VUs for {display_duration(scenario.duration)}"
    elif isinstance(scenario, RampingVUs):
        head = (
            f"Up to {scenario_max_vus(scenario)} looping VUs for {display_duration(scenario_length(scenario))} "
            f"over {len(scenario.stages)} stages"
        )
        facts.append(f"gracefulRampDown: {display_duration(scenario.graceful_ramp_down)}")
    elif isinstance(scenario, PerVUIterations):
        head = f"{scenario.iterations} iterations for each of {scenario.vus} VUs"
        facts.append(f"maxDuration: {display_duration(scenario.max_duration)}")
    else:
        head = f"{scenario.iterations} iterations shared among {scenario.vus} VUs"
        facts.append(f"maxDuration: {display_duration(scenario.max_duration)}")
    if scenario.exec != _DEFAULT:
        facts.append(f"exec: {scenario.exec}")
    if scenario.start_time > 0:
        facts.append(f"startTime: {display_duration(scenario.start_time)}")
    facts.append(f"gracefulStop: {display_duration(scenario.graceful_stop)}")
    return f"{head} ({', '.join(facts)})"
