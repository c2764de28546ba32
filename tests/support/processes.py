"""Starting the project's services as real processes on free ports.

A process is polled for readiness with a deadline, stopped (then killed) in ``finally``, and its log is attached
to every failure, so a service that dies at start-up says why in the test report.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


class ServiceProcess:
    """One service run with ``python -m <module>``; ``start``/``stop``/``kill`` may be repeated (same port)."""

    def __init__(self, module: str, port_var: str, env: Mapping[str, str], log_path: Path) -> None:
        self.module = module
        self.port = free_port()
        self.env = {**os.environ, **env, port_var: str(self.port), "PYTHONUNBUFFERED": "1"}
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, timeout: float = 30.0, ready_path: str = "/ready") -> ServiceProcess:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.module], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.module} exited with {self.proc.returncode} at start-up:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + ready_path, timeout=1) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"{self.module} not ready after {timeout}s:\n{self.log()}")

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


StartRetrieval = Callable[..., ServiceProcess]


@pytest.fixture
def start_retrieval(tmp_path: Path, redis_url: str, redis_prefix: str) -> Iterator[StartRetrieval]:
    """Start retrieval services; by default on the shared test Redis with this test's key prefix."""
    started: list[ServiceProcess] = []

    def start(env: Mapping[str, str] | None = None, data_dir: Path | None = None) -> ServiceProcess:
        merged = {
            "PP_REDIS_URL": redis_url,
            "PP_REDIS_KEY_PREFIX": redis_prefix,
            "PP_DATA_DIR": str(data_dir or tmp_path / "data"),
            "PP_LOG_LEVEL": "INFO",
            **(env or {}),
        }
        service = ServiceProcess(
            "services.retrieval", "PP_RETRIEVAL_PORT", merged, tmp_path / f"retrieval-{len(started)}.log"
        )
        started.append(service)
        return service.start()

    try:
        yield start
    finally:
        for service in started:
            service.stop()
