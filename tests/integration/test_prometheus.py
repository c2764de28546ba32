"""A real Prometheus scrapes both services' /metrics, and PromQL over our histograms answers.

Prometheus is Debian's package (``.ci/static-checks.sh`` installs it in CI). Without it the test skips locally and
fails in CI, like the Redis tests.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.ports import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.support.http import JsonClient
    from tests.support.processes import Stack

pytestmark = pytest.mark.redis

QUERY = "histogram_quantile(0.95, sum by (le) (rate(http_server_request_duration_seconds_bucket[1m])))"


def prometheus_binary() -> str:
    binary = shutil.which("prometheus")
    if binary is None:
        message = "prometheus is not installed (apt-get install prometheus)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return binary


@pytest.fixture
def prometheus(stack: Stack, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """Prometheus scraping both services every second; yields its port and its log file."""
    binary = prometheus_binary()
    targets = ", ".join(f"'127.0.0.1:{port}'" for port in (stack.gateway.port, stack.retrieval.port))
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"scrape_configs:\n  - job_name: pp\n    static_configs:\n      - targets: [{targets}]\n"
    )
    port = free_port()
    log_path = tmp_path / "prometheus.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield port, log_path
    finally:
        proc.terminate()
        proc.wait(10)


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
