"""OTLP/HTTP response bodies, in the encoding of the request as the specification requires.

A success is an ``Export*ServiceResponse``, with ``partial_success`` only when something was rejected (an empty
response means "all accepted"); a failure is a ``google.rpc.Status``. Exporters read ``partial_success`` to log what
was dropped and the status message to say why a request failed, so both carry the receiver's reason verbatim.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec
from google.protobuf import json_format
from google.rpc import status_pb2  # type: ignore[import-untyped]  # googleapis-common-protos ships no py.typed
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from otel.receiver.decode import Encoding, Signal

if TYPE_CHECKING:
    from google.protobuf.message import Message

__all__ = ("INTERNAL", "INVALID_ARGUMENT", "RESOURCE_EXHAUSTED", "UNAVAILABLE", "export_response", "status")

# google.rpc.Code values
INVALID_ARGUMENT = 3
RESOURCE_EXHAUSTED = 8
INTERNAL = 13
UNAVAILABLE = 14


def _encode(message: Message, encoding: Encoding) -> bytes:
    if encoding is Encoding.JSON:
        return msgspec.json.encode(json_format.MessageToDict(message, use_integers_for_enums=True))
    return message.SerializeToString()


def export_response(signal: Signal, encoding: Encoding, rejected: int = 0, error_message: str = "") -> bytes:
    """The 200 body: empty on full success, ``partial_success`` with the count and reasons otherwise."""
    response: Message
    if signal is Signal.TRACES:
        traces = ExportTraceServiceResponse()
        if rejected or error_message:
            traces.partial_success.rejected_spans = rejected
            traces.partial_success.error_message = error_message
        response = traces
    elif signal is Signal.METRICS:
        metrics = ExportMetricsServiceResponse()
        if rejected or error_message:
            metrics.partial_success.rejected_data_points = rejected
            metrics.partial_success.error_message = error_message
        response = metrics
    else:
        response = ExportLogsServiceResponse()
    return _encode(response, encoding)


def status(encoding: Encoding, code: int, message: str) -> bytes:
    """A ``google.rpc.Status`` body for a failed request."""
    body: Message = status_pb2.Status(code=code, message=message)
    return _encode(body, encoding)
