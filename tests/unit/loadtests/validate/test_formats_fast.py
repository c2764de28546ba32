"""The typed OTLP JSON fast path (``otlp_json_resources``) reads odd documents as the dict path does.

Big files are read the typed way and everything else the generic way (``from_otlp_json``), so the two must never
disagree: on the documents the typed path takes, it gives the same records; on those it declines (``None``), the
file reader falls back and still gives the same spans with the same run ids.
"""

from __future__ import annotations

import base64
from typing import Any

import msgspec
import pytest

from loadtests.validate.formats import SpanFormatError, from_otlp_json, otlp_json_resources
from loadtests.validate.sources._otlp import spans_with_run, spans_with_run_json

TRACE = bytes(range(0xA0, 0xB0))
ROOT, CHILD = bytes(range(1, 9)), bytes(range(0xF8, 0x100))


def b64(raw: bytes, *, urlsafe: bool = False, padded: bool = True) -> str:
    text = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(raw).decode()
    return text if padded else text.rstrip("=")


def kv(key: str, value: Any) -> dict[str, Any]:
    return {"key": key, "value": value}


def request(*spans: dict[str, Any], resource: list[dict[str, Any]] | None = None, snake: bool = False) -> Any:
    """One export request with one resource (``snake``: the proto field names) and one scope."""
    scope = {"scope": {"name": "s"}, "spans": list(spans)}
    resource_spans = {
        "resource": {"attributes": resource if resource is not None else [kv("service.name", {"stringValue": "svc"})]},
        ("scope_spans" if snake else "scopeSpans"): [scope],
    }
    return {("resource_spans" if snake else "resourceSpans"): [resource_spans]}


def span(ident: bytes = ROOT, parent: Any = None, **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "traceId": TRACE.hex(),
        "spanId": ident.hex(),
        "name": "op",
        "kind": 2,
        "startTimeUnixNano": "1000",
        "endTimeUnixNano": "2000",
    }
    if parent is not None:
        out["parentSpanId"] = parent
    out.update(fields)
    return out


SNAKE_SPAN = {
    "trace_id": TRACE.hex(),
    "span_id": CHILD.hex(),
    "parent_span_id": ROOT.hex(),
    "name": "child",
    "kind": "SPAN_KIND_CLIENT",
    "start_time_unix_nano": 1500,
    "end_time_unix_nano": "1600",
    "status": {"code": "STATUS_CODE_ERROR", "message": "no"},
    "attributes": [
        kv("s", {"string_value": "text"}),
        kv("i", {"int_value": "-7"}),
        kv("d", {"double_value": 0.5}),
        kv("b", {"bool_value": False}),
        kv("a", {"array_value": {"values": [{"int_value": 1}, {"string_value": "two"}]}}),
        kv("m", {"kvlist_value": {"values": [kv("inner", {"bool_value": True})]}}),
        kv("raw", {"bytes_value": "AAE="}),
        kv("pp.run.id", {"string_value": "r-span"}),
    ],
}

TAKEN: dict[str, Any] = {
    "snake_case": request(
        SNAKE_SPAN,
        resource=[kv("service.name", {"string_value": "snake"}), kv("pp.run.id", {"string_value": "r-res"})],
        snake=True,
    ),
    "base64 ids": request(
        span(ROOT, traceId=b64(TRACE), spanId=b64(ROOT, padded=False)),
        span(CHILD, b64(ROOT, urlsafe=True), traceId=b64(TRACE, urlsafe=True), spanId=b64(CHILD, urlsafe=True)),
    ),
    "upper-case hex and zero parents": request(
        span(CHILD, "0000000000000000", traceId=TRACE.hex().upper(), spanId=CHILD.hex().upper()),
        span(ROOT, CHILD.hex().upper()),
        span(bytes(range(20, 28)), ""),
        span(bytes(range(30, 38)), b64(bytes(8))),
    ),
    "api_v3 result": {"result": request(span(ROOT, attributes=[kv("pp.run.id", {"stringValue": "r1"})]))},
    "explicit nulls": request(
        span(ROOT, name=None, kind=None, attributes=None, status=None, parentSpanId=None),
        span(CHILD, ROOT.hex(), status={"code": None}, attributes=[kv("n", None), {"key": "no value"}, kv("e", {})]),
        resource=[kv("service.name", None)],
    ),
    "null members around the spans": {
        "result": None,
        "resourceSpans": [
            {"resource": None, "scopeSpans": None, "scope_spans": [{"spans": [span()]}, {"spans": None}]},
            {"resource": {"attributes": None}, "scopeSpans": [{"spans": [span(CHILD, ROOT.hex())]}]},
        ],
    },
    "enum names, numbers and strings": request(
        span(ROOT, kind="SPAN_KIND_INTERNAL", status={"code": 2}, startTimeUnixNano=5, endTimeUnixNano="6"),
        span(CHILD, kind="SERVER", status={"code": "2"}),
        span(bytes(range(40, 48)), kind="consumer", status={"code": "STATUS_CODE_OK"}),
        span(bytes(range(50, 58)), kind=99, status={"code": 1}),
        span(bytes(range(60, 68)), kind="SPAN_KIND_NONSENSE"),
    ),
    "string-typed scalars": request(
        span(
            attributes=[
                kv("t", {"boolValue": "true"}),
                kv("f", {"boolValue": "false"}),
                kv("d", {"doubleValue": "2.5"}),
                kv("big", {"intValue": str(2**62)}),
                kv("n", {"intValue": 3}),
            ]
        )
    ),
    "instrumentation library spans": {
        "resourceSpans": [
            {"instrumentationLibrarySpans": [{"spans": [span()]}]},
            {"instrumentation_library_spans": [{"spans": [span(CHILD, ROOT.hex())]}]},
        ]
    },
    "no spans at all": {"resourceSpans": []},
}
"""Documents the typed path reads itself."""

DECLINED: dict[str, Any] = {
    "non-object attribute values": request(span(attributes=[kv("plain", "text"), kv("number", 3), kv("list", [1])])),
    "a null inside a value": request(span(attributes=[kv("s", {"stringValue": None})])),
    "a non-object resource value": request(span(), resource=[kv("service.name", "bare"), kv("pp.run.id", "r-bare")]),
    "a float time": request(span(startTimeUnixNano=1000.0)),
}
"""Documents the typed path hands to the generic one."""


def fast_records(doc: Any) -> list[Any] | None:
    found = otlp_json_resources(msgspec.json.encode(doc))
    return None if found is None else [record for _, records in found for record in records]


@pytest.mark.parametrize("name", TAKEN)
def test_the_typed_path_reads_as_the_dict_path(name: str) -> None:
    doc = TAKEN[name]
    fast = fast_records(doc)
    assert fast is not None, "the typed path should read this document itself"
    assert fast == from_otlp_json(msgspec.json.decode(msgspec.json.encode(doc)))
    assert spans_with_run_json(msgspec.json.encode(doc)) == list(spans_with_run(doc))


@pytest.mark.parametrize("name", DECLINED)
def test_what_the_typed_path_declines_reads_the_same_the_generic_way(name: str) -> None:
    doc = DECLINED[name]
    assert fast_records(doc) is None
    assert spans_with_run_json(msgspec.json.encode(doc)) == list(spans_with_run(doc))
    assert [record for record, _ in spans_with_run_json(msgspec.json.encode(doc))] == from_otlp_json(doc)


def test_the_odd_documents_read_as_expected() -> None:
    """What the two paths agree on is right, not just the same (a few values worked out by hand)."""
    ((resource, (child,)),) = otlp_json_resources(msgspec.json.encode(TAKEN["snake_case"])) or []
    assert resource == {"service.name": "snake", "pp.run.id": "r-res"}
    assert (child.trace_id, child.span_id, child.parent_id) == (TRACE.hex(), CHILD.hex(), ROOT.hex())
    assert (child.name, child.kind, child.service, child.start_ns, child.end_ns, child.error) == (
        "child",
        "client",
        "snake",
        1500,
        1600,
        True,
    )
    assert child.attributes == {
        "s": "text",
        "i": -7,
        "d": 0.5,
        "b": False,
        "a": [1, "two"],
        "m": {"inner": True},
        "raw": "AAE=",
        "pp.run.id": "r-span",
    }
    assert [run for _, run in spans_with_run_json(msgspec.json.encode(TAKEN["snake_case"]))] == ["r-span"]
    base64_ids = fast_records(TAKEN["base64 ids"]) or []
    assert [(r.trace_id, r.span_id, r.parent_id) for r in base64_ids] == [
        (TRACE.hex(), ROOT.hex(), None),
        (TRACE.hex(), CHILD.hex(), ROOT.hex()),
    ]
    upper = fast_records(TAKEN["upper-case hex and zero parents"]) or []
    assert [(r.trace_id, r.span_id, r.parent_id) for r in upper[:2]] == [
        (TRACE.hex(), CHILD.hex(), None),
        (TRACE.hex(), ROOT.hex(), CHILD.hex()),
    ]
    assert [r.parent_id for r in upper[2:]] == [None, None]
    nulls = fast_records(TAKEN["explicit nulls"]) or []
    assert [(r.name, r.kind, r.service, r.attributes) for r in nulls] == [
        ("", "unspecified", "unknown_service", {}),
        ("op", "server", "unknown_service", {"n": None, "no value": None, "e": None}),
    ]
    kinds = fast_records(TAKEN["enum names, numbers and strings"]) or []
    assert [(r.kind, r.error) for r in kinds] == [
        ("internal", True),
        ("server", True),
        ("consumer", False),
        ("unspecified", False),
        ("unspecified", False),
    ]
    (scalars,) = fast_records(TAKEN["string-typed scalars"]) or []
    assert scalars.attributes == {"t": True, "f": False, "d": 2.5, "big": 2**62, "n": 3}
    declined = spans_with_run_json(msgspec.json.encode(DECLINED["a non-object resource value"]))
    assert [(record.service, run) for record, run in declined] == [("bare", "r-bare")]


@pytest.mark.parametrize(
    ("bad", "typed"),
    [
        (request(span(traceId="not an id")), True),
        (request(span(spanId=ROOT.hex()[:-2])), True),
        (request(span(ROOT, parent="zz")), True),
        (request(span(startTimeUnixNano="soon")), True),
        (request({"spanId": ROOT.hex(), "startTimeUnixNano": "1", "endTimeUnixNano": "2"}), True),
        (request(span(spanId=12345)), False),  # the typed path declines it, the generic one refuses it
    ],
)
def test_both_paths_refuse_the_same_malformed_spans(bad: Any, typed: bool) -> None:
    text = msgspec.json.encode(bad)
    if typed:
        with pytest.raises(SpanFormatError):
            otlp_json_resources(text)
    else:
        assert otlp_json_resources(text) is None
    with pytest.raises(SpanFormatError):
        spans_with_run_json(text)
    with pytest.raises(SpanFormatError):
        from_otlp_json(bad)
