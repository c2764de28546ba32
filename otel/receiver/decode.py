"""An OTLP/HTTP request body → a validated ``Batch`` of store rows, or the reason it cannot be one.

Everything here is synchronous and CPU-bound, and runs on the decode thread, never on the event loop. The checks
come in the order that wastes least work on a bad request: media type and encoding (from headers, before the body
is read), size, decompression with a hard output cap (a gzip bomb stops at the cap, it is never inflated whole),
parsing, then per-item validation (``rows``).
"""

from __future__ import annotations

import enum
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from google.protobuf.message import DecodeError as ProtobufDecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel.receiver import otlp_json
from otel.receiver.rows import Converted, metric_rows, span_rows

if TYPE_CHECKING:
    from google.protobuf.message import Message

    from otel.receiver.rows import ResourceRow

__all__ = (
    "Batch",
    "BodyTooLarge",
    "Compression",
    "Encoding",
    "InvalidBody",
    "Signal",
    "UnsupportedMediaType",
    "compression",
    "decode",
    "inflate",
    "media_type",
)


class Signal(enum.Enum):
    TRACES = "traces"
    METRICS = "metrics"
    LOGS = "logs"


class Encoding(enum.Enum):
    PROTOBUF = "application/x-protobuf"
    JSON = "application/json"


class Compression(enum.Enum):
    """``Content-Encoding`` values the receiver inflates (the OTLP exporters offer gzip and deflate)."""

    NONE = "identity"
    GZIP = "gzip"
    DEFLATE = "deflate"


_WBITS = {Compression.GZIP: 16 + zlib.MAX_WBITS, Compression.DEFLATE: zlib.MAX_WBITS}
"""zlib window settings: gzip framing, and zlib framing for HTTP's "deflate" (RFC 9110)."""


class UnsupportedMediaType(Exception):
    """A content type or content encoding the receiver does not speak."""


class BodyTooLarge(Exception):
    """The body, compressed or not, is over the limit."""


class InvalidBody(Exception):
    """The body cannot be decoded at all (bad gzip, bad protobuf, bad JSON): nothing of it is stored."""


def media_type(content_type: str | None) -> Encoding:
    """The OTLP encoding named by a ``Content-Type`` header (parameters such as ``charset`` are ignored)."""
    essence = (content_type or "").split(";", 1)[0].strip().lower()
    for encoding in Encoding:
        if encoding.value == essence:
            return encoding
    raise UnsupportedMediaType(
        f"unsupported content type {content_type!r}; use application/x-protobuf or application/json"
    )


def compression(content_encoding: str | None) -> Compression:
    """The compression named by a ``Content-Encoding`` header; others (zstd, br, snappy) are refused."""
    value = (content_encoding or "").strip().lower()
    if value in ("", "identity"):
        return Compression.NONE
    if value in ("gzip", "x-gzip"):
        return Compression.GZIP
    if value == "deflate":
        return Compression.DEFLATE
    raise UnsupportedMediaType(f"unsupported content encoding {content_encoding!r}; use gzip, deflate or none")


def inflate(body: bytes, limit: int, method: Compression = Compression.GZIP) -> bytes:
    """Inflate a compressed body, never producing more than ``limit`` bytes.

    A bomb is cut off at the cap, not inflated whole. Several gzip members are allowed, as RFC 1952 does.

    Raises:
        BodyTooLarge: the inflated body would exceed ``limit``.
        InvalidBody: corrupt, truncated, or not in the announced format.
    """
    if method is Compression.NONE:
        return body
    chunks: list[bytes] = []
    produced = 0
    data = body
    while True:
        inflater = zlib.decompressobj(_WBITS[method])
        try:
            chunk = inflater.decompress(data, limit - produced + 1)
        except zlib.error as exc:
            raise InvalidBody(f"invalid {method.value} body: {exc}") from None
        produced += len(chunk)
        chunks.append(chunk)
        if produced > limit:
            raise BodyTooLarge(f"the body inflates to more than {limit} bytes")
        if not inflater.eof:
            raise InvalidBody(f"truncated {method.value} body")
        data = inflater.unused_data
        if not data:
            return b"".join(chunks)


@dataclass(frozen=True, slots=True)
class Batch:
    """One accepted request: its rows, what was rejected, and (for ``--jsonl``) the message without the rejects."""

    signal: Signal
    rows: list[tuple[Any, ...]]
    resources: list[ResourceRow]
    rejected: int
    error_message: str
    request: Message | None

    @property
    def accepted(self) -> int:
        return len(self.rows)


_MESSAGES: dict[Signal, type[Message]] = {
    Signal.TRACES: ExportTraceServiceRequest,
    Signal.METRICS: ExportMetricsServiceRequest,
    Signal.LOGS: ExportLogsServiceRequest,
}


def _parse(signal: Signal, body: bytes, encoding: Encoding) -> Message:
    message = _MESSAGES[signal]()
    if encoding is Encoding.JSON:
        try:
            return otlp_json.parse(body, message)
        except otlp_json.JsonDecodeError as exc:
            raise InvalidBody(f"invalid OTLP/JSON: {exc}") from None
    try:
        message.ParseFromString(body)
    except ProtobufDecodeError as exc:
        raise InvalidBody(f"invalid OTLP/protobuf: {exc}") from None
    return message


def decode(
    signal: Signal, body: bytes, encoding: Encoding, *, compression: Compression, limit: int, keep: bool
) -> Batch:
    """Decode, validate and convert one request body; ``keep`` retains the (pruned) message for JSON lines.

    Logs are decoded (so a bad body still gets its 400) and then dropped: the store has no table for them.

    Raises:
        BodyTooLarge: over ``limit`` bytes, before or after inflating.
        InvalidBody: nothing in the body can be decoded.
    """
    if len(body) > limit:
        raise BodyTooLarge(f"the body is over {limit} bytes")
    body = inflate(body, limit, compression)
    message = _parse(signal, body, encoding)
    if isinstance(message, ExportTraceServiceRequest):
        converted = span_rows(message, prune=keep)
    elif isinstance(message, ExportMetricsServiceRequest):
        converted = metric_rows(message, prune=keep)
    else:
        converted = Converted()
    return Batch(
        signal=signal,
        rows=converted.rows,
        resources=converted.resources,
        rejected=converted.rejected,
        error_message=converted.error_message,
        request=message if keep and signal is not Signal.LOGS else None,
    )
