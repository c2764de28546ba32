"""Settings of the receiver: ``PP_RECEIVER_*`` variables (and ``PP_LOG_LEVEL``), overridden by command-line flags.

Environment variables are what the launcher and the tests set for every process; the flags are for a person at a
terminal. ``otel`` imports nothing of ``services``, so this is a small reader of its own rather than the services'.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ("DEFAULT_PORT", "ReceiverSettings", "SettingsError", "load_settings")

DEFAULT_PORT = 4318
"""The OTLP/HTTP port, so exporters configured with their defaults find the receiver."""


class SettingsError(ValueError):
    """A variable or flag has a value of the wrong type."""


class ReceiverSettings(msgspec.Struct, kw_only=True, frozen=True):
    receiver_host: str = "127.0.0.1"
    receiver_port: int = DEFAULT_PORT
    receiver_store: str = ".pp-data/telemetry.sqlite3"
    """The SQLite store; created with its directory if missing, appended to if present."""
    receiver_jsonl: str | None = None
    """A directory for OTLP/JSON-lines copies of the requests (``traces.jsonl``, ``metrics.jsonl``); unset: none."""
    receiver_durable: bool = False
    """fsync at WAL checkpoints (SQLite ``synchronous=NORMAL``): the store then survives power loss, for ~20 % of
    ingest. Off, a commit survives the receiver crashing, not the machine (see ``store``)."""
    receiver_max_body_bytes: int = 64 * 1024 * 1024
    """Largest body accepted, compressed and after inflating (413 beyond): a gzip bomb stops here."""
    receiver_max_pending_rows: int = 500_000
    """Rows decoded but not yet committed before new requests get 503 + Retry-After (exporters retry them)."""
    log_level: str = "INFO"


def _from_env(environ: Mapping[str, str]) -> dict[str, str]:
    raw: dict[str, str] = {}
    for name in ReceiverSettings.__struct_fields__:
        value = environ.get(f"PP_{name.upper()}")
        if value:
            raw[name] = value
    return raw


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m otel.receiver",
        description="OTLP/HTTP receiver (traces, metrics) into a local SQLite store.",
        epilog="Each flag overrides its PP_RECEIVER_* variable (PP_LOG_LEVEL for --log-level).",
    )
    parser.add_argument("--host", dest="receiver_host", help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", dest="receiver_port", help=f"listen port (default {DEFAULT_PORT})")
    parser.add_argument("--store", dest="receiver_store", help="SQLite store path (default .pp-data/telemetry.sqlite3)")
    parser.add_argument("--jsonl", dest="receiver_jsonl", metavar="DIR", help="also append OTLP/JSON lines in DIR")
    parser.add_argument(
        "--durable", dest="receiver_durable", action="store_const", const="true", help="fsync the store (slower)"
    )
    parser.add_argument("--max-body-bytes", dest="receiver_max_body_bytes", help="body size limit (default 64 MiB)")
    parser.add_argument("--log-level", dest="log_level", help="DEBUG, INFO, WARNING or ERROR (default INFO)")
    return parser


def load_settings(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> ReceiverSettings:
    """Settings from the environment, then flags; exits with usage on unknown flags (argparse's way)."""
    raw = _from_env(os.environ if environ is None else environ)
    flags = vars(_parser().parse_args(argv))
    raw.update({name: value for name, value in flags.items() if value is not None})
    try:
        return msgspec.convert(raw, ReceiverSettings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"invalid setting: {exc}") from None
