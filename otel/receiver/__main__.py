"""``python -m otel.receiver``: serve OTLP/HTTP on uvicorn (uvloop, httptools) until SIGINT/SIGTERM.

On a signal uvicorn stops accepting, finishes the requests in flight, and the lifespan shutdown commits what is
queued and folds the WAL into the store file, so ``kill -TERM`` loses nothing that was answered 200.
"""

from __future__ import annotations

import logging
import sys

import uvicorn

from otel.receiver.app import create_app
from otel.receiver.settings import SettingsError, load_settings


def main(argv: list[str] | None = None) -> int:
    try:
        settings = load_settings(argv)
    except SettingsError as exc:
        print(f"receiver: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = uvicorn.Config(
        create_app(settings),
        host=settings.receiver_host,
        port=settings.receiver_port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_config=None,
        timeout_keep_alive=75,  # exporters keep one connection per process; do not close it between exports
        timeout_graceful_shutdown=30,
    )
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
