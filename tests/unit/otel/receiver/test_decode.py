"""Headers, inflating and parsing: what becomes a batch, and what is refused before any of it is stored."""

from __future__ import annotations

import gzip
import zlib

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel.receiver import otlp_json
from otel.receiver.decode import (
    Batch,
    BodyTooLarge,
    Compression,
    Encoding,
    InvalidBody,
    Signal,
    UnsupportedMediaType,
    compression,
    decode,
    inflate,
    media_type,
)
from tests.unit.otel.receiver import make

MiB = 1024 * 1024


def from_protobuf(signal: Signal, body: bytes, *, keep: bool = False) -> Batch:
    return decode(signal, body, Encoding.PROTOBUF, compression=Compression.NONE, limit=MiB, keep=keep)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("application/x-protobuf", Encoding.PROTOBUF),
        ("application/json", Encoding.JSON),
        ("Application/JSON; charset=utf-8", Encoding.JSON),
        (" application/x-protobuf ;foo=bar", Encoding.PROTOBUF),
    ],
)
def test_media_types(header: str, expected: Encoding) -> None:
    assert media_type(header) is expected


@pytest.mark.parametrize("header", [None, "", "text/plain", "application/protobuf", "application/jsonx"])
def test_other_media_types_are_refused(header: str | None) -> None:
    with pytest.raises(UnsupportedMediaType):
        media_type(header)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, Compression.NONE),
        ("", Compression.NONE),
        ("identity", Compression.NONE),
        ("GZIP", Compression.GZIP),
        ("x-gzip", Compression.GZIP),
        ("deflate", Compression.DEFLATE),
    ],
)
def test_content_encodings(header: str | None, expected: Compression) -> None:
    assert compression(header) is expected


@pytest.mark.parametrize("header", ["zstd", "br", "snappy", "gzip, br"])
def test_other_content_encodings_are_refused(header: str) -> None:
    with pytest.raises(UnsupportedMediaType):
        compression(header)


def test_inflate_gzip_deflate_and_several_gzip_members() -> None:
    data = b"otlp " * 1000
    assert inflate(gzip.compress(data), MiB, Compression.GZIP) == data
    assert inflate(zlib.compress(data), MiB, Compression.DEFLATE) == data
    assert inflate(gzip.compress(data[:7]) + gzip.compress(data[7:]), MiB, Compression.GZIP) == data
    assert inflate(data, MiB, Compression.NONE) is data


def test_inflate_stops_at_the_limit() -> None:
    data = b"\x00" * 1000
    assert inflate(gzip.compress(data), 1000) == data
    with pytest.raises(BodyTooLarge):
        inflate(gzip.compress(data), 999)


def test_a_gzip_bomb_is_cut_off_not_inflated() -> None:
    bomb = gzip.compress(b"\x00" * (256 * MiB), compresslevel=9)  # ~250 KiB on the wire
    assert len(bomb) < MiB
    with pytest.raises(BodyTooLarge):
        inflate(bomb, MiB)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not gzip at all",
        gzip.compress(b"x" * 5000)[:-20],  # truncated
        gzip.compress(b"x") + b"trailing garbage",
    ],
    ids=["empty", "not gzip", "truncated", "trailing garbage"],
)
def test_broken_gzip_is_invalid(body: bytes) -> None:
    with pytest.raises(InvalidBody):
        inflate(body, MiB)


def test_decode_protobuf_and_json_to_the_same_rows() -> None:
    request = make.traces(make.span("a", make.trace_id(1), make.span_id(1), pp__run__id="r"))
    protobuf = from_protobuf(Signal.TRACES, request.SerializeToString())
    from_json = decode(
        Signal.TRACES,
        gzip.compress(otlp_json.traces_to_json(request)),
        Encoding.JSON,
        compression=Compression.GZIP,
        limit=MiB,
        keep=False,
    )
    assert protobuf.rows == from_json.rows
    assert protobuf.accepted == 1 and protobuf.rejected == 0
    assert protobuf.request is None  # not kept unless asked for (JSON lines)


def test_decode_keeps_the_pruned_request_for_json_lines() -> None:
    good = make.span("good", make.trace_id(1), make.span_id(1))
    request = make.traces(good, make.span("bad", b"\x01\x02", make.span_id(2)))
    batch = decode(
        Signal.TRACES,
        request.SerializeToString(),
        Encoding.PROTOBUF,
        compression=Compression.NONE,
        limit=MiB,
        keep=True,
    )
    assert (batch.accepted, batch.rejected) == (1, 1)
    assert isinstance(batch.request, ExportTraceServiceRequest)
    assert list(batch.request.resource_spans[0].scope_spans[0].spans) == [good]


def test_an_empty_protobuf_body_is_an_empty_request() -> None:
    batch = from_protobuf(Signal.TRACES, b"")
    assert (batch.accepted, batch.rejected) == (0, 0)


def test_logs_are_decoded_and_dropped() -> None:
    logs = ExportLogsServiceRequest()
    logs.resource_logs.add().scope_logs.add().log_records.add().body.string_value = "hi"
    batch = from_protobuf(Signal.LOGS, logs.SerializeToString(), keep=True)
    assert batch.rows == [] and batch.request is None
    with pytest.raises(InvalidBody):
        from_protobuf(Signal.LOGS, b"\xff\xff")


@pytest.mark.parametrize(
    ("body", "encoding"),
    [
        (b"\xff\xff\xff\xff", Encoding.PROTOBUF),
        (b"\x0a\x05\x0a\x03", Encoding.PROTOBUF),  # a length running past the end
        (b"[]", Encoding.JSON),
        (b'{"resourceSpans": "no"}', Encoding.JSON),
        (b"\xff not utf-8", Encoding.JSON),
    ],
)
def test_undecodable_bodies(body: bytes, encoding: Encoding) -> None:
    with pytest.raises(InvalidBody):
        decode(Signal.TRACES, body, encoding, compression=Compression.NONE, limit=MiB, keep=False)


def test_the_limit_applies_before_inflating_too() -> None:
    with pytest.raises(BodyTooLarge):
        decode(Signal.TRACES, b"\x00" * 101, Encoding.PROTOBUF, compression=Compression.NONE, limit=100, keep=False)
