"""The embedded stack for ``just load``: ``python -m services`` on free ports, started, awaited and stopped here.

``loadtests`` never imports ``services``: it starts the launcher by module name, as a user would, with its
``PP_*`` ports set to free ones so a stack already running on the defaults is never disturbed. The launcher picks
the Redis (the machine's, a private one, or none) and starts the embedded OTLP receiver, whose store goes into the
run's report directory so the run's spans stay next to its results. Stopping sends SIGTERM to the launcher, which
stops the gateway, retrieval, Redis and receiver in order; a launcher that does not finish in time is killed with its
whole process group, so nothing outlives the run — also on Ctrl-C or a failure.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import IO, TYPE_CHECKING, Self

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

from loadtests.errors import SCRIPT_EXCEPTION, LoadTestError

__all__ = ("EmbeddedStack", "free_port", "wait_ready")

_STOP_TIMEOUT_S = 30.0
METRIC_EXPORT_INTERVAL_MS = 5000


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, timeout: float, *, alive: Callable[[], bool] | None = None) -> None:
    """Poll ``url`` until it answers 200; ``LoadTestError`` after ``timeout`` or when ``alive()`` turns false."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise LoadTestError(f"the stack stopped while starting ({last})", code=SCRIPT_EXCEPTION)
        try:
            with urllib.request.urlopen(url, timeout=2.0) as response:
                if response.status == 200:
                    return
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as error:
            last = f"HTTP {error.code}"
        except (OSError, urllib.error.URLError) as error:
            last = str(getattr(error, "reason", error))
        time.sleep(0.2)
    raise LoadTestError(f"{url} was not ready within {timeout:g}s ({last})", code=SCRIPT_EXCEPTION)


class EmbeddedStack:
    """Receiver, retrieval and gateway (and Redis as ``just serve`` picks it) for one run."""

    def __init__(self, workdir: Path, *, ready_timeout_s: float = 120.0) -> None:
        self.workdir = workdir
        self.ready_timeout_s = ready_timeout_s
        self.gateway_port = free_port()
        self.retrieval_port = free_port()
        self.receiver_port = free_port()
        self.log_path = workdir / "stack.log"
        self.store_path = workdir / "telemetry.sqlite3"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def mcp_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}/mcp"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def receiver_url(self) -> str:
        return f"http://127.0.0.1:{self.receiver_port}"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "OTEL_EXPORTER_OTLP_ENDPOINT"}
        env.update(
            PP_GATEWAY_PORT=str(self.gateway_port),
            PP_RETRIEVAL_PORT=str(self.retrieval_port),
            PP_RECEIVER_PORT=str(self.receiver_port),
            PP_RECEIVER_STORE=str(self.store_path),
        )
        # memory and CPU over the run need samples during it, not only the export at shutdown
        env.setdefault("OTEL_METRIC_EXPORT_INTERVAL", str(METRIC_EXPORT_INTERVAL_MS))
        if "OTEL_EXPORTER_OTLP_ENDPOINT" in os.environ:  # the user's collector takes the telemetry: no receiver
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"]
        return env

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "services", "--quiet", "--ready-timeout", str(self.ready_timeout_s)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.environment(),
            start_new_session=True,  # Ctrl-C reaches us, not the stack: we stop it in order
        )
        try:
            wait_ready(f"{self.gateway_url}/ready", self.ready_timeout_s + 30.0, alive=self.alive)
        except LoadTestError as error:
            self.stop()
            raise LoadTestError(
                f"{error.message}; its log: {self.log_path}\n{self.log_tail()}", code=error.code
            ) from None

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
