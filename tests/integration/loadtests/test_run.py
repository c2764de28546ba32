"""``python -m loadtests run``: executors, thresholds, exit codes, lifecycle and the corrected latency, end to end.

Each test runs the real CLI (coordinator and aiomultiprocess workers) against a raw responder, and reads the JSON
summary it exports.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import msgspec
import psutil

from loadtests.output.results import Summary
from tests.integration.loadtests.conftest import ROOT, run_cli


async def test_arrival_rate_runs_exactly_the_scheduled_iterations_across_workers(tmp_path, responder):
    finished = await run_cli(
        tmp_path,
        """
        from loadtests import check
        options = {
            "scenarios": {"open": {"executor": "constant-arrival-rate", "rate": 100, "duration": "2s",
                                   "preAllocatedVUs": 4, "maxVUs": 10}},
            "thresholds": {"http_req_duration": ["p(95)<1000"], "checks": ["rate>0.99"]},
        }
        async def default(vu):
            r = await vu.http.get(vu.env["URL"])
            check(r, {"status is 200": lambda r: r.status == 200})
        """,
        "--workers",
        "2",
        env={"URL": f"http://127.0.0.1:{responder.port}/"},
    )
    assert finished.code == 0, finished.stderr
    assert finished.count("iterations") == 200  # 2 workers' shares make exactly the whole schedule
    assert finished.count("http_reqs") == 200
    assert finished.metric("http_req_duration")["count"] == 200
    assert finished.metric("http_req_duration_corrected")["count"] == 200
    assert finished.count("dropped_iterations") == 0
    assert responder.requests == 200
    summary = finished.summary
    assert summary is not None
    assert [(c.name, c.passes, c.fails) for c in summary.checks] == [("status is 200", 200, 0)]
    assert all(t.ok for t in summary.thresholds)
    assert summary.health.trustworthy, summary.health.reasons
    assert "✓ 'p(95)<1000'" in finished.stdout


async def test_a_failed_threshold_exits_99_and_says_which(tmp_path, responder):
    finished = await run_cli(
        tmp_path,
        """
        options = {
            "scenarios": {"s": {"executor": "shared-iterations", "vus": 2, "iterations": 20}},
            "thresholds": {"http_req_duration": ["p(99)<0.001", "max<60000"]},
        }
        async def default(vu):
            await vu.http.get(vu.env["URL"])
        """,
        "--workers",
        "1",
        env={"URL": f"http://127.0.0.1:{responder.port}/"},
    )
    assert finished.code == 99, finished.stderr
    assert finished.count("iterations") == 20
    assert "✗ 'p(99)<0.001'" in finished.stdout
    assert "✓ 'max<60000'" in finished.stdout
    assert finished.summary is not None
    assert [t.ok for t in finished.summary.thresholds] == [False, True]


async def test_abort_on_fail_stops_the_run_early(tmp_path, responder):
    finished = await run_cli(
        tmp_path,
        """
        from loadtests import Rate
        bad = Rate("always_bad")
        options = {
            "scenarios": {"s": {"executor": "constant-vus", "vus": 2, "duration": "60s"}},
            "thresholds": {"always_bad": [{"threshold": "rate<0.5", "abortOnFail": True, "delayAbortEval": "1s"}]},
        }
        async def default(vu):
            await vu.http.get(vu.env["URL"])
            bad.add(True)
        """,
        "--workers",
        "1",
        env={"URL": f"http://127.0.0.1:{responder.port}/"},
    )
    assert finished.code == 99, finished.stderr
    assert finished.summary is not None
    assert finished.summary.aborted is not None and "always_bad" in finished.summary.aborted
    assert finished.summary.duration_s < 20


async def test_closed_executors_do_their_counts(tmp_path, responder):
    finished = await run_cli(
        tmp_path,
        """
        options = {
            "scenarios": {
                "per_vu": {"executor": "per-vu-iterations", "vus": 3, "iterations": 5},
                "shared": {"executor": "shared-iterations", "vus": 4, "iterations": 30},
                "ramp": {"executor": "ramping-vus", "startVUs": 0, "gracefulRampDown": "1s",
                         "stages": [{"duration": "1s", "target": 4}, {"duration": "1s", "target": 0}]},
            },
        }
        async def default(vu):
            await vu.http.get(vu.env["URL"])
        """,
        "--workers",
        "2",
        env={"URL": f"http://127.0.0.1:{responder.port}/"},
    )
    assert finished.code == 0, finished.stderr
    summary = finished.summary
    assert summary is not None
    per_scenario = {
        name: int(summary.submetrics[f"http_req_duration{{scenario:{name}}}"].values.get("count", 0))
        for name in ("per_vu", "shared", "ramp")
    }
    assert per_scenario["per_vu"] == 15
    assert per_scenario["shared"] == 30
    assert per_scenario["ramp"] > 0


async def test_setup_data_reaches_every_vu_and_teardown(tmp_path, responder):
    marker = tmp_path / "teardown.json"
    finished = await run_cli(
        tmp_path,
        f"""
        import json
        from loadtests import check
        options = {{"scenarios": {{"s": {{"executor": "per-vu-iterations", "vus": 2, "iterations": 3}}}}}}
        def setup():
            return {{"token": "abc", "n": 3}}
        async def default(vu):
            check(vu.data, {{"data arrived": lambda d: d == {{"token": "abc", "n": 3}}}})
        def teardown(data):
            with open({str(marker)!r}, "w") as f:
                json.dump(data, f)
        """,
        "--workers",
        "2",
    )
    assert finished.code == 0, finished.stderr
    assert finished.summary is not None
    assert [(c.name, c.passes, c.fails) for c in finished.summary.checks] == [("data arrived", 6, 0)]
    assert msgspec.json.decode(marker.read_bytes()) == {"token": "abc", "n": 3}


async def test_a_stall_is_charged_to_the_corrected_latency_not_hidden(tmp_path, responder):
    """The server stalls 0.6 s while 100 iterations/s are due and only 2 VUs exist.

    Uncorrected latency sees a couple of slow requests (the ones in flight); the corrected latency charges every
    iteration that was due during the stall with its wait, as wrk2 does — so its tail shows the stall.
    """

    async def stall_once_running() -> None:  # a second into the run, however long the CLI took to start
        while responder.requests < 100:  # noqa: ASYNC110 - polling the responder the run is driving
            await asyncio.sleep(0.01)
        responder.stall(0.6)

    staller = asyncio.ensure_future(stall_once_running())
    finished = await run_cli(
        tmp_path,
        """
        options = {"scenarios": {"s": {"executor": "constant-arrival-rate", "rate": 100, "duration": "3s",
                                       "preAllocatedVUs": 2, "maxVUs": 2}}}
        async def default(vu):
            await vu.http.get(vu.env["URL"])
        """,
        "--workers",
        "1",
        env={"URL": f"http://127.0.0.1:{responder.port}/"},
    )
    assert staller.done()
    assert finished.code == 0, finished.stderr
    corrected = finished.metric("http_req_duration_corrected")
    uncorrected = finished.metric("http_req_duration")
    assert finished.count("dropped_iterations") == 0  # the backlog held them: started late, and charged
    assert corrected["count"] == 300
    assert corrected["max"] >= 500  # the first iteration due in the stall waited for all of it
    assert corrected["p(90)"] >= 100  # ~60 of 300 iterations were due during the stall: the tail shows it
    assert uncorrected["p(90)"] < 50  # from the actual send, the stall is a couple of samples only
    assert uncorrected["max"] >= 500


async def test_bad_input_gets_one_message_and_k6_codes(tmp_path):
    syntax = await run_cli(tmp_path, "options = {\nasync def default(vu): pass\n")
    assert syntax.code == 107
    assert "script.py:1" in syntax.stderr and "Traceback" not in syntax.stderr
    executor = await run_cli(
        tmp_path, 'options = {"scenarios": {"a": {"executor": "constant-vu"}}}\nasync def default(vu): pass\n'
    )
    assert executor.code == 104
    assert "unknown executor" in executor.stderr and "constant-vus" in executor.stderr
    option = await run_cli(
        tmp_path,
        'options = {"scenarios": {"a": {"executor": "constant-vus", "duration": "1s", "vu": 2}}}\n'
        "async def default(vu): pass\n",
    )
    assert option.code == 104 and '"vu"' in option.stderr
    threshold = await run_cli(
        tmp_path, 'options = {"thresholds": {"http_req_duration": ["p95<200"]}}\nasync def default(vu): pass\n'
    )
    assert threshold.code == 104 and "p95" in threshold.stderr
    unreachable = await run_cli(tmp_path, "async def default(vu): pass\n", "--target", "http://127.0.0.1:9/mcp")
    assert unreachable.code == 107 and "cannot reach the target" in unreachable.stderr
    for finished in (syntax, executor, option, threshold, unreachable):
        assert "Traceback" not in finished.stderr
        assert len(finished.stderr.strip().splitlines()) == 1, finished.stderr


async def test_iteration_exceptions_are_counted_with_their_line(tmp_path):
    finished = await run_cli(
        tmp_path,
        """
        options = {"scenarios": {"s": {"executor": "per-vu-iterations", "vus": 1, "iterations": 4}}}
        async def default(vu):
            if vu.iteration % 2:
                raise ValueError("odd iteration")
        """,
        "--workers",
        "1",
    )
    assert finished.code == 0, finished.stderr
    assert finished.summary is not None
    assert finished.summary.errors == {f"{tmp_path / 'script.py'}:5: ValueError: odd iteration": 2}
    assert "2 × " in finished.stdout


async def test_ctrl_c_stops_the_run_and_its_workers(tmp_path, responder):
    script = tmp_path / "long.py"
    script.write_text(
        'options = {"scenarios": {"s": {"executor": "constant-vus", "vus": 2, "duration": "5m"}}}\n'
        "async def default(vu):\n    await vu.http.get(vu.env['URL'])\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "loadtests", "run", str(script), "--quiet", "--workers", "2",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT,
        env={**os.environ, "URL": f"http://127.0.0.1:{responder.port}/"},
    )  # fmt: skip
    deadline = loop_time() + 30
    while responder.requests < 50 and loop_time() < deadline:  # noqa: ASYNC110 - polling another process's effect
        await asyncio.sleep(0.1)
    children = psutil.Process(proc.pid).children(recursive=True)
    assert len(children) >= 2
    proc.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 105, err.decode()
    assert "interrupted" in out.decode()
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive


def loop_time() -> float:
    return asyncio.get_running_loop().time()


async def test_shards_merge_into_the_whole_run(tmp_path, responder):
    script = """
        options = {"scenarios": {"s": {"executor": "constant-arrival-rate", "rate": 60, "duration": "2s",
                                       "preAllocatedVUs": 3}},
                   "thresholds": {"http_req_duration": ["p(99)<5000"]}}
        async def default(vu):
            await vu.http.get(vu.env["URL"])
        """
    env = {"URL": f"http://127.0.0.1:{responder.port}/"}
    parts = []
    for shard in ("1/2", "2/2"):
        (tmp_path / shard[0]).mkdir()
        finished = await run_cli(tmp_path / shard[0], script, "--shard", shard, "--workers", "1", env=env)
        assert finished.code == 0, finished.stderr
        parts.append(finished)
    assert [p.count("iterations") for p in parts] == [60, 60]  # every other iteration of the 120 scheduled
    merged_path = tmp_path / "merged.json"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "loadtests", "merge", str(tmp_path / "1" / "summary.json"),
        str(tmp_path / "2" / "summary.json"), "--output", str(merged_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    merged = msgspec.json.decode(merged_path.read_bytes(), type=Summary)
    assert int(merged.metrics["iterations"].values["count"]) == 120
    duration = merged.metrics["http_req_duration"].values
    assert int(duration["count"]) == 120
    assert duration["max"] == max(p.metric("http_req_duration")["max"] for p in parts)
    assert duration["min"] == min(p.metric("http_req_duration")["min"] for p in parts)
    assert len(merged.run_ids) == 2
    assert "✓ 'p(99)<5000'" in out.decode()


async def test_a_generator_that_cannot_keep_up_is_flagged_not_the_server(tmp_path, responder):
    """Iterations that block the worker's loop (CPU work in the script) make the run untrustworthy, and say why."""
    finished = await run_cli(
        tmp_path,
        """
        import time
        options = {"scenarios": {"s": {"executor": "constant-arrival-rate", "rate": 50, "duration": "2s",
                                       "preAllocatedVUs": 5}}}
        async def default(vu):
            await vu.http.get(vu.env["URL"])
            time.sleep(0.03)  # blocks the event loop: responses and schedules wait
        """,
        "--workers",
        "1",
        env={"URL": f"http://127.0.0.1:{responder.port}/"},
    )
    assert finished.code == 0, finished.stderr
    health = finished.summary.health if finished.summary else None
    assert health is not None and not health.trustworthy
    assert any("event loop lagged" in reason for reason in health.reasons)
    assert "NOT TRUSTWORTHY" in finished.stdout
