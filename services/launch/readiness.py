"""Where a service can be reached, and waiting until it answers ``/ready``."""

from __future__ import annotations

import http.client
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from services.launch.errors import StackError, Stopped
from services.launch.processes import POLL_S

if TYPE_CHECKING:
    from services.launch.processes import Child, StopSignals

__all__ = ("base_url", "http_ok", "reachable_host", "wait_ready")


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


def wait_ready(child: Child, url: str, children: list[Child], stop: StopSignals, timeout_s: float) -> None:
    """Until ``child`` answers ``/ready``; fails as soon as any child dies, and after ``timeout_s``."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    deadline = time.monotonic() + timeout_s
    while True:
        if stop.requested:
            raise Stopped
        for each in children:
            if (status := each.exit_status()) is not None:
                raise StackError(f"{each.describe_exit(status)}\n(while waiting for {child.name} to be ready)")
        if http_ok(host, port, "/ready"):
            return
        if time.monotonic() > deadline:
            raise StackError(f"{child.name} not ready at {url}/ready after {timeout_s:g} s{child.tail()}")
        time.sleep(POLL_S)
