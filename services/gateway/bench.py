"""``python -m services.gateway.bench``: a cached ``tools/call search_runbooks`` through both services. Prints figures.

Retrieval and the gateway run one uvicorn worker each, both pinned to CPU 0; this process drives them from CPU 1
(as the baseline in ``shared/reference/perf-baseline.md`` was measured). First a closed loop with 32 requests in
flight (requests/s), then an open loop at a fixed rate, with latency from each request's intended send time and
from its actual send. Redis comes from ``PP_REDIS_URL`` (default: the local one); calls hit the gateway's MCP
endpoint exactly as an MCP client's do.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from typing import TYPE_CHECKING

import msgspec
import uvloop

from services.common.loadclient import closed_loop, line, open_loop, pin, request_bytes, start_service

if TYPE_CHECKING:
    from collections.abc import Sequence

ALERTS = ("memory_pressure", "service_down", "disk_full", "cpu_high", "database_slow", "ssl_certificate")
SYSTEMS = ("java-app", "postgres", "nginx", "kubernetes", "payment-service")


def tool_calls(port: int, keys: int) -> list[bytes]:
    """``keys`` distinct MCP ``tools/call search_runbooks`` requests, as the bytes an MCP client would send."""
    payloads = []
    for i in range(keys):
        arguments = {
            "alert_type": ALERTS[i % len(ALERTS)],
            "severity": ("critical", "high", "medium")[i % 3],
            "affected_systems": [SYSTEMS[i % len(SYSTEMS)]],
            "context": {"bench": i},
        }
        message = {
            "jsonrpc": "2.0",
            "id": i,
            "method": "tools/call",
            "params": {"name": "search_runbooks", "arguments": arguments},
        }
        headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}
        payloads.append(request_bytes(port, "/mcp", msgspec.json.encode(message), headers))
    return payloads


async def drive(port: int, keys: int, seconds: float, rate: float) -> None:
    payloads = tool_calls(port, keys)
    await closed_loop(port, payloads, 1, 1.0)  # every key into the caches
    rps, errors = await closed_loop(port, payloads, 32, seconds)
    print(f"gateway → retrieval, both on CPU 0, client on CPU 1, {keys} cached keys")  # noqa: T201
    print(f"  cached tools/call search_runbooks, 32 in flight  {rps:8.0f} req/s   errors {errors}")  # noqa: T201
    intended, actual, errors = await open_loop(port, payloads, rate, seconds)
    print(f"  open loop at {rate:.0f} req/s, {len(intended)} requests, errors {errors}")  # noqa: T201
    print(line("latency from intended send time", intended))  # noqa: T201
    print(line("latency from actual send", actual))  # noqa: T201


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run")
    parser.add_argument("--rate", type=float, default=500.0, help="open-loop arrival rate (req/s)")
    parser.add_argument("--keys", type=int, default=60, help="distinct tool calls in the mix")
    parser.add_argument("--port", type=int, default=18080, help="gateway port (retrieval uses the next one)")
    args = parser.parse_args(argv)
    retrieval_port = args.port + 1
    with tempfile.TemporaryDirectory() as data_dir:
        retrieval = start_service(
            "services.retrieval",
            {
                "PP_RETRIEVAL_PORT": str(retrieval_port),
                "PP_DATA_DIR": data_dir,
                "PP_LOG_LEVEL": "WARNING",
                "PP_REDIS_KEY_PREFIX": f"pp:bench:{os.getpid()}:",
            },
            f"http://127.0.0.1:{retrieval_port}/ready",
        )
        try:
            gateway = start_service(
                "services.gateway",
                {
                    "PP_GATEWAY_PORT": str(args.port),
                    "PP_RETRIEVAL_URL": f"http://127.0.0.1:{retrieval_port}",
                    "PP_LOG_LEVEL": "WARNING",
                },
                f"http://127.0.0.1:{args.port}/ready",
            )
            try:
                pin(1)
                uvloop.run(drive(args.port, args.keys, args.seconds, args.rate))
            finally:
                gateway.terminate()
                gateway.wait(10)
        finally:
            retrieval.terminate()
            retrieval.wait(10)


if __name__ == "__main__":
    main()
