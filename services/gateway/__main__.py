"""``python -m services.gateway [--stdio]``: serve MCP over HTTP (uvicorn) or over stdin/stdout."""

from __future__ import annotations

import argparse
import asyncio
import sys

from otel import contract, setup_telemetry
from services.common.serve import configure_logging, serve
from services.common.settings import SettingsError
from services.gateway.app import build_dispatcher, create_app, retrieval_client, server_info
from services.gateway.mcp.stdio import serve_stdio
from services.gateway.settings import LOOPBACK_HOSTS, GatewaySettings, load_settings


async def _stdio(settings: GatewaySettings) -> None:
    telemetry = setup_telemetry(contract.GATEWAY_SERVICE, service_version=server_info().version)
    retrieval = retrieval_client(settings)
    await retrieval.start()
    try:
        _, dispatcher = build_dispatcher(retrieval)
        await serve_stdio(dispatcher)
    finally:
        await retrieval.aclose()
        telemetry.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.gateway", description="Personal Pipeline MCP gateway")
    parser.add_argument("--stdio", action="store_true", help="serve MCP over stdin/stdout instead of HTTP")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"gateway: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    # stdout is the protocol channel in stdio mode: every log line goes to stderr, always.
    configure_logging(settings.log_level)
    if args.stdio:
        asyncio.run(_stdio(settings))
        return 0
    if settings.gateway_host not in LOOPBACK_HOSTS and not settings.api_token and not settings.allow_unauthenticated:
        print(  # noqa: T201
            f"gateway: refusing to listen on {settings.gateway_host} without PP_API_TOKEN; set a token, or "
            "PP_ALLOW_UNAUTHENTICATED=true if a proxy in front authenticates",
            file=sys.stderr,
        )
        return 2
    serve(create_app(settings), settings.gateway_host, settings.gateway_port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
