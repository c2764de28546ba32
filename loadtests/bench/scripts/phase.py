"""The benchmark's one script: every phase is this module with a different ``$PP_BENCH_PLAN``.

One iteration is one tool call, tagged ``cache=cold|miss|hit|none`` (the intended outcome) on top of the engine's
``tool``, ``outcome`` and ``scenario`` tags, so the benchmark reads each phase, tool and cache class out of one
aggregate.

Besides the engine's metrics, each call records ``bench_call_duration``: the wall-clock time of ``call_tool`` as the
caller sees it (request encoding and reply decoding included, a few tens of µs). The engine's ``mcp_tool_duration``
starts when ``write()`` has returned; on a busy machine the generator can be preempted right after the write (the
loopback write wakes the server), and the reply may be in before the send is stamped, so a closed one-VU phase can
read a fraction of a millisecond for a call that took one. A VU's MCP handshake is done before its first timed call.

The corpus-derived tables are built when the script is imported (k6's init stage), not in the first iteration,
where building them would stall the event loop and make the first calls of an open-model step late.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final

import msgspec

from loadtests import Trend, check
from loadtests.bench.keys import (
    Cursor,
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
from loadtests.bench.plan import read_plan
from loadtests.scenarios.traffic import CALL_SUCCEEDED, Call, Mix, ScenarioTraffic, hot_keys, shared_pools

if TYPE_CHECKING:
    from loadtests.bench.plan import CallSpec
    from loadtests.engine.vu import VU
    from loadtests.scenarios.traffic import Pools

_PLAN = read_plan()
options = _PLAN.options
call_duration = Trend("bench_call_duration", is_time=True)
shared_pools()
tool_templates()
unique_procedures()

_CLASS: Final = {"hot": "hit", "cold": "miss", "none": "none"}
"""The traffic model's tags, in the benchmark's words."""


class _Source:
    """What one VU of one scenario calls next."""

    def __init__(self, spec: CallSpec, vu: VU, hot: Pools | None) -> None:
        self.spec = spec
        self.rng = vu.rng
        self.cursor = Cursor(vu.run_id, vu.id)
        self.sequence: list[Call] = []
        self.position = 0
        self.mix: Mix | None = None
        by_tool = tool_hot(hot)
        if spec.mode == "sequence":
            self.sequence = _sequence(spec, by_tool, vu.run_id)
        elif spec.mode == "tool":
            assert spec.tool is not None
            self.mix = tool_mix(spec.tool, by_tool, spec.hit_ratio)
        else:
            incidents = cached_incidents(spec.tools, cached_only=spec.cached_only)
            pools = shared_pools()
            warm = hot if hot is not None else hot_keys(pools)
            usable = {i.name: {t: warm[i.name][t] for t in i.tools if t in warm.get(i.name, {})} for i in incidents}
            self.mix = Mix(usable, pools, feasible_hit_ratio(spec.hit_ratio, incidents), incidents)

    def next(self) -> Call | None:
        if self.mix is not None:
            call = self.mix.draw(self.rng, self.cursor.token)
            return Call(call.tool, call.arguments, {"cache": _CLASS.get(call.tags.get("cache", ""), "none")})
        if self.position >= len(self.sequence):
            return None
        call = self.sequence[self.position]
        self.position += 1
        return call


def _sequence(spec: CallSpec, hot: dict[str, list[dict[str, Any]]], run_id: str) -> list[Call]:
    if spec.sequence == "cold":
        return cold_calls(spec.tools, run_id, spec.procedure_offset)
    if spec.sequence == "baseline":
        return baseline_calls(spec.tools, hot, spec.iterations, run_id, spec.procedure_offset)
    return pair_calls(spec.tools, spec.pairs, spec.repeats, run_id, spec.procedure_offset)


_sources: dict[tuple[str, int], _Source] = {}
_hot: list[tuple[object, Pools | None]] = []


def _hot_of(data: Any) -> Pools | None:
    """setup()'s warmed keys (decoded once per worker: every VU gets the same object)."""
    if _hot and _hot[0][0] is data:
        return _hot[0][1]
    pools = None
    if isinstance(data, dict) and "hot" in data:
        pools = msgspec.convert(data["hot"], dict[str, dict[str, list[dict[str, Any]]]])
    _hot[:] = [(data, pools)]
    return pools


async def setup(vu: VU) -> dict[str, Any] | None:
    if not _PLAN.warm:
        return None
    return await ScenarioTraffic(1.0).warm(vu)


async def default(vu: VU) -> None:
    key = (vu.scenario, vu.id)
    source = _sources.get(key)
    if source is None:
        source = _sources[key] = _Source(_PLAN.calls[vu.scenario], vu, _hot_of(vu.data))
        if not vu.mcp.client.ready:
            await vu.mcp.initialize()
    call = source.next()
    if call is None:
        return
    started = time.perf_counter()
    result = await vu.mcp.call_tool(call.tool, call.arguments, tags=call.tags)
    elapsed_ms = (time.perf_counter() - started) * 1e3
    outcome = "ok" if result.ok else (result.error or "failed")
    call_duration.add(elapsed_ms, {**call.tags, "tool": call.tool, "outcome": outcome})
    check(result, CALL_SUCCEEDED)
