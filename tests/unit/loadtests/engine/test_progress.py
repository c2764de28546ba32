"""Live progress: a rich table on a terminal, plain periodic lines otherwise — from a real coordinator's state."""

from __future__ import annotations

import io
import textwrap
import time

from loadtests.engine.coordinator import Coordinator, RunConfig
from loadtests.metrics import Registry
from loadtests.output.progress import Progress


def _coordinator(tmp_path) -> Coordinator:
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            """
            options = {"scenarios": {
                "storm": {"executor": "constant-arrival-rate", "rate": 30, "duration": "5m", "preAllocatedVUs": 5},
                "later": {"executor": "constant-vus", "vus": 2, "duration": "1m", "startTime": "10m"},
            }}
            async def default(vu):
                pass
            """
        )
    )
    coordinator = Coordinator(RunConfig(script=str(script), workers=1))
    registry = Registry()
    for _ in range(40):
        registry.trend("http_req_duration", {"scenario": "storm"}).add(12.5)
        registry.rate("http_req_failed", {"scenario": "storm"}).add(False)
    registry.rate("http_req_failed", {"scenario": "storm"}).add(True)
    registry.trend("http_req_duration", {"scenario": "storm"}).add(900.0)
    report = registry.drain(time.time())
    coordinator.aggregate.merge_report(report)
    coordinator.started_unix = time.time() - 42
    return coordinator


def test_plain_lines_name_each_running_scenario_with_its_figures(tmp_path):
    coordinator = _coordinator(tmp_path)
    out = io.StringIO()
    progress = Progress(stream=out, live=False, plain_every_s=0.0)
    with progress:
        progress.tick(coordinator)
    text = out.getvalue()
    assert "storm: running 42s/5m0s" in text
    assert "reqs=41" in text and "errors=1" in text and "p95=" in text
    assert "later" not in text  # not started yet: no line for it


def test_the_terminal_table_shows_every_scenario(tmp_path):
    coordinator = _coordinator(tmp_path)
    out = io.StringIO()
    progress = Progress(stream=out, live=True)
    with progress:
        progress.tick(coordinator)
    text = out.getvalue()
    assert "storm" in text and "later" in text and "waiting" in text
    assert coordinator.config.run_id in text
