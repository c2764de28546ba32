"""Faults on the real dependencies: Redis killed and restarted under the service; the service SIGKILLed."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import pytest
import redis.asyncio as aioredis

from services.retrieval.schemas import TOOL_PATHS

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from tests.support.http import JsonClient
    from tests.support.processes import StartRetrieval
    from tests.support.redis import RedisServer

pytestmark = pytest.mark.redis


def alert(n: int) -> dict[str, object]:
    return {"alert_type": "disk_full", "severity": "high", "affected_systems": [f"host-{n}"]}


async def wait_for(predicate: Callable[[], Awaitable[bool]], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not reached before the deadline")


async def test_redis_stopped_mid_test_then_restarted(
    start_retrieval: StartRetrieval, redis_server: RedisServer, http: JsonClient
) -> None:
    service = start_retrieval({"PP_REDIS_URL": redis_server.url, "PP_REDIS_KEY_PREFIX": "pp:fault:"})
    search = service.url + TOOL_PATHS["search_runbooks"]
    assert (await http.post(search, alert(0))).cache == "miss"
    assert (await http.post(search, alert(0))).cache == "l1"

    redis_server.kill()
    for n in range(1, 30):  # new keys need Redis and must not fail without it
        reply = await http.post(search, alert(n))
        assert reply.status == 200
        assert reply.body["runbooks"]
    assert (await http.post(search, alert(0))).cache == "l1"
    assert (await http.get(service.url + "/health")).status == 503

    redis_server.start()

    async def healthy() -> bool:
        return (await http.get(service.url + "/health")).status == 200

    await wait_for(healthy)
    assert (await http.post(search, alert(100))).cache == "miss"
    client = aioredis.from_url(redis_server.url)

    async def written() -> bool:  # the L2 write follows the answer
        return bool([key async for key in client.scan_iter(match="pp:fault:*")])

    try:
        await wait_for(written)  # after Redis came back, new answers must be written to it again
    finally:
        await client.aclose()


async def test_feedback_survives_sigkill_right_after_ack(
    start_retrieval: StartRetrieval, http: JsonClient, tmp_path: Path
) -> None:
    data_dir = tmp_path / "durable"
    service = start_retrieval(data_dir=data_dir)
    found = await http.post(
        service.url + TOOL_PATHS["search_runbooks"],
        {"alert_type": "backup_failure", "severity": "high", "affected_systems": []},
    )
    runbook = found.body["runbooks"][0]["runbook"]
    feedback = {
        "runbook_id": runbook["id"],
        "procedure_id": runbook["procedures"][0]["id"],
        "outcome": "success",
        "resolution_time_minutes": 12.5,
        "notes": "worked",
    }
    acks = [await http.post(service.url + TOOL_PATHS["record_resolution_feedback"], feedback) for _ in range(3)]
    assert all(a.status == 200 for a in acks)
    service.kill()  # SIGKILL: no shutdown hook runs

    restarted = start_retrieval(data_dir=data_dir)
    sources = await http.post(restarted.url + TOOL_PATHS["list_sources"], {})
    feedback_source = next(s for s in sources.body["sources"] if s["name"] == "feedback")
    assert feedback_source["document_count"] == 3
    again = await http.post(
        restarted.url + TOOL_PATHS["search_runbooks"],
        {"alert_type": "backup_failure", "severity": "high", "affected_systems": []},
    )
    same = next(m["runbook"] for m in again.body["runbooks"] if m["runbook"]["id"] == runbook["id"])
    assert same["metadata"]["feedback_count"] == 3
    assert same["metadata"]["success_rate"] == acks[-1].body["success_rate"]
