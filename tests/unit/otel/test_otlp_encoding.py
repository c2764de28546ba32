"""Span records become a spec-conformant OTLP ExportTraceServiceRequest (decoded with the official protos)."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from opentelemetry.trace import SpanContext, SpanKind, StatusCode, TraceFlags, TraceState

from otel.tracing.attributes import SpanLimits
from otel.tracing.exporter.otlp import AttributeCache, ScopeTable, _fill_attributes, encode_request, resource_proto
from otel.tracing.memory import InMemorySpans
from otel.tracing.sampler import sampler_config
from otel.tracing.tracer import FastTracerProvider
from otel.tracing.wire import SPANS, decode_frame, encode_frame, frame_length


def encoded(spans: InMemorySpans, resource: dict[str, object]) -> ExportTraceServiceRequest:
    """Through the same msgpack frame the pipe carries, then the exporter's encoder."""
    scopes = ScopeTable()
    scopes.update(spans.scopes)
    frame = encode_frame(SPANS, spans.records)
    kind, records = decode_frame(frame[4:])
    assert (kind, frame_length(frame[:4])) == (SPANS, len(frame) - 4)
    return ExportTraceServiceRequest.FromString(encode_request(records, scopes, resource_proto(resource)))


def test_ids_parents_kinds_attributes_status_scopes_and_resource() -> None:
    spans = InMemorySpans()
    provider = FastTracerProvider(sampler_config("parentbased_always_on"), SpanLimits(), spans)
    tracer = provider.get_tracer("personal-pipeline", "0.1.0")
    other = provider.get_tracer("other-scope")
    remote = SpanContext(2**127 + 5, 2**63 + 7, True, TraceFlags(1), TraceState([("v", "1")]))
    server = tracer.start_span(
        "POST /mcp", trace.set_span_in_context(trace.NonRecordingSpan(remote)), SpanKind.SERVER, {"http.route": "/mcp"}
    )
    with trace.use_span(server, end_on_exit=True):
        with tracer.start_as_current_span("tools/call x", attributes={"n": 2**63 - 1, "f": 0.5, "ok": True}) as tool:
            tool.add_event("cache.miss", {"cache.tier": "l2"}, timestamp=42)
            tool.set_attribute("list", ["a", "b"])
            tool.set_attribute("map", {"k": [1, 2]})
        with other.start_as_current_span("client", kind=SpanKind.CLIENT) as client:
            client.set_status(StatusCode.ERROR, "refused")
            client.add_link(remote, {"why": "retry"})

    request = encoded(spans, {"service.name": "pp-gateway", "service.instance.id": "abc"})
    (resource_spans,) = request.resource_spans
    assert {kv.key: kv.value.string_value for kv in resource_spans.resource.attributes} == {
        "service.name": "pp-gateway",
        "service.instance.id": "abc",
    }
    by_scope = {scope_spans.scope.name: scope_spans for scope_spans in resource_spans.scope_spans}
    assert set(by_scope) == {"personal-pipeline", "other-scope"}
    assert by_scope["personal-pipeline"].scope.version == "0.1.0"
    spans_by_name = {span.name: span for scope_spans in by_scope.values() for span in scope_spans.spans}
    server_pb, tool_pb, client_pb = spans_by_name["POST /mcp"], spans_by_name["tools/call x"], spans_by_name["client"]

    assert server_pb.trace_id == remote.trace_id.to_bytes(16, "big")
    assert server_pb.parent_span_id == remote.span_id.to_bytes(8, "big")
    assert server_pb.span_id == server.get_span_context().span_id.to_bytes(8, "big")
    assert server_pb.kind == Span.SPAN_KIND_SERVER
    assert server_pb.trace_state == "v=1"
    assert server_pb.flags == 0x301, "sampled, parent known to be remote"
    assert tool_pb.parent_span_id == server_pb.span_id
    assert tool_pb.kind == Span.SPAN_KIND_INTERNAL
    assert tool_pb.flags == 0x101
    assert client_pb.kind == Span.SPAN_KIND_CLIENT
    assert client_pb.status.code == Status.STATUS_CODE_ERROR
    assert client_pb.status.message == "refused"
    assert server_pb.status.code == Status.STATUS_CODE_UNSET
    assert server_pb.start_time_unix_nano <= tool_pb.start_time_unix_nano <= tool_pb.end_time_unix_nano
    assert tool_pb.end_time_unix_nano <= server_pb.end_time_unix_nano

    attributes = {kv.key: kv.value for kv in tool_pb.attributes}
    assert attributes["n"].int_value == 2**63 - 1
    assert attributes["f"].double_value == 0.5
    assert attributes["ok"].bool_value is True
    assert [v.string_value for v in attributes["list"].array_value.values] == ["a", "b"]
    (entry,) = attributes["map"].kvlist_value.values
    assert (entry.key, [v.int_value for v in entry.value.array_value.values]) == ("k", [1, 2])
    (event,) = tool_pb.events
    assert (event.name, event.time_unix_nano, event.attributes[0].value.string_value) == ("cache.miss", 42, "l2")
    (link,) = client_pb.links
    assert link.trace_id == remote.trace_id.to_bytes(16, "big")
    assert link.span_id == remote.span_id.to_bytes(8, "big")
    assert (link.trace_state, link.flags, link.attributes[0].key) == ("v=1", 0x301, "why")


def test_dropped_counts_and_out_of_range_integers() -> None:
    spans = InMemorySpans()
    tracer = FastTracerProvider(sampler_config("always_on"), SpanLimits(max_attributes=1), spans).get_tracer("t")
    span = tracer.start_span("s", attributes={"big": 2**64 - 1, "extra": 1})
    span.end()
    (pb,) = encoded(spans, {}).resource_spans[0].scope_spans[0].spans
    assert pb.dropped_attributes_count == 1
    assert pb.attributes[0].value.string_value == str(2**64 - 1), "OTLP integers are int64"


def test_cached_attributes_encode_exactly_as_filled_ones() -> None:
    values: list[object] = ["POST", "", "ü" * 200, True, False, 1, 0, -1, 2**63 - 1, 2**63, 1.0, 0.5, float("inf")]
    values += [float("nan"), ["a", 1], {"k": [1, 2]}]
    spans = InMemorySpans()
    tracer = FastTracerProvider(sampler_config("always_on"), SpanLimits(), spans).get_tracer("t")
    for round_ in range(3):  # the first round fills the cache, the later ones read it (and a limit of 5 clears it)
        for i, value in enumerate(values):
            tracer.start_span(f"{round_}-{i}", attributes={"v": value, "route": "/mcp", "id": str(i)}).end()  # type: ignore[dict-item]
    scopes = ScopeTable()
    scopes.update(spans.scopes)
    cached = ExportTraceServiceRequest.FromString(
        encode_request(spans.records, scopes, resource_proto({}), AttributeCache(limit=5))
    )
    for record, span in zip(spans.records, cached.resource_spans[0].scope_spans[0].spans, strict=True):
        reference = Span()
        _fill_attributes(reference.attributes, record[10])
        assert list(span.attributes) == list(reference.attributes), record[10]
    by_name = {span.name: span for span in cached.resource_spans[0].scope_spans[0].spans}
    kinds = [by_name[f"2-{i}"].attributes[0].value.WhichOneof("value") for i in range(5)]
    assert kinds == ["string_value", "string_value", "string_value", "bool_value", "bool_value"]
    assert by_name["2-5"].attributes[0].value.int_value == 1, "1 is not True, though 1 == True"
    assert by_name["2-10"].attributes[0].value.double_value == 1.0, "1.0 is not 1"
    assert by_name["2-9"].attributes[0].value.string_value == str(2**63)
