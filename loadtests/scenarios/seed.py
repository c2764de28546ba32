"""The seed's five load scenarios as data, and the k6 options each one runs with.

The table is the original load test's (users, target RPS, load duration, intended cache-hit ratio, error budget).
Every scenario runs three phases, each a k6 scenario of its own, placed one after another by ``startTime`` and
tagged ``phase``:

* ``warmup``: 30 s at half the load phase's opening rate, on min(5, users) VUs;
* ``load``: open-model arrival rate (one iteration = one tool call, so the rate is the request rate), with the
  scenario's users as the VU pool (``preAllocatedVUs = maxVUs = users``): users bound the concurrency, not the rate;
* ``cooldown``: 15 s at 1 RPS on 2 VUs.

The spike's load phase is five sub-phases (see :class:`Spike`), all tagged ``phase=load`` plus ``stage=<sub-phase>``,
so thresholds and the validator treat every scenario's load phase alike and can still split the spike.

Thresholds come from the seed's targets: p95 < 1000 ms and the error rate over the load phase, checks ≥ 99 %
(availability), and p95 < 200 ms for cached calls. The client cannot see the server's cache outcome, so "cached"
is the traffic model's ``cache=hot`` tag: calls whose arguments setup() warmed. The validator checks the same
target from server spans, per real cache outcome.

The error threshold is the stricter of the scenario's budget and the seed's 2 % target (the original let overload
scenarios fail up to 15 %; the seed's targets are floors and are not relaxed here); a run is aborted once errors pass
the looser of the two, because beyond that it measures an error storm, not the service.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from loadtests.scenarios.traffic import HOT_TAGS, warm_key_count

__all__ = (
    "COOLDOWN_RPS",
    "COOLDOWN_S",
    "COOLDOWN_VUS",
    "SEED",
    "SEED_AVAILABILITY",
    "SEED_CACHED_P95_MS",
    "SEED_ERROR_RATE",
    "SEED_P95_MS",
    "WARMUP_MAX_VUS",
    "WARMUP_S",
    "Row",
    "Spike",
    "build_options",
    "build_targets",
)

SEED_P95_MS: Final = 1000.0
SEED_CACHED_P95_MS: Final = 200.0
SEED_ERROR_RATE: Final = 0.02
SEED_AVAILABILITY: Final = 0.99

WARMUP_S: Final = 30
WARMUP_MAX_VUS: Final = 5
COOLDOWN_S: Final = 15
COOLDOWN_RPS: Final = 1.0
COOLDOWN_VUS: Final = 2
ABORT_DELAY: Final = "30s"
"""Errors are not allowed to abort the run before this much of it has passed: a few early failures are noise."""


class Spike(msgspec.Struct, frozen=True, kw_only=True):
    """A real spike's shape around the row's peak rate and duration.

    ``before`` at ``base_rps``, a ramp to the row's rps, the hold (the row's duration), a ramp back down, then
    ``recovery`` at ``base_rps``, long enough to compare with ``before``.
    """

    base_rps: float
    before_s: int
    ramp_up_s: int
    ramp_down_s: int
    recovery_s: int


class Row(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    title: str
    users: int
    rps: float
    duration_s: int
    """Length of the load phase at ``rps`` (for the spike: of the hold at the peak)."""
    cache_hit_ratio: float
    error_budget: float
    spike: Spike | None = None

    @property
    def error_rate(self) -> float:
        """The error-rate threshold: the stricter of the budget and the seed's target."""
        return min(self.error_budget, SEED_ERROR_RATE)

    @property
    def abort_error_rate(self) -> float:
        return max(self.error_budget, SEED_ERROR_RATE)


SEED: Final[dict[str, Row]] = {
    row.name: row
    for row in (
        Row(name="normal", title="Normal Operations", users=10, rps=5.0, duration_s=60, cache_hit_ratio=0.8,
            error_budget=0.01),
        Row(name="peak", title="Peak Operations", users=25, rps=15.0, duration_s=120, cache_hit_ratio=0.7,
            error_budget=0.02),
        Row(name="storm", title="Incident Storm", users=50, rps=30.0, duration_s=300, cache_hit_ratio=0.5,
            error_budget=0.05),
        Row(name="stress", title="Stress Test", users=100, rps=50.0, duration_s=180, cache_hit_ratio=0.3,
            error_budget=0.10),
        Row(name="spike", title="Spike Test", users=150, rps=100.0, duration_s=60, cache_hit_ratio=0.2,
            error_budget=0.15,
            spike=Spike(base_rps=5.0, before_s=30, ramp_up_s=5, ramp_down_s=5, recovery_s=60)),
    )
}  # fmt: skip
"""The seed's scenarios by name, in the order of its table."""


def build_options(row: Row) -> dict[str, Any]:
    """k6 options for ``row``: warm-up, load (or the spike's sub-phases) and cool-down, with the seed's thresholds."""
    opening = row.spike.base_rps if row.spike is not None else row.rps
    scenarios: dict[str, dict[str, Any]] = {
        "warmup": _constant(opening / 2, WARMUP_S, min(WARMUP_MAX_VUS, row.users), 0, {"phase": "warmup"}),
    }
    load = _spike_phases(row, row.spike) if row.spike is not None else _steady_phase(row)
    scenarios.update(load)
    end = WARMUP_S + _load_length(row)
    scenarios["cooldown"] = _constant(COOLDOWN_RPS, COOLDOWN_S, COOLDOWN_VUS, end, {"phase": "cooldown"})
    return {"scenarios": scenarios, "thresholds": _thresholds(row)}


def build_targets(row: Row) -> dict[str, float]:
    """What the validator should know about the run, beyond what the options say.

    ``cache_warm_keys``: how many keys setup() warms before the phases. On a fresh server each is one miss that is
    not part of the intended ratio, so take the server's hit ratio over the phases (after setup), or subtract them.
    """
    targets = {
        "cache_hit_ratio": float(row.cache_hit_ratio),
        "error_rate": row.error_rate,
        "error_budget": row.error_budget,
        "p95_ms": SEED_P95_MS,
        "cached_p95_ms": SEED_CACHED_P95_MS,
        "availability": SEED_AVAILABILITY,
        "users": float(row.users),
        "rps": float(row.rps),
        "duration_s": float(row.duration_s),
        "cache_warm_keys": float(warm_key_count()),
    }
    if row.spike is not None:
        targets["base_rps"] = float(row.spike.base_rps)
        targets["recovery_s"] = float(row.spike.recovery_s)
    return targets


def _load_length(row: Row) -> int:
    spike = row.spike
    if spike is None:
        return row.duration_s
    return spike.before_s + spike.ramp_up_s + row.duration_s + spike.ramp_down_s + spike.recovery_s


def _steady_phase(row: Row) -> dict[str, dict[str, Any]]:
    return {"load": _constant(row.rps, row.duration_s, row.users, WARMUP_S, {"phase": "load"})}


def _spike_phases(row: Row, spike: Spike) -> dict[str, dict[str, Any]]:
    before = WARMUP_S
    ramp_up = before + spike.before_s
    hold = ramp_up + spike.ramp_up_s
    ramp_down = hold + row.duration_s
    recovery = ramp_down + spike.ramp_down_s
    users, base, peak = row.users, spike.base_rps, row.rps
    return {
        "before": _constant(base, spike.before_s, users, before, _stage("before")),
        "ramp_up": _ramp(base, peak, spike.ramp_up_s, users, ramp_up, _stage("ramp_up")),
        "spike": _constant(peak, row.duration_s, users, hold, _stage("spike")),
        "ramp_down": _ramp(peak, base, spike.ramp_down_s, users, ramp_down, _stage("ramp_down")),
        "recovery": _constant(base, spike.recovery_s, users, recovery, _stage("recovery")),
    }


def _stage(stage: str) -> dict[str, str]:
    return {"phase": "load", "stage": stage}


def _constant(rps: float, seconds: int, vus: int, start_s: int, tags: dict[str, str]) -> dict[str, Any]:
    rate, unit = _rate(rps)
    return {
        "executor": "constant-arrival-rate",
        "rate": rate,
        "timeUnit": unit,
        "duration": f"{seconds}s",
        "preAllocatedVUs": vus,
        "maxVUs": vus,
        "startTime": f"{start_s}s",
        "tags": tags,
    }


def _ramp(from_rps: float, to_rps: float, seconds: int, vus: int, start_s: int, tags: dict[str, str]) -> dict[str, Any]:
    if not (float(from_rps).is_integer() and float(to_rps).is_integer()):
        raise ValueError(f"ramp rates must be whole requests per second, got {from_rps} → {to_rps}")
    return {
        "executor": "ramping-arrival-rate",
        "startRate": int(from_rps),
        "timeUnit": "1s",
        "stages": [{"duration": f"{seconds}s", "target": int(to_rps)}],
        "preAllocatedVUs": vus,
        "maxVUs": vus,
        "startTime": f"{start_s}s",
        "tags": tags,
    }


def _rate(rps: float) -> tuple[int, str]:
    """k6 rates are integers per ``timeUnit``: 2.5 RPS is 5 per 2 s."""
    for seconds in (1, 2, 4, 5, 10):
        per_unit = rps * seconds
        if abs(per_unit - round(per_unit)) < 1e-9 and round(per_unit) > 0:
            return round(per_unit), f"{seconds}s"
    return max(1, round(rps * 60)), "1m"


def _thresholds(row: Row) -> dict[str, list[Any]]:
    hot = ",".join(f"{k}:{v}" for k, v in HOT_TAGS.items())
    thresholds: dict[str, list[Any]] = {
        "mcp_tool_duration{phase:load}": [f"p(95)<{SEED_P95_MS:g}"],
        f"mcp_tool_duration{{phase:load,{hot}}}": [f"p(95)<{SEED_CACHED_P95_MS:g}"],
        "mcp_tool_errors{phase:load}": [
            f"rate<{row.error_rate:g}",
            {"threshold": f"rate<{row.abort_error_rate:g}", "abortOnFail": True, "delayAbortEval": ABORT_DELAY},
        ],
        "checks": [f"rate>{SEED_AVAILABILITY:g}"],
    }
    if row.spike is not None:
        for stage in ("spike", "recovery"):
            thresholds[f"mcp_tool_duration{{stage:{stage}}}"] = [f"p(95)<{SEED_P95_MS:g}"]
    return thresholds
