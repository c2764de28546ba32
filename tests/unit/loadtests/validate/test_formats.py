"""OTLP JSON (hex and base64 ids), Jaeger v1 JSON and store spans all read as the same SpanRecords."""

from __future__ import annotations

import base64
import copy
from typing import Any

import msgspec
import pytest

from loadtests.validate.critical_path import critical_path
from loadtests.validate.formats import (
    SpanFormatError,
    from_jaeger_json,
    from_otlp_json,
    from_store_span,
    from_store_spans,
    parse_jaeger_json,
    parse_json,
    parse_otlp_json,
    to_otlp_json,
)
from loadtests.validate.spans import SpanRecord
from otel.receiver.query import Span

TRACE = "5b8efff798038103d269b633813fc60c"
BASE_US = 1_700_000_000_000_000
IDS = {
    "server": "eee19b7ec3c1b174",
    "tool": "0bb3fd3d2e9b3a01",
    "client": "7c3ba6b4a2d1e0f9",
    "retrieval": "53995c3f42cd8ad8",
    "cache": "a1b2c3d4e5f60718",
    "redis": "00f067aa0ba902b7",
    "search": "9f8e7d6c5b4a3928",
}


def ns(us: int) -> int:
    return (BASE_US + us) * 1000


def record(key: str, parent: str | None, name: str, kind: Any, service: str, start_us: int, end_us: int, **kw: Any):
    return SpanRecord(
        trace_id=TRACE,
        span_id=IDS[key],
        parent_id=IDS[parent] if parent else None,
        name=name,
        kind=kind,
        service=service,
        start_ns=ns(start_us),
        end_ns=ns(end_us),
        **kw,
    )


GW, RT = "pp-gateway", "pp-retrieval"
EXPECTED = sorted(
    [
        record(
            "server",
            None,
            "POST /mcp",
            "server",
            GW,
            0,
            10_000,
            attributes={"http.request.method": "POST", "http.route": "/mcp", "http.response.status_code": 200},
        ),
        record(
            "tool",
            "server",
            "tools/call search_runbooks",
            "internal",
            GW,
            100,
            9_900,
            attributes={"gen_ai.tool.name": "search_runbooks", "mcp.method.name": "tools/call"},
        ),
        record("client", "tool", "POST /v1/runbooks/search", "client", GW, 200, 9_800),
        record("retrieval", "client", "POST /v1/runbooks/search", "server", RT, 500, 9_500),
        record(
            "cache",
            "retrieval",
            "cache.get",
            "internal",
            RT,
            600,
            3_600,
            attributes={"cache.tier": "l2", "cache.hit": False},
        ),
        record("redis", "cache", "GET", "client", RT, 700, 3_500, attributes={"db.system": "redis"}),
        record(
            "search",
            "retrieval",
            "search runbooks",
            "internal",
            RT,
            3_700,
            9_000,
            error=True,
            attributes={"pp.search.results": 3, "pp.score": 0.5},
        ),
    ],
    key=lambda s: s.span_id,
)
EXPECTED_PATH = [
    "POST /mcp",
    "tools/call search_runbooks",
    "POST /v1/runbooks/search",
    "POST /v1/runbooks/search",
    "cache.get",
    "GET",
    "cache.get",
    "POST /v1/runbooks/search",
    "search runbooks",
    "POST /v1/runbooks/search",
    "POST /v1/runbooks/search",
    "tools/call search_runbooks",
    "POST /mcp",
]


def s(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": value}}


def otlp_span(key: str, parent: str | None, name: str, kind: int, start_us: int, end_us: int, **extra: Any):
    out: dict[str, Any] = {
        "traceId": TRACE,
        "spanId": IDS[key],
        "name": name,
        "kind": kind,
        "startTimeUnixNano": str(ns(start_us)),
        "endTimeUnixNano": str(ns(end_us)),
    }
    if parent:
        out["parentSpanId"] = IDS[parent]
    out.update(extra)
    return out


OTLP_HEX: dict[str, Any] = {
    "resourceSpans": [
        {
            "resource": {"attributes": [s("service.name", GW), s("service.instance.id", "gw-1")]},
            "scopeSpans": [
                {
                    "scope": {"name": "personal-pipeline"},
                    "spans": [
                        otlp_span(
                            "server",
                            None,
                            "POST /mcp",
                            2,
                            0,
                            10_000,
                            attributes=[
                                s("http.request.method", "POST"),
                                s("http.route", "/mcp"),
                                {"key": "http.response.status_code", "value": {"intValue": "200"}},
                            ],
                            status={},
                        ),
                        otlp_span(
                            "tool",
                            "server",
                            "tools/call search_runbooks",
                            1,
                            100,
                            9_900,
                            attributes=[s("gen_ai.tool.name", "search_runbooks"), s("mcp.method.name", "tools/call")],
                        ),
                        otlp_span("client", "tool", "POST /v1/runbooks/search", 3, 200, 9_800, status={"code": 1}),
                    ],
                }
            ],
        },
        {
            "resource": {"attributes": [s("service.name", RT)]},
            "scopeSpans": [
                {
                    "scope": {"name": "personal-pipeline"},
                    "spans": [
                        otlp_span("retrieval", "client", "POST /v1/runbooks/search", 2, 500, 9_500),
                        otlp_span(
                            "cache",
                            "retrieval",
                            "cache.get",
                            1,
                            600,
                            3_600,
                            attributes=[s("cache.tier", "l2"), {"key": "cache.hit", "value": {"boolValue": False}}],
                        ),
                        otlp_span(
                            "search",
                            "retrieval",
                            "search runbooks",
                            1,
                            3_700,
                            9_000,
                            attributes=[
                                {"key": "pp.search.results", "value": {"intValue": 3}},
                                {"key": "pp.score", "value": {"doubleValue": 0.5}},
                            ],
                            status={"code": 2, "message": "index closed"},
                        ),
                    ],
                },
                {
                    "scope": {"name": "opentelemetry.instrumentation.redis"},
                    "spans": [otlp_span("redis", "cache", "GET", 3, 700, 3_500, attributes=[s("db.system", "redis")])],
                },
            ],
        },
    ]
}


def b64(hex_id: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_id)).decode()


KIND_NAMES = ["SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT"]


def proto3_variant(doc: dict[str, Any]) -> dict[str, Any]:
    """The same spans as a generic proto3 JSON encoder writes them: base64 ids, enum names, integer times."""
    out = copy.deepcopy(doc)
    for resource_spans in out["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = b64(span[key])
                span["kind"] = KIND_NAMES[span["kind"]]
                span["startTimeUnixNano"] = int(span["startTimeUnixNano"])
                span["endTimeUnixNano"] = int(span["endTimeUnixNano"])
                if span.get("status", {}).get("code") == 2:
                    span["status"] = {"code": "STATUS_CODE_ERROR"}
    return out


def snake_variant(doc: dict[str, Any]) -> dict[str, Any]:
    """Proto field names instead of camelCase."""
    out = copy.deepcopy(doc)
    renames = {
        "traceId": "trace_id",
        "spanId": "span_id",
        "parentSpanId": "parent_span_id",
        "startTimeUnixNano": "start_time_unix_nano",
        "endTimeUnixNano": "end_time_unix_nano",
    }
    out["resource_spans"] = out.pop("resourceSpans")
    for resource_spans in out["resource_spans"]:
        resource_spans["scope_spans"] = resource_spans.pop("scopeSpans")
        for scope_spans in resource_spans["scope_spans"]:
            scope_spans["spans"] = [{renames.get(k, k): v for k, v in span.items()} for span in scope_spans["spans"]]
    return out


def tag(key: str, value: Any, kind: str = "string") -> dict[str, Any]:
    return {"key": key, "type": kind, "value": value}


def jaeger_span(key: str, parent: str | None, name: str, kind: str, process: str, start_us: int, end_us: int, *tags):
    return {
        "traceID": TRACE,
        "spanID": IDS[key],
        "operationName": name,
        "references": [{"refType": "CHILD_OF", "traceID": TRACE, "spanID": IDS[parent]}] if parent else [],
        "startTime": BASE_US + start_us,
        "duration": end_us - start_us,
        "tags": [*tags, tag("span.kind", kind), tag("otel.scope.name", "personal-pipeline")],
        "logs": [],
        "processID": process,
        "warnings": None,
    }


JAEGER: dict[str, Any] = {
    "data": [
        {
            "traceID": TRACE,
            "spans": [
                jaeger_span(
                    "server",
                    None,
                    "POST /mcp",
                    "server",
                    "p1",
                    0,
                    10_000,
                    tag("http.request.method", "POST"),
                    tag("http.route", "/mcp"),
                    tag("http.response.status_code", 200, "int64"),
                ),
                jaeger_span(
                    "tool",
                    "server",
                    "tools/call search_runbooks",
                    "internal",
                    "p1",
                    100,
                    9_900,
                    tag("gen_ai.tool.name", "search_runbooks"),
                    tag("mcp.method.name", "tools/call"),
                ),
                jaeger_span(
                    "client",
                    "tool",
                    "POST /v1/runbooks/search",
                    "client",
                    "p1",
                    200,
                    9_800,
                    tag("otel.status_code", "OK"),
                ),
                jaeger_span("retrieval", "client", "POST /v1/runbooks/search", "server", "p2", 500, 9_500),
                jaeger_span(
                    "cache",
                    "retrieval",
                    "cache.get",
                    "internal",
                    "p2",
                    600,
                    3_600,
                    tag("cache.tier", "l2"),
                    tag("cache.hit", False, "bool"),
                ),
                jaeger_span("redis", "cache", "GET", "client", "p2", 700, 3_500, tag("db.system", "redis")),
                jaeger_span(
                    "search",
                    "retrieval",
                    "search runbooks",
                    "internal",
                    "p2",
                    3_700,
                    9_000,
                    tag("pp.search.results", 3, "int64"),
                    tag("pp.score", 0.5, "float64"),
                    tag("otel.status_code", "ERROR"),
                    tag("otel.status_description", "index closed"),
                    tag("error", True, "bool"),
                ),
            ],
            "processes": {
                "p1": {"serviceName": GW, "tags": [tag("service.instance.id", "gw-1")]},
                "p2": {"serviceName": RT, "tags": []},
            },
            "warnings": None,
        }
    ],
    "total": 0,
    "limit": 0,
    "offset": 0,
    "errors": None,
}


def by_id(spans: list[SpanRecord]) -> list[SpanRecord]:
    return sorted(spans, key=lambda span: span.span_id)


def names(spans: list[SpanRecord]) -> list[str]:
    return [section.name for section in critical_path(spans)]


# --- the same trace, every way ----------------------------------------------------------------------------------


def test_the_expected_trace_has_the_expected_path() -> None:
    assert names(EXPECTED) == EXPECTED_PATH


@pytest.mark.parametrize(
    "doc",
    [OTLP_HEX, proto3_variant(OTLP_HEX), snake_variant(OTLP_HEX), {"result": OTLP_HEX}],
    ids=["hex", "base64-enum-names", "snake-case", "api-v3"],
)
def test_otlp_json_reads_as_the_expected_records(doc: dict[str, Any]) -> None:
    spans = from_otlp_json(doc)
    assert by_id(spans) == EXPECTED
    assert names(spans) == EXPECTED_PATH


def test_base64_ids_really_are_base64() -> None:
    variant = proto3_variant(OTLP_HEX)
    first = variant["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert len(first["traceId"]) == 24 and len(first["spanId"]) == 12
    urlsafe = copy.deepcopy(variant)
    for resource_spans in urlsafe["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = span[key].replace("+", "-").replace("/", "_").rstrip("=")
    assert by_id(from_otlp_json(urlsafe)) == EXPECTED


def test_jaeger_json_reads_as_the_expected_records() -> None:
    spans = from_jaeger_json(JAEGER)
    assert by_id(spans) == EXPECTED
    assert names(spans) == EXPECTED_PATH
    assert critical_path(spans) == critical_path(from_otlp_json(OTLP_HEX))


def test_text_parsers_and_detection() -> None:
    lines = b"\n".join(
        msgspec.json.encode({"resourceSpans": [resource_spans]}) for resource_spans in OTLP_HEX["resourceSpans"]
    )
    assert by_id(parse_otlp_json(lines + b"\n\n")) == EXPECTED
    assert by_id(parse_otlp_json(msgspec.json.encode(OTLP_HEX).decode())) == EXPECTED
    assert by_id(parse_jaeger_json(msgspec.json.encode(JAEGER))) == EXPECTED
    assert by_id(parse_json(lines)) == EXPECTED
    assert by_id(parse_json(msgspec.json.encode(JAEGER))) == EXPECTED
    assert by_id(parse_json(msgspec.json.encode({"result": OTLP_HEX}))) == EXPECTED


def test_jaeger_document_shapes_and_details() -> None:
    trace = copy.deepcopy(JAEGER["data"][0])
    assert by_id(from_jaeger_json(trace)) == EXPECTED  # one bare trace
    assert by_id(from_jaeger_json([trace])) == EXPECTED  # a bare list
    assert by_id(from_jaeger_json({"data": trace})) == EXPECTED
    short = {
        "traceID": "d269b633813fc60c",  # a 64-bit trace id
        "spans": [
            {
                "spanID": "1",
                "operationName": "consume",
                "references": [
                    {"refType": "FOLLOWS_FROM", "traceID": TRACE, "spanID": IDS["server"]},
                    {"refType": "CHILD_OF", "spanID": "ab"},
                ],
                "startTime": 5,
                "duration": 2,
                "tags": [tag("error", "true")],
                "process": {"serviceName": "worker"},
            },
            {"spanID": "2", "operationName": "link-only", "startTime": 5, "duration": 0, "processID": "nope"},
        ],
    }
    first, second = from_jaeger_json(short)
    assert first.trace_id == "0000000000000000d269b633813fc60c"
    assert first.span_id == "0000000000000001"
    assert first.parent_id == "00000000000000ab"
    assert (first.service, first.kind, first.error, first.start_ns, first.end_ns) == (
        "worker",
        "unspecified",
        True,
        5000,
        7000,
    )
    assert (second.parent_id, second.service) == (None, "unknown_service")


def test_otlp_details() -> None:
    doc = {
        "resourceSpans": [
            {
                "resource": {},
                "instrumentationLibrarySpans": [
                    {
                        "spans": [
                            {
                                "traceId": TRACE,
                                "spanId": IDS["server"],
                                "parentSpanId": "",
                                "name": "x",
                                "startTimeUnixNano": 1,
                                "endTimeUnixNano": "2",
                                "attributes": [
                                    {
                                        "key": "list",
                                        "value": {"arrayValue": {"values": [{"intValue": "1"}, {"stringValue": "a"}]}},
                                    },
                                    {
                                        "key": "map",
                                        "value": {
                                            "kvlistValue": {"values": [{"key": "k", "value": {"boolValue": True}}]}
                                        },
                                    },
                                    {"key": "empty", "value": {}},
                                ],
                            },
                            {
                                "traceId": TRACE,
                                "spanId": IDS["tool"],
                                "parentSpanId": "0000000000000000",
                                "name": "y",
                                "kind": "SPAN_KIND_PRODUCER",
                                "startTimeUnixNano": "1",
                                "endTimeUnixNano": "1",
                            },
                        ]
                    }
                ],
            }
        ]
    }
    first, second = from_otlp_json(doc)
    assert first.service == "unknown_service"
    assert first.parent_id is None and second.parent_id is None
    assert first.kind == "unspecified" and second.kind == "producer"
    assert first.attributes == {"list": [1, "a"], "map": {"k": True}, "empty": None}


@pytest.mark.parametrize(
    "doc",
    [
        {"spans": []},
        {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "abc", "spanId": IDS["tool"]}]}]}]},
        {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": TRACE, "spanId": "zz" * 8}]}]}]},
        {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": TRACE, "spanId": IDS["tool"]}]}]}]},  # no times
        "nonsense",
    ],
)
def test_malformed_otlp_raises(doc: Any) -> None:
    with pytest.raises(SpanFormatError):
        from_otlp_json(doc)


def test_malformed_text_raises() -> None:
    with pytest.raises(SpanFormatError, match="line 2"):
        parse_otlp_json(b'{"resourceSpans": []}\n{not json\n')
    with pytest.raises(SpanFormatError):
        from_jaeger_json({"nothing": 1})
    with pytest.raises(SpanFormatError):
        from_jaeger_json({"data": [{"spans": [{"spanID": "1"}]}]})


# --- out and back ---------------------------------------------------------------------------------------------------


def test_to_otlp_json_round_trips() -> None:
    extra = SpanRecord(
        trace_id=TRACE,
        span_id="1111111111111111",
        parent_id=IDS["search"],
        name="odd values",
        kind="consumer",
        service=RT,
        start_ns=ns(3_800),
        end_ns=ns(3_900),
        attributes={"neg": -5, "f": 1.25, "list": [1, "two", 3.5, True], "map": {"a": {"b": [1]}}},
    )
    spans = [*EXPECTED, extra]
    doc = to_otlp_json(spans)
    back = parse_otlp_json(msgspec.json.encode(doc))
    assert by_id(back) == by_id(spans)
    assert [r["resource"]["attributes"][0]["value"]["stringValue"] for r in doc["resourceSpans"]] == sorted(
        {GW, RT}, key=[s.service for s in spans].index
    )
    written = {span["spanId"]: span for r in doc["resourceSpans"] for span in r["scopeSpans"][0]["spans"]}
    assert written[IDS["server"]]["kind"] == 2 and "parentSpanId" not in written[IDS["server"]]
    assert written[IDS["search"]]["status"] == {"code": 2}
    assert written[IDS["server"]]["startTimeUnixNano"] == str(ns(0))
    assert written[IDS["redis"]]["parentSpanId"] == IDS["cache"]


def test_to_otlp_json_of_nothing() -> None:
    assert to_otlp_json([]) == {"resourceSpans": []}
    assert from_otlp_json(to_otlp_json([])) == []


# --- the embedded store ---------------------------------------------------------------------------------------------


def store_span(**changes: Any) -> Span:
    fields: dict[str, Any] = {
        "trace_id": TRACE,
        "span_id": IDS["redis"],
        "parent_span_id": IDS["cache"],
        "name": "GET",
        "kind": 3,
        "service_name": RT,
        "service_instance_id": "rt-1",
        "run_id": None,
        "start_ns": ns(700),
        "end_ns": ns(3_500),
        "duration_ns": ns(3_500) - ns(700),
        "status_code": 0,
        "status_message": "",
        "attributes": {"db.system": "redis"},
        "events": [],
        "links": [],
        "resource": {"service.name": RT},
        "scope_name": "opentelemetry.instrumentation.redis",
        "scope_version": "0.66b0",
    }
    fields.update(changes)
    return Span(**fields)


def test_from_store_span() -> None:
    redis = next(span for span in EXPECTED if span.name == "GET")
    assert from_store_span(store_span()) == redis
    failed = from_store_span(store_span(status_code=2, kind=9, parent_span_id=None))
    assert (failed.error, failed.kind, failed.parent_id) == (True, "unspecified", None)
    assert from_store_spans([store_span(), store_span(kind=5)])[1].kind == "consumer"


def test_collector_state_is_restored() -> None:
    import gc

    assert gc.isenabled()
    parse_otlp_json(msgspec.json.encode(OTLP_HEX))
    assert gc.isenabled()
    with pytest.raises(SpanFormatError):
        from_otlp_json("nonsense")
    assert gc.isenabled()
    gc.disable()
    try:
        from_jaeger_json(JAEGER)
        assert not gc.isenabled()
    finally:
        gc.enable()
