"""Starting the project's services as real processes on free ports.

A process is polled for readiness with a deadline, stopped (then killed) in ``finally``, and its log is attached
to every failure, so a service that dies at start-up says why in the test report.

Fixtures: ``start_retrieval`` and ``start_gateway`` (factories, per test: for tests that stop, kill or reconfigure
what they start) and ``stack`` (retrieval plus a gateway in front of it, per module: for tests that only make
requests). A module changes the stack's gateway settings by overriding the module-scoped ``gateway_env`` fixture.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

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

    def start(
        self, timeout: float = 30.0, ready_path: str = "/ready", ready_headers: Mapping[str, str] | None = None
    ) -> ServiceProcess:
        """Start (again, on the same port) and poll ``ready_path`` until it answers 200.

        ``ready_headers`` go with every poll, for a service that wants credentials even on its probes.
        """
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.module], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.module} exited with {self.proc.returncode} at start-up:\n{self.log()}")
            try:
                probe = urllib.request.Request(self.url + ready_path, headers=dict(ready_headers or {}))
                with urllib.request.urlopen(probe, timeout=1) as response:
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
StartGateway = Callable[..., ServiceProcess]


def retrieval_process(
    log_path: Path, redis_url: str, redis_prefix: str, data_dir: Path, env: Mapping[str, str] | None = None
) -> ServiceProcess:
    """A retrieval service (not started yet) on a free port, the given Redis and key prefix, and ``data_dir``."""
    merged = {
        "PP_REDIS_URL": redis_url,
        "PP_REDIS_KEY_PREFIX": redis_prefix,
        "PP_DATA_DIR": str(data_dir),
        "PP_LOG_LEVEL": "INFO",
        **(env or {}),
    }
    return ServiceProcess("services.retrieval", "PP_RETRIEVAL_PORT", merged, log_path)


GATEWAY_DEFAULTS = {"PP_API_TOKEN": "", "PP_ALLOWED_ORIGINS": "", "PP_GATEWAY_HOST": "127.0.0.1"}
"""Settings a developer's shell could leak into a test gateway; an empty value means the default."""


def gateway_process(log_path: Path, retrieval_url: str, env: Mapping[str, str] | None = None) -> ServiceProcess:
    """An MCP gateway (not started yet) on a free port, in front of the retrieval service at ``retrieval_url``."""
    merged = {**GATEWAY_DEFAULTS, "PP_RETRIEVAL_URL": retrieval_url, "PP_LOG_LEVEL": "INFO", **(env or {})}
    return ServiceProcess("services.gateway", "PP_GATEWAY_PORT", merged, log_path)


def start_gateway_process(service: ServiceProcess, timeout: float = 30.0) -> ServiceProcess:
    """Start a gateway, sending its bearer token (if it has one) with the readiness polls."""
    token = service.env.get("PP_API_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return service.start(timeout, ready_headers=headers)


def delete_prefix(redis_url: str, prefix: str) -> None:
    """Remove the keys under ``prefix`` (and only those) with SCAN, as ``redis_prefix`` does after a test."""
    client = redis.Redis.from_url(redis_url, socket_timeout=5.0, socket_connect_timeout=5.0)
    try:
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{prefix}*", count=500):
            batch.append(key)
            if len(batch) >= 500:
                client.unlink(*batch)
                batch.clear()
        if batch:
            client.unlink(*batch)
    finally:
        client.close()


@pytest.fixture
def start_retrieval(tmp_path: Path, redis_url: str, redis_prefix: str) -> Iterator[StartRetrieval]:
    """Start retrieval services; by default on the shared test Redis with this test's key prefix."""
    started: list[ServiceProcess] = []

    def start(env: Mapping[str, str] | None = None, data_dir: Path | None = None) -> ServiceProcess:
        service = retrieval_process(
            tmp_path / f"retrieval-{len(started)}.log", redis_url, redis_prefix, data_dir or tmp_path / "data", env
        )
        started.append(service)
        return service.start()

    try:
        yield start
    finally:
        for service in started:
            service.stop()


@pytest.fixture
def start_gateway(tmp_path: Path) -> Iterator[StartGateway]:
    """Start MCP gateways: ``start(retrieval_url, env=None)``; each is stopped after the test.

    ``retrieval_url`` may point at nothing at all (a gateway whose retrieval is down starts and is ready anyway).
    """
    started: list[ServiceProcess] = []

    def start(retrieval_url: str, env: Mapping[str, str] | None = None) -> ServiceProcess:
        service = gateway_process(tmp_path / f"gateway-{len(started)}.log", retrieval_url, env)
        started.append(service)
        return start_gateway_process(service)

    try:
        yield start
    finally:
        for service in started:
            service.stop()


@dataclass(frozen=True)
class Stack:
    """Retrieval and the MCP gateway in front of it, both running."""

    retrieval: ServiceProcess
    gateway: ServiceProcess

    @property
    def mcp_url(self) -> str:
        """The MCP Streamable HTTP endpoint."""
        return self.gateway.url + "/mcp"

    @property
    def call_url(self) -> str:
        """The REST endpoint, ``POST /mcp/call``."""
        return self.gateway.url + "/mcp/call"


@pytest.fixture(scope="module")
def gateway_env() -> dict[str, str]:
    """Extra ``PP_*`` settings for the ``stack`` gateway; override it in a module to change them."""
    return {}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, redis_url: str, gateway_env: dict[str, str]) -> Iterator[Stack]:
    """Retrieval (shared test Redis, a key prefix of its own) and a gateway, shared by the tests of one module.

    For tests that only make requests; a test that stops, kills or reconfigures a service starts its own with
    ``start_retrieval``/``start_gateway``.
    """
    workdir = tmp_path_factory.mktemp("stack")
    prefix = f"pp:test:{uuid.uuid4().hex}:"
    retrieval = retrieval_process(workdir / "retrieval.log", redis_url, prefix, workdir / "data")
    gateway = gateway_process(workdir / "gateway.log", retrieval.url, gateway_env)
    try:
        retrieval.start()
        start_gateway_process(gateway)
        yield Stack(retrieval, gateway)
    finally:
        gateway.stop()
        retrieval.stop()
        delete_prefix(redis_url, prefix)
