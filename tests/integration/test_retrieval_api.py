"""The retrieval service as a real process on the shipped corpus and a real Redis: every tool over HTTP."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import pytest
import redis.asyncio as aioredis

from services.retrieval.schemas import TOOL_PATHS

if TYPE_CHECKING:
    from tests.support.http import JsonClient
    from tests.support.processes import ServiceProcess, StartRetrieval

pytestmark = pytest.mark.redis

MEMORY_ALERT = {"alert_type": "memory_pressure", "severity": "high", "affected_systems": ["java-app"]}


@pytest.fixture
def retrieval(start_retrieval: StartRetrieval) -> ServiceProcess:
    return start_retrieval()


async def wait_for_keys(redis_url: str, prefix: str, within: float = 10.0) -> None:
    client = aioredis.from_url(redis_url)
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            if [key async for key in client.scan_iter(match=prefix + "*")]:
                return
            await asyncio.sleep(0.02)
    finally:
        await client.aclose()
    raise AssertionError(f"no key under {prefix!r} reached Redis")


def url(service: ServiceProcess, tool: str) -> str:
    return service.url + TOOL_PATHS[tool]


async def test_search_runbooks_ranks_and_scores(retrieval: ServiceProcess, http: JsonClient) -> None:
    reply = await http.post(url(retrieval, "search_runbooks"), MEMORY_ALERT)
    assert reply.status == 200
    matches = reply.body["runbooks"]
    assert matches, "memory_pressure must find runbooks"
    assert "memory_pressure" in matches[0]["runbook"]["alert_types"]
    scores = [m["score"] for m in matches]
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= s <= 1 for s in scores)
    assert any("memory_pressure" in reason for reason in matches[0]["match_reasons"])
    assert reply.body["total_results"] >= len(matches)


async def test_cache_tiers_and_key_normalisation(retrieval: ServiceProcess, http: JsonClient) -> None:
    first = await http.post(url(retrieval, "search_runbooks"), MEMORY_ALERT)
    again = await http.post(url(retrieval, "search_runbooks"), MEMORY_ALERT)
    reordered = {"severity": "high", "affected_systems": [" Java-App"], "alert_type": "Memory_Pressure"}
    shuffled = await http.post(url(retrieval, "search_runbooks"), reordered)
    assert (first.cache, again.cache, shuffled.cache) == ("miss", "l1", "l1")
    assert first.body == again.body == shuffled.body


async def test_second_instance_is_served_from_redis(
    start_retrieval: StartRetrieval, http: JsonClient, redis_url: str, redis_prefix: str
) -> None:
    one, two = start_retrieval(), start_retrieval()
    body = {"query": "certificate renewal", "max_results": 3}
    filled = await http.post(url(one, "search_knowledge_base"), body)
    await wait_for_keys(redis_url, redis_prefix)  # the L2 write follows the answer; don't race it
    shared = await http.post(url(two, "search_knowledge_base"), body)
    promoted = await http.post(url(two, "search_knowledge_base"), body)
    assert (filled.cache, shared.cache, promoted.cache) == ("miss", "l2", "l1")
    assert filled.body == shared.body


async def test_decision_tree_picks_runbook_and_branch(retrieval: ServiceProcess, http: JsonClient) -> None:
    context = {"alert_type": "memory_pressure", "severity": "critical", "system": "java-app", "memory_percent": 97}
    reply = await http.post(url(retrieval, "get_decision_tree"), {"alert_context": context})
    assert reply.status == 200
    body = reply.body
    assert body["decision_tree"]["branches"]
    assert len(body["evaluations"]) == len(body["decision_tree"]["branches"])
    assert 0 < body["confidence"] <= 1
    if body["recommended_branch"] is not None:
        assert body["recommended_action"] == body["recommended_branch"]["action"]
    else:
        assert body["recommended_action"] == body["decision_tree"]["default_action"]


async def test_procedure_lookup_and_not_found(retrieval: ServiceProcess, http: JsonClient) -> None:
    search = await http.post(url(retrieval, "search_runbooks"), MEMORY_ALERT)
    runbook = search.body["runbooks"][0]["runbook"]
    step = runbook["procedures"][-1]
    reply = await http.post(url(retrieval, "get_procedure"), {"runbook_id": runbook["id"], "step_name": step["name"]})
    assert reply.status == 200
    assert reply.body["procedure"] == step
    missing = await http.post(url(retrieval, "get_procedure"), {"runbook_id": runbook["id"], "step_name": "nope"})
    assert missing.status == 404
    assert missing.body["error"] == "not_found"
    assert step["id"] in missing.body["message"]


async def test_escalation_path_follows_roster(retrieval: ServiceProcess, http: JsonClient) -> None:
    calm = await http.post(url(retrieval, "get_escalation_path"), {"severity": "low", "business_hours": True})
    tried = await http.post(
        url(retrieval, "get_escalation_path"),
        {"severity": "low", "business_hours": True, "failed_attempts": ["restart", "rollback"]},
    )
    assert calm.status == tried.status == 200
    assert calm.body["path"][0]["level"] < tried.body["path"][0]["level"]
    assert calm.body["procedure"]


async def test_knowledge_base_filters(retrieval: ServiceProcess, http: JsonClient) -> None:
    reply = await http.post(
        url(retrieval, "search_knowledge_base"), {"query": "ssl certificate expired", "max_results": 2}
    )
    assert reply.status == 200
    assert len(reply.body["results"]) == 2
    assert reply.body["total_results"] >= 2
    top = reply.body["results"][0]
    assert "certificate" in (top["title"] + " ".join(top["tags"])).lower()
    category = top["category"]
    only = await http.post(
        url(retrieval, "search_knowledge_base"), {"query": "ssl certificate expired", "categories": [category.upper()]}
    )
    assert only.body["results"]
    assert all(category in [r["category"], *r["tags"]] for r in only.body["results"])
    assert only.body["total_results"] < reply.body["total_results"]


async def test_feedback_updates_success_rate_seen_by_cached_search(retrieval: ServiceProcess, http: JsonClient) -> None:
    before = await http.post(url(retrieval, "search_runbooks"), MEMORY_ALERT)
    runbook = before.body["runbooks"][0]["runbook"]
    feedback = {
        "runbook_id": runbook["id"],
        "procedure_id": runbook["procedures"][0]["id"],
        "outcome": "failure",
        "resolution_time_minutes": 42,
    }
    recorded = await http.post(url(retrieval, "record_resolution_feedback"), feedback)
    assert recorded.status == 200
    assert recorded.body["feedback_count"] == 1
    assert recorded.body["success_rate"] < runbook["metadata"]["success_rate"]
    after = await http.post(url(retrieval, "search_runbooks"), MEMORY_ALERT)
    assert after.cache == "l1"
    same = next(m["runbook"] for m in after.body["runbooks"] if m["runbook"]["id"] == runbook["id"])
    assert same["metadata"]["feedback_count"] == 1
    assert same["metadata"]["success_rate"] == recorded.body["success_rate"]


async def test_list_sources_reports_counts_and_health(retrieval: ServiceProcess, http: JsonClient) -> None:
    reply = await http.post(url(retrieval, "list_sources"), {})
    sources = {s["name"]: s for s in reply.body["sources"]}
    assert sources["runbooks"]["document_count"] >= 200
    assert sources["knowledge_base"]["document_count"] >= 60
    assert all(s["health"]["healthy"] for s in sources.values())
    bare = await http.post(url(retrieval, "list_sources"), {"include_health": False})
    assert all(s["health"] is None for s in bare.body["sources"])


@pytest.mark.parametrize(
    ("tool", "body", "names"),
    [
        ("search_runbooks", {"alert_type": 5, "severity": "high", "affected_systems": []}, "$.alert_type"),
        ("search_runbooks", {"alert_type": "x", "severity": "urgent", "affected_systems": []}, "$.severity"),
        ("search_runbooks", {"alert_type": "x", "severity": "high"}, "affected_systems"),
        ("search_runbooks", {"alert_type": "x", "severity": "high", "affected_systems": [], "typo": 1}, "typo"),
        ("get_decision_tree", {"alert_context": "memory"}, "$.alert_context"),
        ("get_procedure", {"runbook_id": "x"}, "step_name"),
        ("get_escalation_path", {"severity": "high", "business_hours": "yes"}, "$.business_hours"),
        ("list_sources", {"include_health": 1}, "$.include_health"),
        ("search_knowledge_base", {"query": "x", "max_results": 0}, "$.max_results"),
        ("record_resolution_feedback", {"runbook_id": "x", "procedure_id": "y", "outcome": "meh"}, "outcome"),
    ],
    ids=[
        "wrong-type",
        "bad-enum",
        "missing-field",
        "unknown-field",
        "tree-context-not-object",
        "procedure-missing-step",
        "escalation-bool",
        "sources-bool",
        "kb-range",
        "feedback-enum",
    ],
)
async def test_bad_input_is_400_naming_the_field(
    retrieval: ServiceProcess, http: JsonClient, tool: str, body: dict[str, object], names: str
) -> None:
    reply = await http.post(url(retrieval, tool), body)
    assert reply.status == 400
    assert reply.body["error"] == "invalid_request"
    assert names in reply.body["message"]


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"text"'], ids=["broken", "array", "string"])
async def test_malformed_bodies_are_400(retrieval: ServiceProcess, http: JsonClient, raw: bytes) -> None:
    reply = await http.post(url(retrieval, "search_runbooks"), raw=raw)
    assert reply.status == 400


async def test_unknown_runbook_is_404(retrieval: ServiceProcess, http: JsonClient) -> None:
    feedback = {"runbook_id": "rb-nope", "procedure_id": "x", "outcome": "success", "resolution_time_minutes": 1}
    reply = await http.post(url(retrieval, "record_resolution_feedback"), feedback)
    assert reply.status == 404
    assert "rb-nope" in reply.body["message"]
    tree = await http.post(url(retrieval, "get_decision_tree"), {"alert_context": {}, "runbook_id": "rb-nope"})
    assert tree.status == 404


async def test_health_and_ready(retrieval: ServiceProcess, http: JsonClient) -> None:
    health = await http.get(retrieval.url + "/health")
    assert health.status == 200
    assert {c["name"] for c in health.body["checks"]} == {"redis", "corpus", "feedback"}
    ready = await http.get(retrieval.url + "/ready")
    assert ready.status == 200


async def test_health_is_503_without_redis_but_tools_answer(start_retrieval: StartRetrieval, http: JsonClient) -> None:
    from tests.support.ports import free_port

    service = start_retrieval({"PP_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    health = await http.get(service.url + "/health")
    assert health.status == 503
    assert health.body["status"] == "degraded"
    reply = await http.post(url(service, "search_runbooks"), MEMORY_ALERT)
    assert reply.status == 200
    assert reply.body["runbooks"]
