"""``python -m services`` (``just serve``): Redis, retrieval and the MCP gateway together, until Ctrl-C.

The work is in ``services.launch`` (``services.launch.stack.run``); this module only reads the command line.
"""

from __future__ import annotations

import argparse
import sys

from services.launch.stack import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services",
        description="Run the retrieval service and the MCP gateway on this machine, with a Redis if one can be had "
        "(PP_REDIS_URL; else 127.0.0.1:6379 or PP_SERVE_LOCAL_REDIS; else a private redis-server; else none).",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="keep the services' logs off the terminal (shown if one fails)"
    )
    parser.add_argument(
        "--ready-timeout", type=float, default=60.0, metavar="SECONDS", help="how long each service may take to start"
    )
    args = parser.parse_args(argv)
    return run(quiet=args.quiet, ready_timeout_s=args.ready_timeout)


if __name__ == "__main__":
    sys.exit(main())
