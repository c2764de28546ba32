"""The ``PP_*`` variables the launcher itself reads; everything else passes through to the services."""

from __future__ import annotations

import msgspec

__all__ = ("StackSettings",)


class StackSettings(msgspec.Struct, kw_only=True, frozen=True):
    """The ``PP_*`` variables the launcher itself reads; everything else passes through to the services."""

    retrieval_host: str = "127.0.0.1"
    retrieval_port: int = 8081
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    redis_url: str | None = None
    serve_local_redis: str = "127.0.0.1:6379"
    """Where to look for an already running Redis when ``PP_REDIS_URL`` is unset; ``none`` skips the look."""
    receiver_host: str = "127.0.0.1"
    receiver_port: int = 4318
    """The embedded OTLP receiver, started unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` names a collector already."""
