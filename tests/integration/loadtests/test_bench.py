"""``bench --quick`` end to end on the embedded stack: every phase measured, written, and the stack stopped after.

The real launcher (``python -m services``, a private Redis), the real engine, a few seconds per phase. The figures
of a quick run mean little; what is checked is that each phase produced what it promises.
"""

from __future__ import annotations

import subprocess
import sys
import time

import msgspec
import psutil

from loadtests.bench.options import ALL_TOOLS, CRITICAL_TOOLS
from loadtests.bench.result import SCHEMA, BenchResult
from loadtests.scenarios.traffic import CACHED_TOOLS
from loadtests.validate.verdict import Verdict
from tests.integration.loadtests.conftest import ROOT

# Until `python -m loadtests bench` is wired in loadtests/cli.py, the subcommand's own entry point.
COMMAND = [sys.executable, "-m", "loadtests", "bench"]


def test_quick_bench_runs_every_phase_and_stops_the_stack(tmp_path):
    before = {p.pid for p in psutil.process_iter()}
    completed = subprocess.run(
        [*COMMAND, "--quick", "--reports", str(tmp_path), "--id", "it", "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert completed.returncode in (0, 1), completed.stdout + completed.stderr  # 1: a target missed on a busy box
    folder = tmp_path / "bench-it"
    result = msgspec.json.decode((folder / "bench.json").read_bytes(), type=BenchResult)
    assert result.schema == SCHEMA
    assert result.aborted is None
    assert result.embedded

    assert [p.name for p in result.phases] == ["warmup", "baseline", "load", "cache", "stress", "memory"]
    assert result.phase("warmup").excluded  # type: ignore[union-attr]

    baseline = result.phase("baseline")
    assert baseline is not None
    assert [t.tool for t in baseline.tools] == list(ALL_TOOLS)
    for tool in baseline.tools:
        expected = {"cold", "miss", "hit"} if tool.tool in CACHED_TOOLS else {"cold", "none"}
        assert set(tool.by_cache) == expected, tool.tool
        assert tool.by_cache["cold"].count == 1
        assert tool.latency.errors == 0, tool.errors_by_code
        assert all(s.p50_ms is not None and s.p50_ms > 0 for s in tool.by_cache.values())

    load = result.phase("load")
    assert load is not None and [t.tool for t in load.tools] == list(ALL_TOOLS)
    assert all(t.throughput_rps > 0 and t.vus == 16 for t in load.tools)
    stress = result.phase("stress")
    assert stress is not None and [t.tool for t in stress.tools] == list(CRITICAL_TOOLS)
    assert all(t.vus == 32 for t in stress.tools)

    # the cache improvement, per cached tool, checked against the service's own counters
    assert sorted(c.tool for c in result.cache) == sorted(CACHED_TOOLS)
    for improvement in result.cache:
        assert improvement.p50_ratio is not None and improvement.p50_saving_ms is not None
        assert improvement.miss.count == 5 and improvement.hit.count == 10
        assert improvement.server_hit_ratio is not None
        assert abs(improvement.server_hit_ratio - improvement.intended_hit_ratio) < 0.01, improvement.server

    memory = result.memory
    assert memory is not None
    assert {s.service for s in memory.services} == {"gateway", "retrieval"}
    for service in memory.services:
        assert service.samples >= 3 and service.rss_peak_mib is not None and service.rss_peak_mib > 10
        assert service.verdict == "insufficient"  # seconds say nothing about a leak, and the result says so

    capacity = result.capacity
    assert capacity is not None
    assert len(capacity.steps) >= 2
    assert all(s.requests > 0 and s.p99_ms is not None for s in capacity.steps)
    assert capacity.steps[0].offered_rps == 25.0

    verdict = msgspec.json.decode((folder / "verdict.json").read_bytes(), type=Verdict)
    assert verdict.run_id == "it" and verdict.capacity and verdict.targets
    assert "█ BASELINE" in completed.stdout and "knee" in completed.stdout
    assert (folder / "stack.log").exists()

    time.sleep(0.5)
    assert not [p for p in psutil.process_iter() if p.pid not in before and _started_for(p, str(tmp_path))]


def _started_for(process: psutil.Process, folder: str) -> bool:
    """A process of the stack started for this test: its environment points into the test's report folder.

    (Other sessions may run stacks of their own at the same time; only ours must be gone.)
    """
    try:
        return folder in process.environ().get("PP_RECEIVER_STORE", "")
    except (psutil.Error, OSError):
        return False
