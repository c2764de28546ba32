"""Which arguments each benchmark call sends: a key called before (a hit) or one never sent (a miss), on purpose.

Built on the traffic model (:mod:`loadtests.scenarios.traffic`): its argument templates from the corpus, its hot
set (warmed by ``ScenarioTraffic.warm`` in ``setup()``), and its :class:`~loadtests.scenarios.traffic.Mix` for
drawing, applied to a one-tool "incident" so a mix can be a single tool. A never-seen key comes from the mix's cold
draw (a fresh token in a field the cache key includes), except for ``get_procedure``, whose key is only
(runbook, step): its misses come from the corpus's (runbook, step) pairs outside the hot set, each used once per
benchmark (the phases get disjoint slices, :func:`unique_procedures`), in both spellings the service accepts (the
step's id and its name: two keys).

``list_sources`` is in no incident mix; its templates are the two values of its one argument.
"""

from __future__ import annotations

import functools
import hashlib
import random
from typing import TYPE_CHECKING, Any, Final

import msgspec

from loadtests.scenarios.corpus import shared_corpus
from loadtests.scenarios.traffic import (
    ALWAYS_HOT,
    CACHED_TOOLS,
    INCIDENTS,
    Call,
    Incident,
    Mix,
    hot_keys,
    shared_pools,
    tool_shares,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from loadtests.scenarios.traffic import Args, Pools

__all__ = (
    "LIST_SOURCES_TEMPLATES",
    "Cursor",
    "baseline_calls",
    "cached_incidents",
    "cold_calls",
    "feasible_hit_ratio",
    "pair_calls",
    "tool_hot",
    "tool_mix",
    "tool_templates",
    "unique_procedures",
)

LIST_SOURCES_TEMPLATES: Final[tuple[dict[str, Any], ...]] = ({"include_health": True}, {"include_health": False})
_SHUFFLE_SEED: Final = 20251127
_encode_sorted = msgspec.json.Encoder(order="sorted").encode


def _tags(cache: str) -> dict[str, str]:
    return {"cache": cache}


def _merge(per_incident: Pools) -> dict[str, list[Args]]:
    merged: dict[str, dict[bytes, Args]] = {}
    for tools in per_incident.values():
        for tool, templates in tools.items():
            seen = merged.setdefault(tool, {})
            for args in templates:
                seen.setdefault(_encode_sorted(args), args)
    return {tool: list(found.values()) for tool, found in merged.items()}


@functools.cache
def tool_templates() -> dict[str, list[Args]]:
    """Every tool's argument templates, all incidents merged (list_sources: its two spellings)."""
    merged = _merge(shared_pools())
    merged["list_sources"] = [dict(args) for args in LIST_SOURCES_TEMPLATES]
    return merged


def tool_hot(hot: Pools | None) -> dict[str, list[Args]]:
    """The warmed hot keys per cached tool (``setup()``'s, or the unwarmed hot set when there is no setup data)."""
    return _merge(hot if hot is not None else hot_keys(shared_pools()))


def _procedure_identity(args: Args) -> tuple[str, str]:
    return (str(args["runbook_id"]).strip().lower(), str(args["step_name"]).strip().lower())


@functools.cache
def unique_procedures() -> tuple[dict[str, str], ...]:
    """Every get_procedure key the corpus allows outside the hot set, in a fixed shuffled order."""
    hot = {_procedure_identity(args) for args in tool_hot(None).get("get_procedure", [])}
    keys: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for runbook in shared_corpus().runbooks:
        for step in runbook.procedures:
            for spelling in (step.id, step.name):
                args = {"runbook_id": runbook.id, "step_name": spelling}
                identity = _procedure_identity(args)
                if identity not in hot and identity not in seen:
                    seen.add(identity)
                    keys.append(args)
    random.Random(_SHUFFLE_SEED).shuffle(keys)
    return tuple(keys)


def feasible_hit_ratio(hit_ratio: float, incidents: Sequence[Incident]) -> float:
    """``hit_ratio`` raised to the lowest a mix can realise (its always-hot tools' share of cached calls)."""
    shares = tool_shares(incidents)
    cached = sum(share for tool, share in shares.items() if tool in CACHED_TOOLS)
    coldable = sum(share for tool, share in shares.items() if tool in CACHED_TOOLS and tool not in ALWAYS_HOT)
    if cached == 0.0:
        return hit_ratio
    return max(hit_ratio, 1.0 - coldable / cached)


def cached_incidents(tools: Iterable[str], *, cached_only: bool) -> tuple[Incident, ...]:
    """The seed's incidents restricted to ``tools`` (and to cached tools with ``cached_only``); empty ones go."""
    wanted = set(tools)
    kept = []
    for incident in INCIDENTS:
        weights = {
            tool: weight
            for tool, weight in incident.tools.items()
            if tool in wanted and (tool in CACHED_TOOLS or not cached_only)
        }
        if weights:
            kept.append(msgspec.structs.replace(incident, tools=weights))
    return tuple(kept)


def tool_mix(tool: str, hot: dict[str, list[Args]], hit_ratio: float) -> Mix:
    """A mix of one tool: its hot keys with probability ``hit_ratio`` (always, for get_procedure), else new keys."""
    incident = Incident(name="bench", title=tool, weight=1.0, families=(), tools={tool: 1.0})
    templates = tool_templates()[tool]
    hot_pool = {"bench": {tool: hot.get(tool) or templates[:8]}} if tool in CACHED_TOOLS else {}
    ratio = 1.0 if tool in ALWAYS_HOT else hit_ratio
    return Mix(hot_pool, {"bench": {tool: templates}}, ratio, (incident,))


class Cursor:
    """Tokens never sent before in this benchmark: the run id (one per phase), the VU and a counter."""

    def __init__(self, run_id: str, vu_id: int) -> None:
        run = hashlib.blake2b(run_id.encode(), digest_size=5).hexdigest()
        # One word to the services' tokenisers ([a-z0-9]+).
        self.prefix = f"bench{run}v{vu_id}n"
        self.count = 0

    def token(self) -> str:
        self.count += 1
        return f"{self.prefix}{self.count}"


def _unique(tool: str, mix: Mix, rng: random.Random, fresh: Callable[[], str], procedures: Iterable[Args]) -> Args:
    if tool == "get_procedure":
        return next(iter(procedures))
    return mix.draw(rng, fresh).arguments


class _Procedures:
    """:func:`unique_procedures` from ``offset`` on, each handed out once.

    Past the end it wraps; the orchestrator sizes the slices so a benchmark never gets there
    (:func:`loadtests.bench.plan.procedures_used`).
    """

    def __init__(self, offset: int) -> None:
        self.keys = unique_procedures()
        self.next_index = offset

    def __iter__(self) -> _Procedures:
        return self

    def __next__(self) -> Args:
        if self.next_index >= len(self.keys):
            self.next_index = 0
        args = dict(self.keys[self.next_index])
        self.next_index += 1
        return args


def cold_calls(tools: Sequence[str], run_id: str, procedure_offset: int) -> list[Call]:
    """One never-seen key per tool (uncached tools: a template), in ``tools`` order."""
    rng = random.Random(_SHUFFLE_SEED)
    cursor = Cursor(run_id, 0)
    procedures = _Procedures(procedure_offset)
    calls = []
    for tool in tools:
        if tool in CACHED_TOOLS:
            mix = tool_mix(tool, {}, 0.0)
            calls.append(Call(tool, _unique(tool, mix, rng, cursor.token, procedures), _tags("cold")))
        else:
            calls.append(Call(tool, rng.choice(tool_templates()[tool]), _tags("cold")))
    return calls


def baseline_calls(
    tools: Sequence[str], hot: dict[str, list[Args]], iterations: int, run_id: str, procedure_offset: int
) -> list[Call]:
    """Per tool: ``iterations`` new keys (miss), then ``iterations`` warm keys in turn (hit); uncached tools: none."""
    rng = random.Random(_SHUFFLE_SEED + 1)
    cursor = Cursor(run_id, 0)
    procedures = _Procedures(procedure_offset)
    calls: list[Call] = []
    for tool in tools:
        templates = tool_templates()[tool]
        if tool not in CACHED_TOOLS:
            calls.extend(Call(tool, templates[i % len(templates)], _tags("none")) for i in range(iterations))
            continue
        mix = tool_mix(tool, hot, 0.0)
        calls.extend(
            Call(tool, _unique(tool, mix, rng, cursor.token, procedures), _tags("miss")) for _ in range(iterations)
        )
        warm = hot.get(tool) or templates[:1]
        calls.extend(Call(tool, warm[i % len(warm)], _tags("hit")) for i in range(iterations))
    return calls


def pair_calls(tools: Sequence[str], pairs: int, repeats: int, run_id: str, procedure_offset: int) -> list[Call]:
    """Per cached tool: a new key (miss) followed by ``repeats`` calls of that same key (hits), ``pairs`` times."""
    rng = random.Random(_SHUFFLE_SEED + 2)
    cursor = Cursor(run_id, 0)
    procedures = _Procedures(procedure_offset)
    calls: list[Call] = []
    for tool in tools:
        if tool not in CACHED_TOOLS:
            continue
        mix = tool_mix(tool, {}, 0.0)
        for _ in range(pairs):
            args = _unique(tool, mix, rng, cursor.token, procedures)
            calls.append(Call(tool, args, _tags("miss")))
            calls.extend(Call(tool, args, _tags("hit")) for _ in range(repeats))
    return calls
