"""Settings of the MCP gateway (``PP_*`` variables; see the README)."""

from __future__ import annotations

import msgspec

from services.common.settings import from_env

__all__ = ("LOOPBACK_HOSTS", "GatewaySettings", "load_settings")

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


class GatewaySettings(msgspec.Struct, kw_only=True, frozen=True):
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    retrieval_url: str = "http://127.0.0.1:8081"
    retrieval_timeout_s: float = 5.0
    """Deadline of one call to retrieval, connection included."""
    retrieval_connections: int = 64
    """Size of the keep-alive pool to retrieval."""
    api_token: str | None = None
    """When set, every request must carry ``Authorization: Bearer <token>``."""
    allow_unauthenticated: bool = False
    """Permit listening beyond loopback without ``PP_API_TOKEN`` (behind an authenticating proxy, say)."""
    allowed_origins: str = ""
    """Comma-separated extra browser origins allowed to call ``/mcp`` (localhost and 127.0.0.1 always are)."""
    max_body_bytes: int = 1024 * 1024
    log_level: str = "INFO"

    @property
    def extra_origins(self) -> frozenset[str]:
        return frozenset(o.strip().rstrip("/").lower() for o in self.allowed_origins.split(",") if o.strip())


def load_settings() -> GatewaySettings:
    return from_env(GatewaySettings)
