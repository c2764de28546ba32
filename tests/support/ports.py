"""Free TCP ports for servers that tests start themselves."""

from __future__ import annotations

import socket

__all__ = ("free_port",)


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago.

    Another process can take it before the caller binds it; callers that start a server should retry with a new
    port if the bind fails (``RedisServer`` does).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
