"""The incident mix, the arguments it sends and the hot/cold split that realises a cache-hit ratio."""

from __future__ import annotations

import random
from typing import Annotated, Any, Literal

import msgspec
import pytest

from loadtests.scenarios import traffic
from loadtests.scenarios.traffic import (
    ALWAYS_HOT,
    CACHED_TOOLS,
    HOT_KEYS_PER_SLOT,
    INCIDENTS,
    Mix,
    ScenarioTraffic,
    build_pools,
    cold_probability,
    hot_keys,
    shared_pools,
    tool_shares,
)

DRAWS = 10_000

# --- local copies of the tool argument rules (services/retrieval/schemas.py; loadtests may not import services) ---

Severity = Literal["critical", "high", "medium", "low", "info"]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Scalar = str | int | float | bool | None
Json = dict[str, Scalar | list[Scalar]]


class SearchRunbooks(msgspec.Struct, forbid_unknown_fields=True):
    alert_type: ShortText
    severity: Severity
    affected_systems: Annotated[list[Annotated[str, msgspec.Meta(max_length=200)]], msgspec.Meta(max_length=50)]
    context: Json | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=50)] = 3


class DecisionTree(msgspec.Struct, forbid_unknown_fields=True):
    alert_context: Json
    current_agent_state: dict[str, list[str]] | None = None
    runbook_id: Name | None = None


class Procedure(msgspec.Struct, forbid_unknown_fields=True):
    runbook_id: Name
    step_name: Name
    current_context: Json | None = None


class Escalation(msgspec.Struct, forbid_unknown_fields=True):
    severity: Severity
    business_hours: bool
    failed_attempts: Annotated[list[str], msgspec.Meta(max_length=50)] = []
    runbook_id: Name | None = None
    alert_type: ShortText | None = None


class KnowledgeBase(msgspec.Struct, forbid_unknown_fields=True):
    query: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    categories: Annotated[list[str], msgspec.Meta(max_length=20)] | None = None
    max_age_days: Annotated[int, msgspec.Meta(ge=1, le=36_500)] | None = None
    max_results: Annotated[int, msgspec.Meta(ge=1, le=100)] = 10


class Feedback(msgspec.Struct, forbid_unknown_fields=True):
    runbook_id: Name
    procedure_id: Name
    outcome: Literal["success", "partial_success", "failure", "escalated"]
    resolution_time_minutes: Annotated[float, msgspec.Meta(ge=0, le=100_000)]
    notes: Annotated[str, msgspec.Meta(max_length=4_000)] | None = None


SCHEMAS: dict[str, type[msgspec.Struct]] = {
    "search_runbooks": SearchRunbooks,
    "get_decision_tree": DecisionTree,
    "get_procedure": Procedure,
    "get_escalation_path": Escalation,
    "search_knowledge_base": KnowledgeBase,
    "record_resolution_feedback": Feedback,
}


def identity(tool: str, args: dict[str, Any]) -> str:
    """Exact JSON of a call: equal identities are certainly the same cache key, distinct cold ones never collide."""
    return tool + msgspec.json.encode(args, order="sorted").decode()


class Tokens:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return f"incabcdv1n{self.count}"


def draws(hit_ratio: float, seed: int = 7, n: int = DRAWS) -> list[traffic.Call]:
    pools = shared_pools()
    mix = Mix(hot_keys(pools), pools, hit_ratio)
    rng = random.Random(seed)
    fresh = Tokens()
    return [mix.draw(rng, fresh) for _ in range(n)]


# --- the mix ------------------------------------------------------------------------------------------------------


def test_shares_follow_incident_and_tool_weights():
    shares = tool_shares()
    assert sum(shares.values()) == pytest.approx(1.0)
    # 0.25·0.4 + 0.30·0.5 + 0.35·0.3 + 0.10·0.4: every incident feeds search_runbooks by its own weight.
    assert shares["search_runbooks"] == pytest.approx(0.395)
    assert shares["search_knowledge_base"] == pytest.approx(0.35 * 0.4)
    assert shares["record_resolution_feedback"] == pytest.approx(0.10 * 0.3)
    assert "list_sources" not in shares


def test_draws_match_the_intended_tool_distribution():
    counts: dict[str, int] = {}
    for call in draws(0.5):
        counts[call.tool] = counts.get(call.tool, 0) + 1
    expected = {tool: share * DRAWS for tool, share in tool_shares().items()}
    assert set(counts) == set(expected)
    chi2 = sum((counts[tool] - e) ** 2 / e for tool, e in expected.items())
    assert chi2 < 20.5  # 5 degrees of freedom, p = 0.001


def test_a_uniform_incident_choice_would_be_told_apart():
    """The chi-square bound above is tight enough to catch the original's bug (incident drawn uniformly)."""
    uniform = [msgspec.structs.replace(incident, weight=1.0) for incident in INCIDENTS]
    shares = tool_shares(uniform)
    expected = tool_shares()
    chi2 = sum((shares[tool] * DRAWS - e * DRAWS) ** 2 / (e * DRAWS) for tool, e in expected.items())
    assert chi2 > 100


# --- arguments ----------------------------------------------------------------------------------------------------


def test_every_template_and_every_drawn_call_is_valid_for_its_tool():
    for tools in shared_pools().values():
        for tool, templates in tools.items():
            assert len(templates) >= HOT_KEYS_PER_SLOT
            for args in templates:
                msgspec.convert(args, SCHEMAS[tool])
    for call in draws(0.3, n=3_000):
        msgspec.json.decode(msgspec.json.encode(call.arguments), type=SCHEMAS[call.tool])


def test_arguments_come_from_the_incidents_corpus_documents():
    pools = shared_pools()
    memory = pools["memory_pressure"]["search_runbooks"]
    assert all("mem" in args["alert_type"] or "oom" in args["alert_type"] for args in memory)
    security_steps = {args["procedure_id"] for args in pools["security_incident"]["record_resolution_feedback"]}
    assert security_steps  # step ids of real runbooks: the service would 404 an invented one
    assert {args["runbook_id"][:3] for args in pools["security_incident"]["record_resolution_feedback"]} == {"rb-"}


def test_templates_are_deterministic_and_distinct():
    from loadtests.scenarios.corpus import shared_corpus

    again = build_pools(shared_corpus())
    assert again == shared_pools()
    for tools in again.values():
        for tool, templates in tools.items():
            ids = {identity(tool, args) for args in templates}
            assert len(ids) == len(templates)


# --- hot and cold keys ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("hit_ratio", [0.8, 0.7, 0.5, 0.3, 0.2])
def test_hot_and_cold_realise_the_hit_ratio_over_cached_tools(hit_ratio: float):
    hot_set = {
        identity(tool, args) for tools in hot_keys(shared_pools()).values() for tool, keys in tools.items()
        for args in keys
    }  # fmt: skip
    seen_cold: set[str] = set()
    hot_seen: dict[str, int] = {}
    cached = hot = 0
    for call in draws(hit_ratio):
        key = identity(call.tool, call.arguments)
        if call.tool not in CACHED_TOOLS:
            assert call.tags == {"cache": "none"}
            continue
        cached += 1
        if call.tags == {"cache": "hot"}:
            hot += 1
            assert key in hot_set
            hot_seen[key] = hot_seen.get(key, 0) + 1
        else:
            assert call.tags == {"cache": "cold"}
            assert call.tool not in ALWAYS_HOT
            assert key not in hot_set
            assert key not in seen_cold, "a cold key repeated: it would be a cache hit"
            seen_cold.add(key)
    assert hot / cached == pytest.approx(hit_ratio, abs=0.02)
    assert max(hot_seen.values()) > 1  # hot keys really repeat


def test_cold_keys_differ_in_a_field_the_cache_key_includes():
    for call in draws(0.2, n=2_000):
        if call.tags != {"cache": "cold"}:
            continue
        args = call.arguments
        if call.tool == "search_runbooks":
            assert args["context"]["incident_id"].startswith("inc")
        elif call.tool == "get_decision_tree":
            assert args["alert_context"]["incident_id"].startswith("inc")
        else:
            assert call.tool == "search_knowledge_base"
            assert args["query"].split()[-1].startswith("inc")


def test_cold_probability_compensates_for_the_always_hot_tool():
    shares = tool_shares()
    cached = sum(shares[t] for t in CACHED_TOOLS)
    for h in (0.8, 0.5, 0.2):
        p = cold_probability(h)
        misses = p * sum(shares[t] for t in CACHED_TOOLS - ALWAYS_HOT)
        assert misses / cached == pytest.approx(1 - h)
    assert cold_probability(1.0) == 0.0
    with pytest.raises(ValueError, match="cannot go below"):
        cold_probability(0.1)
    with pytest.raises(ValueError, match="between 0 and 1"):
        cold_probability(1.5)


# --- setup and iterations, with a fake VU -------------------------------------------------------------------------


class FakeResult:
    def __init__(self, ok: bool = True, structured: Any = None, error: str | None = None) -> None:
        self.ok = ok
        self.structured = structured if structured is not None else {"total_results": 1}
        self.error = error


class FakeMcp:
    def __init__(self, answer: Any = None) -> None:
        self.calls: list[tuple[str, dict[str, Any], dict[str, str] | None]] = []
        self.answer = answer or (lambda tool, args: FakeResult())

    async def call_tool(self, name: str, arguments: Any, *, tags: Any = None) -> FakeResult:
        self.calls.append((name, arguments, tags))
        result: FakeResult = self.answer(name, arguments)
        return result


class FakeVu:
    def __init__(self, vu_id: int, mcp: FakeMcp, data: Any = None, run_id: str = "run-1") -> None:
        self.id = vu_id
        self.run_id = run_id
        self.data = data
        self.rng = random.Random(vu_id)
        self.mcp = mcp


async def test_setup_warms_every_hot_key_once_and_drops_unusable_ones():
    hot = hot_keys(shared_pools())
    dropped = hot["memory_pressure"]["search_runbooks"][0]

    def answer(tool: str, args: dict[str, Any]) -> FakeResult:
        return FakeResult(structured={"total_results": 0}) if args is dropped else FakeResult()

    mcp = FakeMcp(answer)
    data = await ScenarioTraffic(0.8).warm(FakeVu(0, mcp))
    warmed = [identity(tool, args) for tool, args, _ in mcp.calls]
    assert len(warmed) == len(set(warmed)) == traffic.warm_key_count()
    assert {tags["cache"] for _, _, tags in mcp.calls if tags} == {"warm"}
    assert data["dropped"] == 1
    assert dropped not in data["hot"]["memory_pressure"]["search_runbooks"]
    msgspec.json.encode(data)  # setup data must be JSON


async def test_setup_fails_loudly_when_a_slot_cannot_be_warmed():
    mcp = FakeMcp(lambda tool, args: FakeResult(ok=tool != "get_procedure", error="not_found"))
    with pytest.raises(RuntimeError, match="get_procedure could be warmed"):
        await ScenarioTraffic(0.8).warm(FakeVu(0, mcp))


async def test_send_uses_setup_hot_keys_and_unique_cold_tokens_per_vu():
    data = msgspec.json.decode(msgspec.json.encode(await ScenarioTraffic(0.2).warm(FakeVu(0, FakeMcp()))))
    only = {incident: {tool: keys[:1] for tool, keys in tools.items()} for incident, tools in data["hot"].items()}
    data["hot"] = only
    allowed = {identity(tool, keys[0]) for tools in only.values() for tool, keys in tools.items()}
    scenario = ScenarioTraffic(0.2)
    mcp = FakeMcp()
    vus = [FakeVu(1, mcp, data), FakeVu(2, mcp, data)]
    for i in range(2_000):
        await scenario.send(vus[i % 2])
    tokens = []
    for tool, args, tags in mcp.calls:
        assert tags is not None
        if tags["cache"] == "hot":
            assert identity(tool, args) in allowed
        elif tags["cache"] == "cold":
            tokens.append(msgspec.json.encode(args))
    assert len(tokens) == len(set(tokens)) > 500


async def test_runs_do_not_share_cold_keys():
    one, two = FakeMcp(), FakeMcp()
    for run, mcp in (("run-a", one), ("run-b", two)):
        scenario = ScenarioTraffic(0.2)
        for _ in range(300):
            await scenario.send(FakeVu(1, mcp, None, run_id=run))
    cold_a = {identity(t, a) for t, a, tags in one.calls if tags == {"cache": "cold"}}
    cold_b = {identity(t, a) for t, a, tags in two.calls if tags == {"cache": "cold"}}
    assert cold_a and cold_b and not cold_a & cold_b
