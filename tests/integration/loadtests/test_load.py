"""``just load normal`` on the embedded stack: started, loaded, reported, stopped — and every request traced.

The real recipe (``just load``), the real launcher (``python -m services``: receiver, retrieval, gateway, Redis as
``just serve`` picks it), the seed's ``normal`` scenario shortened with ``--duration``. The run's spans in the
receiver's store must carry its run id (the baggage every request sends), one trace per tool call.
"""

from __future__ import annotations

import shutil
import subprocess
import time

import msgspec
import psutil
import pytest

from loadtests.output.results import Summary
from loadtests.report import read_json
from otel.receiver.query import spans_of_run
from tests.integration.loadtests.conftest import ROOT

pytestmark = pytest.mark.redis


def test_just_load_normal_runs_reports_and_stops_the_stack(tmp_path):
    just = shutil.which("just")
    assert just is not None, "just is installed by the dev extra (rust-just)"
    before = {p.pid for p in psutil.process_iter()}
    completed = subprocess.run(
        [just, "load", "normal", "--duration", "10s", "--workers", "1", "--reports", str(tmp_path), "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert completed.returncode in (0, 1), completed.stdout + completed.stderr  # 1: the verdict failed a target
    (report_dir,) = list(tmp_path.iterdir())
    run_id = report_dir.name
    summary = msgspec.json.decode((report_dir / "summary.json").read_bytes(), type=Summary)
    assert summary.run_ids == [run_id]
    assert summary.exit_code == 0  # the run's own thresholds held
    assert all(t.ok for t in summary.thresholds), summary.thresholds
    calls = int(summary.metrics["mcp_tool_duration"].values["count"])
    errors = summary.metrics["mcp_tool_errors"].values
    assert calls > 30
    assert errors["passes"] == 0  # no failed tool call
    assert (report_dir / "results.jsonl").stat().st_size > 0
    assert "█ THRESHOLDS" in completed.stdout

    # the run judged itself: a verdict from the run's own spans, with its reports and exemplar traces
    assert "█ VALIDATION" in completed.stdout
    verdict = read_json(report_dir / "verdict.json")
    assert verdict.run_id == run_id
    assert verdict.exit_code in (0, 1)  # enough data for a verdict; pass or fail is the service's business
    assert not [g for g in verdict.quality if not g.ok and g.severity == "error"], verdict.quality
    assert (report_dir / "junit.xml").exists() and (report_dir / "report.html").exists()
    assert {e.label for e in verdict.exemplars} >= {"p50", "p95", "p99"}
    assert all((report_dir / e.file).exists() for e in verdict.exemplars if e.file)
    assert verdict.slowest_path is not None and verdict.slowest_path.traces > 0

    # every call is one trace in the receiver's store, found by the run id its baggage carried
    spans = spans_of_run(report_dir / "telemetry.sqlite3", run_id)
    # the gateway's server span is each trace's first stored span: its parent is the generator's request, which
    # the generator does not export
    roots = [s for s in spans if s.name == "POST /mcp" and s.service_name == "pp-gateway"]
    assert len(roots) == calls
    assert len({s.trace_id for s in roots}) == calls

    # and nothing the run started is left running
    time.sleep(0.5)
    leftovers = [
        p
        for p in psutil.process_iter(["pid", "cmdline"])
        if p.pid not in before and any(m in " ".join(p.info["cmdline"] or []) for m in ("services", "otel.receiver"))
    ]
    assert not leftovers, leftovers
