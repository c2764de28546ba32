"""Ports: a free one to hand out, and whether a configured one can be bound before anything starts."""

from __future__ import annotations

import socket

from services.launch.errors import StackError

__all__ = ("check_port", "free_port")


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
