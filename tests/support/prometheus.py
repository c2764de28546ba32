"""A real Prometheus for tests: Debian's ``prometheus`` binary scraping the given targets, on a free port.

``.ci/static-checks.sh`` installs it in CI; without it a test skips locally and fails in CI, like the Redis tests.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from tests.support.ports import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from pathlib import Path

__all__ = ("PrometheusProcess", "prometheus_binary", "run_prometheus")


def prometheus_binary() -> str:
    binary = shutil.which("prometheus")
    if binary is None:
        message = "prometheus is not installed (apt-get install prometheus)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return binary


@dataclass(frozen=True)
class PrometheusProcess:
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


def _wait_ready(prometheus: PrometheusProcess, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prometheus exited with {proc.returncode}:\n{prometheus.log()}")
        try:
            with urllib.request.urlopen(f"{prometheus.url}/-/ready", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"prometheus not ready after {timeout_s}s:\n{prometheus.log()}")


@contextlib.contextmanager
def run_prometheus(
    jobs: Mapping[str, Sequence[str]],
    workdir: Path,
    *,
    scrape_interval: str = "1s",
    wait_ready: bool = False,
    ready_timeout_s: float = 30.0,
) -> Iterator[PrometheusProcess]:
    """Prometheus scraping each job's ``host:port`` targets; stopped (then killed) on exit.

    ``wait_ready`` polls ``/-/ready`` before yielding; without it, callers poll the query API themselves.
    """
    binary = prometheus_binary()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    lines = [f"global:\n  scrape_interval: {scrape_interval}\n  evaluation_interval: {scrape_interval}\n"]
    lines.append("scrape_configs:\n")
    for job, targets in jobs.items():
        listed = ", ".join(f"'{target}'" for target in targets)
        lines.append(f"  - job_name: {job}\n    static_configs:\n      - targets: [{listed}]\n")
    config.write_text("".join(lines))
    prometheus = PrometheusProcess(free_port(), workdir / "prometheus.log")
    with prometheus.log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prometheus.port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        if wait_ready:
            _wait_ready(prometheus, proc, ready_timeout_s)
        yield prometheus
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
