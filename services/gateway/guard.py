"""The gateway's front gate, for every HTTP request: browser Origin (DNS rebinding) and the optional bearer token.

An ASGI middleware rather than per-route checks, so no route can forget them. A missing ``Origin`` is normal (SDK
and CLI clients send none); a present one must be a loopback origin or one listed in ``PP_ALLOWED_ORIGINS``.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from services.common.asgi import reply
from services.gateway.mcp import jsonrpc

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Receive, Scope, Send

__all__ = ("Guard", "origin_allowed")

_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def origin_allowed(origin: str, extra: frozenset[str]) -> bool:
    origin = origin.strip().rstrip("/").lower()
    if origin in extra:
        return True
    try:
        parts = urlsplit(origin)
        host = parts.hostname
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and host in _LOOPBACK


_PROBES = frozenset({"/live", "/ready"})
"""Liveness and readiness say nothing about the data and are polled by orchestrators without credentials."""


def _credentials(authorization: bytes | None) -> bytes:
    """The token of a ``Bearer`` authorization (the scheme is case-insensitive, RFC 9110 §11.1), else ``b""``."""
    if authorization is None:
        return b""
    scheme, _, token = authorization.strip().partition(b" ")
    return token.strip() if scheme.lower() == b"bearer" else b""


class Guard:
    def __init__(self, app: ASGIApp, token: str | None, extra_origins: frozenset[str]) -> None:
        self._app = app
        self._token = token.encode() if token else None
        self._extra = extra_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # type: ignore[comparison-overlap]  # lifespan scopes pass through too
            await self._app(scope, receive, send)
            return
        origin = authorization = None
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
            elif name == b"authorization":
                authorization = value
        if origin is not None and not origin_allowed(origin.decode("latin-1"), self._extra):
            body = jsonrpc.error(None, jsonrpc.INVALID_REQUEST, "forbidden: Origin not allowed (PP_ALLOWED_ORIGINS)")
            await reply(send, 403, body)
            return
        if (
            self._token is not None
            and scope["path"] not in _PROBES
            and not hmac.compare_digest(_credentials(authorization), self._token)
        ):
            body = jsonrpc.error(None, jsonrpc.INVALID_REQUEST, "unauthorized: send Authorization: Bearer <token>")
            await reply(send, 401, body, extra=[(b"www-authenticate", b'Bearer realm="personal-pipeline"')])
            return
        await self._app(scope, receive, send)
