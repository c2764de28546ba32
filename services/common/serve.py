"""How every service process logs and serves: stderr logging, uvicorn on uvloop and httptools, no access log."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any

import uvicorn

if TYPE_CHECKING:
    from litestar import Litestar

__all__ = ("configure_logging", "serve")


def configure_logging(level: str) -> None:
    """Logs go to stderr, always: stdout may be a protocol channel (the gateway's stdio transport)."""
    logging.basicConfig(
        level=level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def serve(app: Litestar, host: str, port: int, **options: Any) -> None:
    """Run ``app`` until SIGINT/SIGTERM; ``options`` are extra uvicorn settings."""
    uvicorn.run(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,
        lifespan="on",
        **options,
    )
