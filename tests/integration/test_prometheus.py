"""A real Prometheus scrapes both services' /metrics, and PromQL over our histograms answers.

Prometheus is Debian's package, started by ``tests.support.prometheus`` (it skips locally without it, fails in CI).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.prometheus import run_prometheus

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.support.http import JsonClient
    from tests.support.processes import Stack

pytestmark = pytest.mark.redis

QUERY = "histogram_quantile(0.95, sum by (le) (rate(http_server_request_duration_seconds_bucket[1m])))"


@pytest.fixture
def prometheus(stack: Stack, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """Prometheus scraping both services every second; yields its port and its log file."""
    targets = [f"127.0.0.1:{port}" for port in (stack.gateway.port, stack.retrieval.port)]
    with run_prometheus({"pp": targets}, tmp_path) as running:
        yield running.port, running.log_path


async def test_prometheus_scrapes_both_services(stack: Stack, http: JsonClient, prometheus: tuple[int, Path]) -> None:
    port, log_path = prometheus
    body = {"alert_type": "disk_full", "severity": "high", "affected_systems": ["postgres"]}
    deadline = time.monotonic() + 60
    result: list[Any] = []
    while time.monotonic() < deadline and not result:
        for _ in range(5):
            await http.post(stack.call_url, {"tool": "search_runbooks", "arguments": body})
        await asyncio.sleep(1)
        try:
            reply = await http.get(f"http://127.0.0.1:{port}/api/v1/query?query={QUERY}")
        except OSError:
            continue
        if reply.status == 200 and reply.body["status"] == "success":
            result = [r for r in reply.body["data"]["result"] if r["value"][1] not in ("NaN", "")]
    assert result, f"no p95 from Prometheus within 60 s:\n{log_path.read_text()[-3000:]}"
    assert float(result[0]["value"][1]) > 0
    up = await http.get(f"http://127.0.0.1:{port}/api/v1/query?query=up")
    assert sorted(r["value"][1] for r in up.body["data"]["result"]) == ["1", "1"]
