"""The incident traffic every seed scenario sends: which tool, with which arguments, against a warm or a cold key.

**Mix.** Each call belongs to an incident, drawn by weight, and the tool is drawn by that incident's weights (the
original's four mixes and tool weights; the original drew the incident uniformly although its comment said
weighted). Incident weights: performance degradation 0.35, service downtime 0.30, memory pressure 0.25, security
incident 0.10. Why: latency/saturation alerts (slow queries, CPU, lag) are the most frequent pages of a typical
on-call rotation, outright outages next, resource exhaustion after them, and security incidents are rare but
expensive. Overall tool shares: search_runbooks 0.395, search_knowledge_base 0.14, get_procedure 0.155,
get_escalation_path 0.145, get_decision_tree 0.135, record_resolution_feedback 0.03 (:func:`tool_shares`).

**Arguments** come from the corpus (:mod:`loadtests.scenarios.corpus`): each incident owns the runbook families
whose alert type it names (memory pressure → ``memory_leak`` runbooks, and so on) and the articles tagged with
them; alert types, severities, systems, step ids and names, observations for the decision-tree conditions, article
titles, tags and categories are all the corpus's own, so every call is valid and finds something. Argument dicts
are built once per process (``TEMPLATES_PER_SLOT`` per incident and tool, from a fixed seed) and reused.

**Cache-hit ratio.** Which tools go through the retrieval cache: search_runbooks, get_decision_tree, get_procedure
and search_knowledge_base; escalation, feedback and list_sources do not, and do not count. A cached call reuses one
of a small hot set (``HOT_KEYS_PER_SLOT`` per incident and tool, a few dozen per tool, warmed once in setup()) or
sends a key no one has sent before: a field the cache key includes gets a token made of a hash of the run id, the
VU id and a per-VU counter (``context.incident_id`` for search_runbooks, ``alert_context.incident_id`` for
get_decision_tree, a trailing word of the query for search_knowledge_base); the service ignores unknown context
keys and an unmatched query word only lowers every score a little. get_procedure cannot miss on purpose: its key
is only (runbook_id, step_name), and the corpus has a finite number of those, all warm after a while. So it always
uses hot keys, and the other cached tools go cold with probability (1 − h) × cached share / coldable share
(:func:`cold_probability`), which puts the server's hit ratio over all cached calls at h. The lowest ratio this
can realise is get_procedure's share of cached calls, 0.19. setup()'s warming calls (``warm_key_count()``, 72) are
misses on a fresh server and come before the phases: the ratio is h over the phases, not over setup.

Calls are tagged ``cache=hot|cold|none`` (none: an uncached tool) so a threshold can single out cached calls.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import random
import re
from bisect import bisect_right
from typing import TYPE_CHECKING, Any, Final, NamedTuple, Protocol

import msgspec

from loadtests.scenarios.corpus import ArticleDoc, Corpus, RunbookDoc, corpus_dir, shared_corpus

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

__all__ = (
    "ALWAYS_HOT",
    "CACHED_TOOLS",
    "CALL_SUCCEEDED",
    "COLD_TAGS",
    "HOT_KEYS_PER_SLOT",
    "HOT_TAGS",
    "INCIDENTS",
    "TEMPLATES_PER_SLOT",
    "UNCACHED_TAGS",
    "WARM_TAGS",
    "Args",
    "Call",
    "Incident",
    "McpCaller",
    "Mix",
    "Pools",
    "ScenarioTraffic",
    "ToolOutcome",
    "VirtualUser",
    "build_pools",
    "cold_probability",
    "hot_keys",
    "shared_pools",
    "tool_shares",
    "warm_key_count",
)

Args = dict[str, Any]
Pools = dict[str, dict[str, list[Args]]]
"""Argument templates by incident, then tool."""

CACHED_TOOLS: Final = frozenset({"search_runbooks", "get_decision_tree", "get_procedure", "search_knowledge_base"})
ALWAYS_HOT: Final = frozenset({"get_procedure"})
"""Cached tools whose key has no field a fresh value can go in: they only ever use hot keys."""

TEMPLATES_PER_SLOT: Final = 48
HOT_KEYS_PER_SLOT: Final = 8
PLAN_SEED: Final = 20250601

HOT_TAGS: Final = {"cache": "hot"}
COLD_TAGS: Final = {"cache": "cold"}
UNCACHED_TAGS: Final = {"cache": "none"}
WARM_TAGS: Final = {"cache": "warm"}

_log = logging.getLogger(__name__)


class Incident(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    title: str
    weight: float
    families: tuple[str, ...]
    """Alert types that pick this incident's runbooks (a runbook naming one of them) and articles (tagged with one)."""
    tools: dict[str, float]


INCIDENTS: Final = (
    Incident(
        name="memory_pressure",
        title="Memory Pressure Alert",
        weight=0.25,
        families=("memory_leak",),
        tools={"search_runbooks": 0.4, "get_decision_tree": 0.3, "get_procedure": 0.2, "get_escalation_path": 0.1},
    ),
    Incident(
        name="service_downtime",
        title="Service Downtime",
        weight=0.30,
        families=("service_down", "load_balancer_failure", "container_crashloop", "dns_failure"),
        tools={"search_runbooks": 0.5, "get_escalation_path": 0.3, "get_decision_tree": 0.2},
    ),
    Incident(
        name="performance_degradation",
        title="Performance Degradation",
        weight=0.35,
        families=("cpu_high", "database_slow", "network_issues", "queue_backlog", "replication_lag"),
        tools={"search_knowledge_base": 0.4, "search_runbooks": 0.3, "get_procedure": 0.3},
    ),
    Incident(
        name="security_incident",
        title="Security Incident",
        weight=0.10,
        families=("security_incident", "authentication_failure", "ddos_attack"),
        tools={"search_runbooks": 0.4, "get_escalation_path": 0.3, "record_resolution_feedback": 0.3},
    ),
)


# --- the mix, on paper ------------------------------------------------------------------------------------------


def _slot_weights(incidents: Sequence[Incident]) -> list[tuple[Incident, str, float]]:
    total = sum(incident.weight for incident in incidents)
    slots = []
    for incident in incidents:
        tool_total = sum(incident.tools.values())
        for tool, weight in incident.tools.items():
            slots.append((incident, tool, incident.weight / total * weight / tool_total))
    return slots


def tool_shares(incidents: Sequence[Incident] = INCIDENTS) -> dict[str, float]:
    """The share of all calls each tool gets."""
    shares: dict[str, float] = {}
    for _, tool, weight in _slot_weights(incidents):
        shares[tool] = shares.get(tool, 0.0) + weight
    return shares


def cold_probability(hit_ratio: float, incidents: Sequence[Incident] = INCIDENTS) -> float:
    """How often a call of a tool that can go cold must, for the hit ratio over all cached calls to be ``hit_ratio``.

    Raises:
        ValueError: the ratio is outside [0, 1] or below what the always-hot tools allow.
    """
    if not 0.0 <= hit_ratio <= 1.0:
        raise ValueError(f"a cache-hit ratio is between 0 and 1, got {hit_ratio}")
    shares = tool_shares(incidents)
    cached = sum(share for tool, share in shares.items() if tool in CACHED_TOOLS)
    coldable = sum(share for tool, share in shares.items() if tool in CACHED_TOOLS and tool not in ALWAYS_HOT)
    if cached == 0.0 or hit_ratio == 1.0:
        return 0.0
    needed = (1.0 - hit_ratio) * cached / coldable if coldable else float("inf")
    if needed > 1.0 + 1e-9:
        lowest = 1.0 - coldable / cached
        raise ValueError(f"this mix cannot go below a hit ratio of {lowest:.3f} (asked for {hit_ratio})")
    return min(needed, 1.0)


def warm_key_count(incidents: Sequence[Incident] = INCIDENTS) -> int:
    """How many hot keys setup() warms at most (fewer only if the corpus is too small to fill a slot)."""
    return HOT_KEYS_PER_SLOT * sum(1 for _, tool, _ in _slot_weights(incidents) if tool in CACHED_TOOLS)


# --- argument templates from the corpus -------------------------------------------------------------------------

_SEVERITIES: Final = ("critical", "high", "medium", "low", "info")
_ENVIRONMENTS: Final = ("production", "staging")
_REGIONS: Final = ("us-east-1", "eu-west-1", "ap-southeast-2")
_QUERY_SUFFIXES: Final = ("troubleshooting", "root cause", "best practices", "monitoring", "runbook")
_OUTCOMES: Final = ("success", "partial_success", "failure", "escalated")
_OUTCOME_WEIGHTS: Final = (0.6, 0.2, 0.1, 0.1)
_NOTES: Final = (
    "Resolved by following the runbook as written.",
    "Needed a second restart; the first did not clear the alert.",
    "Root cause was a config change from the last deploy.",
)
_COMPARISON = re.compile(r"\b([A-Za-z_]\w*)\s*(?:==|!=|<=|>=|<|>)\s*(-?\d+(?:\.\d+)?)")
_MEMBERSHIP = re.compile(r"""["']([^"']+)["']\s+in\s+([A-Za-z_]\w*)""")


def _severity(rng: random.Random, runbook: RunbookDoc) -> str:
    covered = [s for s in runbook.severity_mapping if s in _SEVERITIES]
    return rng.choice(covered) if covered else "high"


def _systems(rng: random.Random, runbook: RunbookDoc) -> list[str]:
    count = min(len(runbook.affected_systems), rng.randint(1, 2))
    return sorted(rng.sample(runbook.affected_systems, count))


def _observations(rng: random.Random, runbook: RunbookDoc) -> Args:
    """Values for the names the runbook's branch conditions test, around each threshold, so branches decide."""
    values: Args = {}
    members: dict[str, set[str]] = {}
    for branch in runbook.decision_tree.branches:
        for name, number in _COMPARISON.findall(branch.condition):
            if name in ("severity", "true", "false", "null"):
                continue
            threshold = float(number)
            value = threshold * rng.uniform(0.5, 1.5) if threshold else float(rng.choice((0, 1, 3)))
            values[name] = round(value, 3) if "." in number else round(value)  # a count stays a count
        for literal, name in _MEMBERSHIP.findall(branch.condition):
            members.setdefault(name, set()).add(literal)
    for name, literals in members.items():
        choices = sorted(literals)
        values[name] = sorted(rng.sample(choices, rng.randint(0, len(choices))))
    return values


def _search_runbooks(rng: random.Random, runbooks: Sequence[RunbookDoc], _: Sequence[ArticleDoc]) -> Args:
    runbook = rng.choice(runbooks)
    args: Args = {
        "alert_type": rng.choice(runbook.alert_types),
        "severity": _severity(rng, runbook),
        "affected_systems": _systems(rng, runbook),
    }
    if rng.random() < 0.5:
        args["context"] = {"environment": rng.choice(_ENVIRONMENTS), "region": rng.choice(_REGIONS)}
    return args


def _decision_tree(rng: random.Random, runbooks: Sequence[RunbookDoc], _: Sequence[ArticleDoc]) -> Args:
    runbook = rng.choice(runbooks)
    context: Args = {"alert_type": rng.choice(runbook.alert_types), "severity": _severity(rng, runbook)}
    if runbook.affected_systems:
        context["system"] = rng.choice(runbook.affected_systems)
    context.update(_observations(rng, runbook))
    args: Args = {"alert_context": context}
    if rng.random() < 0.3:
        args["runbook_id"] = runbook.id
    if rng.random() < 0.3 and runbook.procedures:
        args["current_agent_state"] = {"attempted_actions": [rng.choice(runbook.procedures).id]}
    return args


def _procedure(rng: random.Random, runbooks: Sequence[RunbookDoc], _: Sequence[ArticleDoc]) -> Args:
    runbook = rng.choice([rb for rb in runbooks if rb.procedures])
    step = rng.choice(runbook.procedures)
    args: Args = {"runbook_id": runbook.id, "step_name": step.id if rng.random() < 0.7 else step.name}
    if rng.random() < 0.3 and runbook.affected_systems:
        args["current_context"] = {"system": rng.choice(runbook.affected_systems)}
    return args


def _escalation(rng: random.Random, runbooks: Sequence[RunbookDoc], _: Sequence[ArticleDoc]) -> Args:
    runbook = rng.choice(runbooks)
    args: Args = {"severity": _severity(rng, runbook), "business_hours": rng.random() < 0.5}
    tried = rng.sample(runbook.procedures, min(len(runbook.procedures), rng.randint(0, 2)))
    if tried:
        args["failed_attempts"] = sorted(step.id for step in tried)
    pick = rng.random()
    if pick < 0.5:
        args["runbook_id"] = runbook.id
    elif pick < 0.8:
        args["alert_type"] = rng.choice(runbook.alert_types)
    return args


def _knowledge_base(rng: random.Random, _: Sequence[RunbookDoc], articles: Sequence[ArticleDoc]) -> Args:
    article = rng.choice(articles)
    if rng.random() < 0.6 or not article.tags:
        query = article.title
    else:
        topic = rng.choice(article.tags).replace("_", " ").replace("-", " ")
        query = f"{topic} {rng.choice(_QUERY_SUFFIXES)}"
    args: Args = {"query": query, "max_results": rng.choice((5, 10, 15))}
    if rng.random() < 0.4:
        args["categories"] = [article.category]
    return args


def _feedback(rng: random.Random, runbooks: Sequence[RunbookDoc], _: Sequence[ArticleDoc]) -> Args:
    runbook = rng.choice([rb for rb in runbooks if rb.procedures])
    args: Args = {
        "runbook_id": runbook.id,
        "procedure_id": rng.choice(runbook.procedures).id,
        "outcome": rng.choices(_OUTCOMES, _OUTCOME_WEIGHTS)[0],
        "resolution_time_minutes": round(rng.uniform(5.0, 240.0), 1),
    }
    if rng.random() < 0.3:
        args["notes"] = rng.choice(_NOTES)
    return args


_GENERATORS: Final[dict[str, Callable[[random.Random, Sequence[RunbookDoc], Sequence[ArticleDoc]], Args]]] = {
    "search_runbooks": _search_runbooks,
    "get_decision_tree": _decision_tree,
    "get_procedure": _procedure,
    "get_escalation_path": _escalation,
    "search_knowledge_base": _knowledge_base,
    "record_resolution_feedback": _feedback,
}

_encode_sorted = msgspec.json.Encoder(order="sorted").encode


def _identity(tool: str, args: Args) -> bytes:
    """What tells two templates apart for the cache (get_procedure's key ignores ``current_context``)."""
    if tool == "get_procedure":
        args = {"runbook_id": args["runbook_id"].lower(), "step_name": args["step_name"].lower()}
    return _encode_sorted(args)


def build_pools(corpus: Corpus, seed: int = PLAN_SEED, incidents: Sequence[Incident] = INCIDENTS) -> Pools:
    """Distinct argument templates per incident and tool, the same for the same corpus and seed.

    Raises:
        ValueError: a tool of the mix needs documents the corpus does not have.
    """
    pools: Pools = {}
    for incident in incidents:
        families = set(incident.families)
        runbooks = [rb for rb in corpus.runbooks if families & set(rb.alert_types)] or corpus.runbooks
        articles = [a for a in corpus.articles if families & set(a.tags)] or corpus.articles
        if "search_knowledge_base" in incident.tools and not articles:
            raise ValueError(f"the corpus at {corpus.root} has no knowledge-base article to search for")
        if not any(rb.procedures for rb in runbooks):
            raise ValueError(f"the corpus at {corpus.root} has no runbook with procedure steps")
        pools[incident.name] = {}
        for tool in incident.tools:
            rng = random.Random(f"{seed}:{incident.name}:{tool}")
            generate = _GENERATORS[tool]
            templates: dict[bytes, Args] = {}
            for _ in range(TEMPLATES_PER_SLOT * 4):
                args = generate(rng, runbooks, articles)
                templates.setdefault(_identity(tool, args), args)
                if len(templates) == TEMPLATES_PER_SLOT:
                    break
            pools[incident.name][tool] = list(templates.values())
    return pools


def hot_keys(pools: Pools) -> Pools:
    """The hot set: the first ``HOT_KEYS_PER_SLOT`` templates of each cached tool of each incident."""
    return {
        incident: {tool: templates[:HOT_KEYS_PER_SLOT] for tool, templates in tools.items() if tool in CACHED_TOOLS}
        for incident, tools in pools.items()
    }


@functools.cache
def shared_pools() -> Pools:
    """The templates of the corpus, built once per process."""
    return build_pools(shared_corpus())


# --- drawing calls ----------------------------------------------------------------------------------------------


def _cold_search(template: Args, token: str) -> Args:
    context = template.get("context")
    return {**template, "context": {**context, "incident_id": token} if context else {"incident_id": token}}


def _cold_tree(template: Args, token: str) -> Args:
    return {**template, "alert_context": {**template["alert_context"], "incident_id": token}}


def _cold_query(template: Args, token: str) -> Args:
    return {**template, "query": f"{template['query']} {token}"}


_COLD: Final[dict[str, Callable[[Args, str], Args]]] = {
    "search_runbooks": _cold_search,
    "get_decision_tree": _cold_tree,
    "search_knowledge_base": _cold_query,
}


class Call(NamedTuple):
    tool: str
    arguments: Args
    tags: dict[str, str]


class _Slot:
    __slots__ = ("cold", "hot", "pool", "tool")

    def __init__(self, tool: str, hot: list[Args] | None, pool: list[Args]) -> None:
        self.tool = tool
        self.hot = hot
        """None for an uncached tool."""
        self.pool = pool
        self.cold = _COLD.get(tool) if hot is not None else None


class Mix:
    """Draws calls: (incident, tool) by weight, then hot or cold arguments. Everything is prepared here, once."""

    def __init__(self, hot: Pools, pools: Pools, hit_ratio: float, incidents: Sequence[Incident] = INCIDENTS) -> None:
        self.cold_probability = cold_probability(hit_ratio, incidents)
        self._slots: list[_Slot] = []
        self._bounds: list[float] = []
        total = 0.0
        for incident, tool, weight in _slot_weights(incidents):
            if tool in CACHED_TOOLS:
                keys = hot.get(incident.name, {}).get(tool)
                if not keys:
                    raise ValueError(f"no hot key for {incident.name}/{tool}")
                self._slots.append(_Slot(tool, keys, pools[incident.name][tool]))
            else:
                self._slots.append(_Slot(tool, None, pools[incident.name][tool]))
            total += weight
            self._bounds.append(total)
        self._total = total

    def draw(self, rng: random.Random, fresh: Callable[[], str]) -> Call:
        """One call; ``fresh()`` returns a token never returned before in this run."""
        random_ = rng.random
        slot = self._slots[min(bisect_right(self._bounds, random_() * self._total), len(self._slots) - 1)]
        hot = slot.hot
        if hot is None:
            pool = slot.pool
            return Call(slot.tool, pool[int(random_() * len(pool))], UNCACHED_TAGS)
        if slot.cold is not None and random_() < self.cold_probability:
            pool = slot.pool
            return Call(slot.tool, slot.cold(pool[int(random_() * len(pool))], fresh()), COLD_TAGS)
        return Call(slot.tool, hot[int(random_() * len(hot))], HOT_TAGS)


# --- the script side --------------------------------------------------------------------------------------------


class ToolOutcome(Protocol):
    @property
    def ok(self) -> bool: ...

    @property
    def error(self) -> str | None: ...

    @property
    def structured(self) -> Any: ...


class McpCaller(Protocol):
    async def call_tool(
        self, name: str, arguments: Mapping[str, Any], *, tags: Mapping[str, str] | None = None
    ) -> ToolOutcome: ...


class VirtualUser(Protocol):
    """What the traffic model uses of the engine's VU."""

    @property
    def id(self) -> int: ...

    @property
    def run_id(self) -> str: ...

    @property
    def data(self) -> Any: ...

    @property
    def rng(self) -> random.Random: ...

    @property
    def mcp(self) -> McpCaller: ...


def _succeeded(result: ToolOutcome) -> bool:
    return result.ok


CALL_SUCCEEDED: Final[dict[str, Callable[[ToolOutcome], bool]]] = {"tool call succeeded": _succeeded}
"""The check every iteration makes."""


class _VuState:
    __slots__ = ("count", "mix", "prefix", "rng")

    def __init__(self, mix: Mix, rng: random.Random, run_id: str, vu_id: int) -> None:
        self.mix = mix
        self.rng = rng
        run = hashlib.blake2b(run_id.encode(), digest_size=4).hexdigest()
        # One word to the services' tokenisers ([a-z0-9]+), unambiguous: hex has no 'v' or 'n'.
        self.prefix = f"inc{run}v{vu_id}n"
        self.count = 0

    def token(self) -> str:
        self.count += 1
        return f"{self.prefix}{self.count}"


class ScenarioTraffic:
    """One scenario's traffic: ``await warm(vu)`` in setup(), ``await send(vu)`` once per iteration."""

    def __init__(self, hit_ratio: float) -> None:
        cold_probability(hit_ratio)  # an impossible ratio fails when the script loads, not mid-run
        self.hit_ratio = hit_ratio
        self._vus: dict[int, _VuState] = {}
        self._mix: tuple[object, Mix] | None = None

    async def warm(self, vu: VirtualUser) -> dict[str, Any]:
        """Call every hot key once so it is cached before the phases start; returns setup()'s data.

        Hot keys that fail or find nothing are dropped (an empty answer is cached only briefly, so it would not stay
        hot). A slot left without any raises: the service is probably serving another corpus.
        """
        kept: Pools = {}
        calls = dropped = 0
        for incident, tools in hot_keys(shared_pools()).items():
            for tool, keys in tools.items():
                usable: list[Args] = []
                problem = None
                for args in keys:
                    calls += 1
                    problem = _warm_problem(tool, await vu.mcp.call_tool(tool, args, tags=WARM_TAGS))
                    if problem is None:
                        usable.append(args)
                    else:
                        dropped += 1
                        _log.warning("hot key dropped: %s %s: %s", tool, args, problem)
                if not usable:
                    raise RuntimeError(
                        f"no hot key of {incident}/{tool} could be warmed (last: {problem}); does the service serve"
                        f" the corpus at {corpus_dir()}? Set PP_CORPUS_DIR to the one it serves."
                    )
                kept.setdefault(incident, {})[tool] = usable
        return {"hot": kept, "warm_calls": calls, "dropped": dropped}

    async def send(self, vu: VirtualUser) -> ToolOutcome:
        state = self._vus.get(vu.id)
        if state is None:
            state = self._vus[vu.id] = _VuState(self._mix_for(vu.data), vu.rng, vu.run_id, vu.id)
        call = state.mix.draw(state.rng, state.token)
        return await vu.mcp.call_tool(call.tool, call.arguments, tags=call.tags)

    def _mix_for(self, data: Any) -> Mix:
        """The mix over setup()'s hot keys; without setup data (``--no-setup``), over the unwarmed hot set."""
        if self._mix is not None and self._mix[0] is data:
            return self._mix[1]
        pools = shared_pools()
        hot = _pools_of(data["hot"]) if isinstance(data, dict) and "hot" in data else hot_keys(pools)
        mix = Mix(hot, pools, self.hit_ratio)
        self._mix = (data, mix)
        return mix


def _pools_of(raw: Any) -> Pools:
    """Pools from JSON (setup()'s data, as it reaches a worker)."""
    return msgspec.convert(raw, Pools)


def _warm_problem(tool: str, result: ToolOutcome) -> str | None:
    if not result.ok:
        return result.error or "the call failed"
    if tool in ("search_runbooks", "search_knowledge_base"):
        structured = result.structured
        if isinstance(structured, dict) and structured.get("total_results") == 0:
            return "no results"
    return None
