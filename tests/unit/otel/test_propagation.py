"""The fast traceparent/baggage parser agrees with the stock W3C propagators, header by header."""

from __future__ import annotations

import pytest
from opentelemetry import baggage, context, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.instrumentation.asgi import asgi_getter
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from otel.propagation import extract_context, header_lines, inject_headers, traceparent

STOCK = CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
VALID = f"00-{TRACE}-{SPAN}-01"

TRACEPARENTS = [
    pytest.param(VALID, id="valid sampled"),
    pytest.param(f"00-{TRACE}-{SPAN}-00", id="valid unsampled"),
    pytest.param(f"00-{TRACE}-{SPAN}-03", id="random-trace-id flag"),
    pytest.param(f"  {VALID}\t", id="surrounding whitespace"),
    pytest.param(f"cc-{TRACE}-{SPAN}-01-what-the-future-holds", id="future version with more fields"),
    pytest.param(f"cc-{TRACE}-{SPAN}-01", id="future version"),
    pytest.param(f"00-{TRACE}-{SPAN}-01-extra", id="version 00 with more fields"),
    pytest.param(f"ff-{TRACE}-{SPAN}-01", id="version ff"),
    pytest.param(f"00-{'0' * 32}-{SPAN}-01", id="zero trace id"),
    pytest.param(f"00-{TRACE}-{'0' * 16}-01", id="zero span id"),
    pytest.param(f"00-{TRACE.upper()}-{SPAN}-01", id="upper-case hex"),
    pytest.param(f"00-{TRACE[:-1]}-{SPAN}-01", id="short trace id"),
    pytest.param(f"00-{TRACE}-{SPAN}0-01", id="long span id"),
    pytest.param(f"00_{TRACE}_{SPAN}_01", id="wrong separators"),
    pytest.param(f"0-{TRACE}-{SPAN}-01", id="short version"),
    pytest.param(f"00-{TRACE}-{SPAN}-1", id="short flags"),
    pytest.param(f"00-{TRACE}-{SPAN}-0g", id="non-hex flags"),
    pytest.param("", id="empty"),
    pytest.param("garbage", id="garbage"),
    pytest.param(f"cc-{TRACE}-{SPAN}-01-" + "x" * 600, id="over 512 characters"),
]

BAGGAGES = [
    pytest.param("pp.run_id=run-1,pp.scenario=storm,pp.vu=17", id="typical"),
    pytest.param("key1 = value1 ,  key2=value2", id="optional whitespace"),
    pytest.param("k=v;prop1;prop2=p2", id="properties"),
    pytest.param("k=v;", id="empty property"),
    pytest.param("k=hello%20world,plus=a+b,pct=100%25", id="percent-encoding"),
    pytest.param("a=1,a=2", id="duplicate key"),
    pytest.param("novalue,k=v", id="member without equals"),
    pytest.param("bad key=v,ok=1", id="space in key"),
    pytest.param("k=v,v", id="trailing junk"),
    pytest.param("k=bad\\value,ok=1", id="backslash in value"),
    pytest.param("k=bad,value", id="comma splits members"),
    pytest.param("k=é,ok=1", id="non-ascii member"),
    pytest.param(",,k=v,,", id="empty members"),
    pytest.param("k=" + "v" * 5000 + ",ok=1", id="member over 4096"),
    pytest.param(",".join(f"k{i}=v" for i in range(200)), id="over 180 members"),
    pytest.param("k=v," + "x" * 8200, id="header over 8192 bytes"),
    pytest.param("", id="empty"),
]

TRACESTATES = [
    pytest.param(None, id="absent"),
    pytest.param(["vendor=opaque,other=value"], id="one header"),
    pytest.param(["a=1", "b=2"], id="two headers"),
    pytest.param(["Invalid Key=1"], id="invalid member empties it"),
    pytest.param(["a=1,a=2"], id="duplicate key empties it"),
    pytest.param(["k=" + "v" * 250 + "," + ",".join(f"k{i}=v" for i in range(40))], id="too many members"),
    pytest.param(["a=" + "x" * 8200], id="over 8192"),
]


def stock(headers: list[tuple[bytes, bytes]]) -> context.Context:
    return STOCK.extract({"type": "http", "headers": headers}, getter=asgi_getter)


def assert_same(headers: list[tuple[bytes, bytes]]) -> None:
    ours, theirs = extract_context(headers), stock(headers)
    our_span, their_span = trace.get_current_span(ours), trace.get_current_span(theirs)
    assert our_span.get_span_context() == their_span.get_span_context()
    assert type(our_span) is type(their_span)
    assert dict(baggage.get_all(ours)) == dict(baggage.get_all(theirs))
    assert set(ours) == set(theirs), "the same context keys"


@pytest.mark.parametrize("value", TRACEPARENTS)
def test_traceparent_matches_the_stock_propagator(value: str) -> None:
    assert_same([(b"host", b"x"), (b"traceparent", value.encode())])


@pytest.mark.parametrize("value", BAGGAGES)
def test_baggage_matches_the_stock_propagator(value: str) -> None:
    assert_same([(b"baggage", value.encode())])
    assert_same([(b"traceparent", VALID.encode()), (b"baggage", value.encode())])


@pytest.mark.parametrize("values", TRACESTATES)
def test_tracestate_matches_the_stock_propagator(values: list[str] | None) -> None:
    headers = [(b"traceparent", VALID.encode())] + [(b"tracestate", value.encode()) for value in values or []]
    assert_same(headers)


def test_repeated_headers_use_the_first_like_the_stock_propagator() -> None:
    other = f"00-{'1' * 32}-{'2' * 16}-01"
    assert_same([(b"traceparent", VALID.encode()), (b"traceparent", other.encode())])
    assert_same([(b"baggage", b"a=1"), (b"baggage", b"b=2")])
    assert_same([(b"traceparent", b"garbage"), (b"traceparent", VALID.encode())])


def test_no_headers_gives_an_empty_context() -> None:
    assert extract_context([]) == context.Context()
    assert_same([(b"host", b"example"), (b"content-type", b"application/json")])


def test_the_extracted_parent_is_remote_and_usable_as_a_parent() -> None:
    ctx = extract_context([(b"traceparent", VALID.encode()), (b"tracestate", b"vendor=opaque")])
    span = trace.get_current_span(ctx)
    assert isinstance(span, NonRecordingSpan)
    parent = span.get_span_context()
    assert parent.is_remote
    assert f"{parent.trace_id:032x}" == TRACE
    assert parent.trace_state == TraceState([("vendor", "opaque")])


def test_inject_matches_the_stock_propagator() -> None:
    span_context = SpanContext(
        int(TRACE, 16), int(SPAN, 16), False, TraceFlags(TraceFlags.SAMPLED), TraceState([("vendor", "opaque")])
    )
    ctx = trace.set_span_in_context(NonRecordingSpan(span_context))
    ctx = baggage.set_baggage("pp.run_id", "run 1/a", ctx)
    ctx = baggage.set_baggage("pp.vu", "17", ctx)
    ours: dict[str, str] = {}
    theirs: dict[str, str] = {}
    inject_headers(ours, ctx)
    STOCK.inject(theirs, ctx)
    assert ours == theirs
    assert ours["traceparent"] == traceparent(span_context) == VALID
    lines = header_lines(ctx)
    assert lines.startswith(f"traceparent: {VALID}\r\n".encode())
    assert b"tracestate: vendor=opaque\r\n" in lines
    assert lines.endswith(b"baggage: pp.run_id=run+1%2Fa,pp.vu=17\r\n")


def test_inject_uses_the_current_context_and_skips_invalid_spans() -> None:
    carrier: dict[str, str] = {}
    inject_headers(carrier)
    assert carrier == {}
    assert header_lines() == b""
    span_context = SpanContext(int(TRACE, 16), int(SPAN, 16), False, TraceFlags(0))
    token = context.attach(trace.set_span_in_context(NonRecordingSpan(span_context)))
    try:
        inject_headers(carrier)
    finally:
        context.detach(token)
    assert carrier == {"traceparent": f"00-{TRACE}-{SPAN}-00"}


def test_extract_then_inject_round_trips() -> None:
    headers = [(b"traceparent", VALID.encode()), (b"baggage", b"pp.run_id=r1,pp.scenario=storm")]
    carrier: dict[str, str] = {}
    inject_headers(carrier, extract_context(headers))
    assert carrier == {"traceparent": VALID, "baggage": "pp.run_id=r1,pp.scenario=storm"}
