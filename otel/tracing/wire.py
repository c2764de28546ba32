"""What crosses the pipe between a service process and its exporter process.

A span leaves the request path as one flat tuple (a *record*), not an object graph: building it costs a tuple
allocation, and msgpack encodes a list of them in one C call on the shipper thread. The exporter turns records into
OTLP protobuf, where that cost no longer lands on the request core.

Frames are ``4-byte big-endian length + msgpack([kind, payload])``. Parent → exporter: one ``CONFIG`` first, then
``SCOPES`` (new instrumentation scopes, before the first span that uses them) and ``SPANS``, then ``SHUTDOWN``.
Exporter → parent: ``STATUS`` with cumulative counters, so spans the exporter drops are counted in the service.
"""

from __future__ import annotations

import struct
from typing import Any, Final, TypeAlias

import msgspec

__all__ = (
    "CONFIG",
    "HEADER",
    "SCOPES",
    "SHUTDOWN",
    "SPANS",
    "STATUS",
    "EventRecord",
    "ExporterConfig",
    "ExporterStatus",
    "LinkRecord",
    "ScopeRecord",
    "SpanRecord",
    "decode_frame",
    "encode_frame",
    "frame_length",
)

# Record layouts. Trace ids travel as two unsigned 64-bit halves because msgpack has no 128-bit integer.
EventRecord: TypeAlias = tuple[str, int, dict[str, Any], int]
"""name, time ns, attributes, dropped attributes."""
LinkRecord: TypeAlias = tuple[int, int, int, str, int, dict[str, Any], int]
"""trace id high, trace id low, span id, trace state header, OTLP flags, attributes, dropped attributes."""
ScopeRecord: TypeAlias = tuple[int, str, str, str, dict[str, Any]]
"""scope id, name, version, schema url, attributes."""
SpanRecord: TypeAlias = tuple[
    int,  # 0 trace id, high 64 bits
    int,  # 1 trace id, low 64 bits
    int,  # 2 span id
    int,  # 3 parent span id, 0 for a root
    str,  # 4 name
    int,  # 5 kind: the API SpanKind value (OTLP is this + 1)
    int,  # 6 start, ns since the epoch
    int,  # 7 end, ns since the epoch
    int,  # 8 status code: 0 unset, 1 ok, 2 error (same numbers in OTLP)
    str | None,  # 9 status message
    dict[str, Any],  # 10 attributes
    list[EventRecord] | None,  # 11 events
    list[LinkRecord] | None,  # 12 links
    int,  # 13 scope id (index into the SCOPES sent so far)
    int,  # 14 OTLP span flags: W3C trace flags | has-is-remote | is-remote (of the parent)
    str,  # 15 trace state header, "" when empty
    list[int] | None,  # 16 dropped [attributes, events, links], None when nothing was dropped
]

CONFIG: Final = 0
SCOPES: Final = 1
SPANS: Final = 2
SHUTDOWN: Final = 3
STATUS: Final = 4

HEADER: Final = struct.Struct(">I")


class ExporterConfig(msgspec.Struct, frozen=True, kw_only=True):
    """The exporter process's whole configuration, sent as its first frame (not argv: headers may be secrets)."""

    endpoint: str
    headers: dict[str, str] = {}
    timeout_s: float = 10.0
    compression: str = "none"
    resource: dict[str, Any] = {}
    max_queue: int = 65_536
    """Spans held while the collector is slow or down; beyond it the oldest are dropped and counted."""
    max_batch: int = 2_048
    """Spans per OTLP request."""
    retry_budget_s: float = 30.0
    """How long one request is retried (429, 5xx, connection errors) before its spans are dropped and counted."""
    grace_s: float = 5.0
    """After SIGTERM, how long to keep reading the parent's last spans before exiting."""


class ExporterStatus(msgspec.Struct, array_like=True):
    """Cumulative counters of one exporter process."""

    exported: int = 0
    dropped: int = 0


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder()


def encode_frame(kind: int, payload: object) -> bytes:
    body = _encoder.encode((kind, payload))
    return HEADER.pack(len(body)) + body


def frame_length(header: bytes) -> int:
    (length,) = HEADER.unpack(header)
    return int(length)


def decode_frame(body: bytes) -> tuple[int, Any]:
    kind, payload = _decoder.decode(body)
    return int(kind), payload
