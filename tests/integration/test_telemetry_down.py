"""With the collector down, the services keep answering and the span buffer stays bounded (drops are counted)."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

import pytest

from tests.support.ports import free_port
from tests.support.processes import gateway_process, retrieval_process

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.support.http import JsonClient
    from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.redis

BUFFER = 256
DROPPED = re.compile(rb"^pp_telemetry_spans_dropped(?:_total)?(?:\{[^}]*\})? ([0-9.e+]+)$", re.MULTILINE)


@pytest.fixture
def services(tmp_path: Path, redis_url: str, redis_prefix: str) -> Iterator[tuple[ServiceProcess, ServiceProcess]]:
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens: every export fails
    telemetry = {"OTEL_EXPORTER_OTLP_ENDPOINT": nowhere, "PP_SPAN_BUFFER": str(BUFFER)}
    retrieval = retrieval_process(tmp_path / "retrieval.log", redis_url, redis_prefix, tmp_path, telemetry)
    gateway = None
    try:
        retrieval.start()
        gateway = gateway_process(tmp_path / "gateway.log", retrieval.url, telemetry)
        gateway.start()
        yield retrieval, gateway
    finally:
        for service in (gateway, retrieval):
            if service is not None:
                service.stop()


async def dropped(http: JsonClient, service: ServiceProcess) -> float:
    async with http.session.get(service.url + "/metrics") as response:
        found = DROPPED.search(await response.read())
    assert found, "the dropped-span counter is not exported"
    return float(found.group(1))


async def test_requests_succeed_and_spans_are_dropped_not_hoarded(
    services: tuple[ServiceProcess, ServiceProcess], http: JsonClient
) -> None:
    _, gateway = services
    body = {"alert_type": "disk_full", "severity": "high", "affected_systems": ["postgres"]}

    async def one(n: int) -> int:
        arguments = {**body, "context": {"n": n % 50}}
        reply = await http.post(gateway.url + "/mcp/call", {"tool": "search_runbooks", "arguments": arguments})
        return reply.status

    statuses: list[int] = []
    for start in range(0, 2000, 100):
        statuses += await asyncio.gather(*(one(n) for n in range(start, start + 100)))
    assert statuses == [200] * 2000
    # Each call makes 3 gateway spans; far more than the buffer holds could ever be shipped to a dead collector.
    assert await dropped(http, gateway) > 0
