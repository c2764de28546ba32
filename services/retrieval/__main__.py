"""``python -m services.retrieval``: read ``PP_*`` settings and serve on uvicorn (uvloop, httptools)."""

from __future__ import annotations

import sys

from services.common.serve import configure_logging, serve
from services.common.settings import SettingsError
from services.retrieval.app import create_app
from services.retrieval.settings import load_settings


def main() -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"retrieval: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    configure_logging(settings.log_level)
    # The keep-alive outlives the gateway's pooled connections (60 s), so none is closed under it.
    serve(create_app(settings), settings.retrieval_host, settings.retrieval_port, timeout_keep_alive=75)
    return 0


if __name__ == "__main__":
    sys.exit(main())
