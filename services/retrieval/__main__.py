"""``python -m services.retrieval``: read ``PP_*`` settings and serve on uvicorn (uvloop, httptools)."""

from __future__ import annotations

import logging
import sys

import uvicorn

from services.common.settings import SettingsError
from services.retrieval.app import create_app
from services.retrieval.settings import load_settings


def main() -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"retrieval: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(
        create_app(settings),
        host=settings.retrieval_host,
        port=settings.retrieval_port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,
        lifespan="on",
        timeout_keep_alive=75,  # outlives the gateway's pooled connections (60 s), so none is closed under it
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
