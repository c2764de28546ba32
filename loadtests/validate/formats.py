"""Span formats in and out of ``SpanRecord``: OTLP JSON, Jaeger v1 JSON, the embedded store; OTLP JSON back out.

- **OTLP JSON** is what the collector's file exporter writes (one ``{"resourceSpans": [...]}`` per line) and what
  Jaeger's api_v3 returns under ``result``. OTLP's own JSON encoding writes ids in hex, but a generic proto3 JSON
  encoder writes bytes as base64; both are read (told apart by length and alphabet). Kinds and status codes may be
  integers or enum names, 64-bit integers numbers or strings, and field names camelCase or the proto names.
- **Jaeger v1 JSON** (``/api/traces``, the UI's "Download JSON") carries the parent as a ``CHILD_OF`` reference,
  times in microseconds, the kind as a ``span.kind`` tag and the status as ``error``/``otel.status_code`` tags.
  The tags Jaeger adds when it translates OTLP are removed again, so the same span reads the same either way.
- ``to_otlp_json`` writes spans (say, exemplar traces) as one OTLP JSON document that Jaeger UI's "JSON File"
  upload opens.
"""

from __future__ import annotations

import base64
import binascii
import functools
import gc
import math
import re
from typing import TYPE_CHECKING, Any, Final, ParamSpec, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from loadtests.validate.spans import SpanKind, SpanRecord

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from otel.receiver.query import Span

__all__ = (
    "SpanFormatError",
    "from_jaeger_json",
    "from_otlp_json",
    "from_store_span",
    "from_store_spans",
    "otlp_json_resources",
    "parse_jaeger_json",
    "parse_json",
    "parse_otlp_json",
    "to_otlp_json",
)

KINDS: Final[tuple[SpanKind, ...]] = ("unspecified", "internal", "server", "client", "producer", "consumer")
"""Span kinds by their OTLP number."""
_KINDS = KINDS
_KIND_NUMBER: Final[dict[str, int]] = {kind: number for number, kind in enumerate(_KINDS)}
_KIND_BY_NAME: Final[dict[str, SpanKind]] = {
    **{f"SPAN_KIND_{kind.upper()}": kind for kind in _KINDS},
    **{kind.upper(): kind for kind in _KINDS},
    **{kind: kind for kind in _KINDS},
}
_STATUS_ERROR: Final = 2
_HEX: Final = frozenset("0123456789abcdefABCDEF")

_JAEGER_ONLY_TAGS: Final = frozenset(
    {
        "span.kind",
        "error",
        "otel.status_code",
        "otel.status_description",
        "otel.scope.name",
        "otel.scope.version",
        "otel.library.name",
        "otel.library.version",
        "internal.span.format",
        "w3c.tracestate",
    }
)
"""Tags Jaeger derives from OTLP fields (kind, status, scope, trace state): not span attributes."""

_decode = msgspec.json.Decoder().decode


class SpanFormatError(ValueError):
    """The input is not spans in the expected format (bad JSON, a missing field, an id of the wrong size)."""


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _gc_paused(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """No cyclic GC while millions of acyclic dicts and spans are built: it would rescan them all, again and again.

    Decoding and converting 100k spans took 2.1 s with the collector running and 0.6 s without.
    """

    @functools.wraps(function)
    def paused(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return paused


# --- ids and small values -----------------------------------------------------------------------------------------


def _id(value: Any, size: int, what: str) -> str:
    """A hex or base64 id of ``size`` bytes as lowercase hex."""
    if isinstance(value, str):
        if len(value) == 2 * size and _HEX.issuperset(value):
            return value.lower()
        text = value.strip()
        try:
            raw = base64.b64decode(
                text + "=" * (-len(text) % 4), altchars=b"-_" if "-" in text or "_" in text else None, validate=True
            )
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) == size:
            return raw.hex()
    raise SpanFormatError(f"{what} {str(value)[:48]!r} is neither {2 * size} hex digits nor base64 of {size} bytes")


def _parent_id(value: Any) -> str | None:
    if value is None or value == "":
        return None
    hex_id = _id(value, 8, "parent span id")
    return None if hex_id == "0000000000000000" else hex_id


def _int(value: Any, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise SpanFormatError(f"{what} {value!r} is not an integer")


def _first(node: dict[str, Any], camel: str, snake: str) -> Any:
    value = node.get(camel)
    return node.get(snake) if value is None else value


def _otlp_kind(value: Any) -> SpanKind:
    if isinstance(value, int) and 0 <= value < len(_KINDS):
        return _KINDS[value]
    if isinstance(value, str):
        return _KIND_BY_NAME.get(value, "unspecified")
    return "unspecified"


def _otlp_error(status: Any) -> bool:
    if not isinstance(status, dict):
        return False
    code = status.get("code")
    return code == _STATUS_ERROR or code == "STATUS_CODE_ERROR" or code == "2"


# --- OTLP JSON in -------------------------------------------------------------------------------------------------


def _any_value(value: Any) -> Any:
    """An OTLP ``AnyValue`` as a plain Python value."""
    if not isinstance(value, dict):
        return value
    for key, found in value.items():
        if key in ("stringValue", "string_value"):
            return found
        if key in ("boolValue", "bool_value"):
            return found if isinstance(found, bool) else found == "true"
        if key in ("intValue", "int_value"):
            return _int(found, "intValue")
        if key in ("doubleValue", "double_value"):
            return float(found)
        if key in ("arrayValue", "array_value"):
            return [_any_value(item) for item in (found or {}).get("values") or ()]
        if key in ("kvlistValue", "kvlist_value"):
            return _attributes((found or {}).get("values"))
        if key in ("bytesValue", "bytes_value"):
            return found
    return None


def _attributes(items: Any) -> dict[str, Any]:
    if not items:
        return {}
    return {item["key"]: _any_value(item.get("value")) for item in items}


def _resource_spans(doc: Any) -> Iterator[dict[str, Any]]:
    """The ``ResourceSpans`` of a document: an export request, an api_v3 answer, or a list of either."""
    if isinstance(doc, list):
        for item in doc:
            yield from _resource_spans(item)
        return
    if not isinstance(doc, dict):
        raise SpanFormatError(f"expected an OTLP JSON object, got {type(doc).__name__}")
    if "result" in doc and isinstance(doc["result"], dict):
        doc = doc["result"]
    found = _first(doc, "resourceSpans", "resource_spans")
    if found is None:
        raise SpanFormatError("no resourceSpans in the document")
    yield from found


@_gc_paused
def from_otlp_json(doc: Any) -> list[SpanRecord]:
    """Spans of a decoded OTLP JSON document (``{"resourceSpans": ...}``, ``{"result": {...}}`` or a list)."""
    out: list[SpanRecord] = []
    strings: dict[str, str] = {}
    trace_ids: dict[str, str] = {}
    try:
        for resource_spans in _resource_spans(doc):
            resource = _attributes((resource_spans.get("resource") or {}).get("attributes"))
            service = str(resource.get("service.name") or "unknown_service")
            service = strings.setdefault(service, service)
            scopes = _first(resource_spans, "scopeSpans", "scope_spans")
            if scopes is None:
                scopes = _first(resource_spans, "instrumentationLibrarySpans", "instrumentation_library_spans")
            for scope_spans in scopes or ():
                for span in scope_spans.get("spans") or ():
                    out.append(_otlp_span(span, service, strings, trace_ids))
    except (KeyError, TypeError, AttributeError) as exc:
        raise SpanFormatError(f"malformed OTLP JSON: {exc!r}") from exc
    return out


def _otlp_span(span: dict[str, Any], service: str, strings: dict[str, str], trace_ids: dict[str, str]) -> SpanRecord:
    raw_trace = _first(span, "traceId", "trace_id")
    trace_id = trace_ids.get(raw_trace)
    if trace_id is None:
        trace_id = trace_ids[raw_trace] = _id(raw_trace, 16, "trace id")
    name = span.get("name") or ""
    return SpanRecord(
        trace_id=trace_id,
        span_id=_id(_first(span, "spanId", "span_id"), 8, "span id"),
        parent_id=_parent_id(_first(span, "parentSpanId", "parent_span_id")),
        name=strings.setdefault(name, name),
        kind=_otlp_kind(span.get("kind")),
        service=service,
        start_ns=_int(_first(span, "startTimeUnixNano", "start_time_unix_nano"), "startTimeUnixNano"),
        end_ns=_int(_first(span, "endTimeUnixNano", "end_time_unix_nano"), "endTimeUnixNano"),
        error=_otlp_error(span.get("status")),
        attributes=_attributes(span.get("attributes")),
    )


# --- OTLP JSON in, typed: the fast path for big files -------------------------------------------------------------
#
# Decoding a line of the file exporter into dicts and lists builds ~20 containers per span, and then the cyclic GC
# rescans them; decoding straight into these structs (gc=False, unknown fields skipped) is several times faster and
# reads the same: both field spellings, and anything else (an explicit null in a value, a number where a string
# belongs) is left to the generic path by returning None.


class _Value(msgspec.Struct, gc=False):
    """An OTLP ``AnyValue``: UNSET (not None) marks an absent member, so an explicit null goes the generic way."""

    stringValue: str | UnsetType = UNSET
    boolValue: bool | str | UnsetType = UNSET
    intValue: int | str | UnsetType = UNSET
    doubleValue: float | str | UnsetType = UNSET
    arrayValue: dict[str, Any] | UnsetType = UNSET
    kvlistValue: dict[str, Any] | UnsetType = UNSET
    bytesValue: str | UnsetType = UNSET
    string_value: str | UnsetType = UNSET
    bool_value: bool | str | UnsetType = UNSET
    int_value: int | str | UnsetType = UNSET
    double_value: float | str | UnsetType = UNSET
    array_value: dict[str, Any] | UnsetType = UNSET
    kvlist_value: dict[str, Any] | UnsetType = UNSET
    bytes_value: str | UnsetType = UNSET


class _KeyValue(msgspec.Struct, gc=False):
    key: str
    value: _Value | None = None


class _Status(msgspec.Struct, gc=False):
    code: int | str | None = None


class _Span(msgspec.Struct, gc=False):
    traceId: str | None = None
    spanId: str | None = None
    parentSpanId: str | None = None
    name: str | None = None
    kind: int | str | None = None
    startTimeUnixNano: int | str | None = None
    endTimeUnixNano: int | str | None = None
    attributes: list[_KeyValue] | None = None
    status: _Status | None = None
    trace_id: str | None = None
    span_id: str | None = None
    parent_span_id: str | None = None
    start_time_unix_nano: int | str | None = None
    end_time_unix_nano: int | str | None = None


class _ScopeSpans(msgspec.Struct, gc=False):
    spans: list[_Span] | None = None


class _Resource(msgspec.Struct, gc=False):
    attributes: list[_KeyValue] | None = None


class _ResourceSpans(msgspec.Struct, gc=False):
    resource: _Resource | None = None
    scopeSpans: list[_ScopeSpans] | None = None
    scope_spans: list[_ScopeSpans] | None = None
    instrumentationLibrarySpans: list[_ScopeSpans] | None = None
    instrumentation_library_spans: list[_ScopeSpans] | None = None


class _Request(msgspec.Struct, gc=False):
    resourceSpans: list[_ResourceSpans] | None = None
    resource_spans: list[_ResourceSpans] | None = None
    result: _Request | None = None


_decode_request = msgspec.json.Decoder(_Request).decode
_LOWER_HEX_16 = re.compile(r"[0-9a-f]{16}").fullmatch
_LOWER_HEX_32 = re.compile(r"[0-9a-f]{32}").fullmatch


def _typed_value(value: _Value) -> Any:
    """``_any_value`` of a typed value other than a string (members checked in this order: a valid AnyValue has one).

    Integers and booleans, the common ones, are read here; the rest as ``_any_value`` reads them.
    """
    found: Any = value.intValue
    if found is not UNSET:
        return found if type(found) is int else _int(found, "intValue")
    found = value.boolValue
    if found is not UNSET:
        return found if type(found) is bool else found == "true"
    for name in ("doubleValue", "arrayValue", "kvlistValue", "bytesValue", "string_value", "bool_value",
                 "int_value", "double_value", "array_value", "kvlist_value", "bytes_value"):  # fmt: skip
        found = getattr(value, name)
        if found is not UNSET:
            return _any_value({name: found})
    return None


def _typed_attributes(items: list[_KeyValue] | None, strings: dict[str, str]) -> dict[str, Any]:
    """Attributes with keys and string values shared through ``strings``: a run repeats them on every span."""
    if not items:
        return {}
    share = strings.setdefault
    out: dict[str, Any] = {}
    for item in items:
        value = item.value
        if value is None:
            found: Any = None
        else:
            found = value.stringValue
            if found is UNSET:
                found = _typed_value(value)
                if type(found) is str:
                    found = share(found, found)
            else:
                found = share(found, found)
        key = item.key
        out[share(key, key)] = found
    return out


def _nanos(value: int | str | None, what: str) -> int:
    """``_int`` for times, which OTLP JSON writes as strings: the common case first."""
    if type(value) is str:
        try:
            return int(value)
        except ValueError:
            pass
    return _int(value, what)


def _typed_span(
    span: _Span, service: str, strings: dict[str, str], trace_ids: dict[str, str], ids: dict[str, str]
) -> SpanRecord:
    """One span; ``trace_ids`` maps trace ids as written to hex, ``ids`` shares a span's id with its children's."""
    raw_trace = span.traceId if span.traceId is not None else span.trace_id
    trace_id = trace_ids.get(raw_trace) if raw_trace is not None else None
    if trace_id is None:
        trace_id = raw_trace if raw_trace is not None and _LOWER_HEX_32(raw_trace) else _id(raw_trace, 16, "trace id")
        if raw_trace is not None:
            trace_ids[raw_trace] = trace_id
    raw_span = span.spanId if span.spanId is not None else span.span_id
    span_id = raw_span if raw_span is not None and _LOWER_HEX_16(raw_span) else _id(raw_span, 8, "span id")
    span_id = ids.setdefault(span_id, span_id)
    raw_parent = span.parentSpanId if span.parentSpanId is not None else span.parent_span_id
    if raw_parent is not None and _LOWER_HEX_16(raw_parent) and raw_parent != "0000000000000000":
        parent_id: str | None = ids.setdefault(raw_parent, raw_parent)
    else:
        parent_id = _parent_id(raw_parent)
    start = span.startTimeUnixNano if span.startTimeUnixNano is not None else span.start_time_unix_nano
    end = span.endTimeUnixNano if span.endTimeUnixNano is not None else span.end_time_unix_nano
    status = span.status
    code = None if status is None else status.code
    name = span.name or ""
    return SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_id=parent_id,
        name=strings.setdefault(name, name),
        kind=_otlp_kind(span.kind),
        service=service,
        start_ns=_nanos(start, "startTimeUnixNano"),
        end_ns=_nanos(end, "endTimeUnixNano"),
        error=code == _STATUS_ERROR or code == "STATUS_CODE_ERROR" or code == "2",
        attributes=_typed_attributes(span.attributes, strings),
    )


def otlp_json_resources(data: bytes | str) -> list[tuple[dict[str, Any], list[SpanRecord]]] | None:
    """Each ``ResourceSpans`` of one OTLP JSON document as its resource's attributes and its spans.

    The fast way to read big files (see above): ``None`` when the document is not of the shape this reads (not an
    object, an explicit null in a value, a number where OTLP has a string): then decode it and use
    ``from_otlp_json``. A document without ``resourceSpans`` has none. Raises ``msgspec.DecodeError`` when the text
    is not JSON, ``SpanFormatError`` for a malformed span.
    """
    try:
        request = _decode_request(data)
    except msgspec.ValidationError:
        return None
    if request.result is not None:
        request = request.result
    found = request.resourceSpans if request.resourceSpans is not None else request.resource_spans
    out: list[tuple[dict[str, Any], list[SpanRecord]]] = []
    strings: dict[str, str] = {}
    trace_ids: dict[str, str] = {}
    ids: dict[str, str] = {}
    enabled = gc.isenabled()
    gc.disable()
    try:
        for resource_spans in found or ():
            resource = resource_spans.resource
            attributes = _typed_attributes(None if resource is None else resource.attributes, strings)
            service = str(attributes.get("service.name") or "unknown_service")
            service = strings.setdefault(service, service)
            scopes = resource_spans.scopeSpans if resource_spans.scopeSpans is not None else resource_spans.scope_spans
            if scopes is None:
                scopes = resource_spans.instrumentationLibrarySpans
                if scopes is None:
                    scopes = resource_spans.instrumentation_library_spans
            spans = [
                _typed_span(span, service, strings, trace_ids, ids)
                for scope in scopes or ()
                for span in scope.spans or ()
            ]
            out.append((attributes, spans))
    except (KeyError, TypeError, AttributeError) as exc:
        raise SpanFormatError(f"malformed OTLP JSON: {exc!r}") from exc
    finally:
        if enabled:
            gc.enable()
    return out


def _documents(data: bytes | str) -> Iterator[Any]:
    """One JSON document, or JSON lines of them (the file exporter's output)."""
    try:
        yield _decode(data)
        return
    except msgspec.DecodeError:
        pass
    lines = data.splitlines() if isinstance(data, bytes) else data.encode().splitlines()
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                yield _decode(line)
            except msgspec.DecodeError as exc:
                raise SpanFormatError(f"line {number}: {exc}") from None


@_gc_paused
def parse_otlp_json(data: bytes | str) -> list[SpanRecord]:
    """Spans of OTLP JSON text: one document or JSON lines (each line one document)."""
    out: list[SpanRecord] = []
    for doc in _documents(data):
        out.extend(from_otlp_json(doc))
    return out


# --- Jaeger v1 JSON in --------------------------------------------------------------------------------------------


def _jaeger_traces(doc: Any) -> Iterator[dict[str, Any]]:
    """The traces of what Jaeger UI accepts: ``{data: [traces]}``, ``{data: trace}``, a list, or one trace."""
    if isinstance(doc, list):
        for item in doc:
            yield from _jaeger_traces(item)
        return
    if not isinstance(doc, dict):
        raise SpanFormatError(f"expected a Jaeger JSON object, got {type(doc).__name__}")
    if "data" in doc:
        yield from _jaeger_traces(doc["data"] or [])
    elif "spans" in doc:
        yield doc
    else:
        raise SpanFormatError("neither data nor spans in the Jaeger JSON document")


def _tag_value(tag: dict[str, Any]) -> Any:
    value: Any = tag.get("value")
    kind = tag.get("type")
    if kind == "int64":
        return _int(value, f"tag {tag.get('key')}")
    if kind == "float64":
        return float(value)
    if kind == "bool":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    return value


@_gc_paused
def from_jaeger_json(doc: Any) -> list[SpanRecord]:
    """Spans of a decoded Jaeger v1 JSON document."""
    out: list[SpanRecord] = []
    strings: dict[str, str] = {}
    try:
        for trace in _jaeger_traces(doc):
            processes = trace.get("processes") or {}
            trace_id_default = trace.get("traceID")
            for span in trace["spans"]:
                out.append(_jaeger_span(span, processes, trace_id_default, strings))
    except (KeyError, TypeError, AttributeError) as exc:
        raise SpanFormatError(f"malformed Jaeger JSON: {exc!r}") from exc
    return out


def _jaeger_span(
    span: dict[str, Any], processes: dict[str, Any], trace_id_default: Any, strings: dict[str, str]
) -> SpanRecord:
    trace_id = str(span.get("traceID") or trace_id_default or "").lower().zfill(32)
    parent: Any = None
    for reference in span.get("references") or ():
        if reference.get("refType") == "CHILD_OF":
            parent = reference.get("spanID")
            break
    if parent is None:
        parent = span.get("parentSpanID")  # older and Zipkin-derived documents
    process_id: Any = span.get("processID")
    process = span.get("process") or processes.get(process_id) or {}
    service = str(process.get("serviceName") or "unknown_service")
    kind: SpanKind = "unspecified"
    error = False
    attributes: dict[str, Any] = {}
    for tag in span.get("tags") or ():
        key = tag["key"]
        value = _tag_value(tag)
        if key in _JAEGER_ONLY_TAGS:
            if key == "span.kind":
                kind = _KIND_BY_NAME.get(str(value), "unspecified")
            elif key == "error":
                error = error or value is True or value == "true"
            elif key == "otel.status_code":
                error = error or value == "ERROR"
            continue
        attributes[key] = value
    start_ns = _int(span["startTime"], "startTime") * 1000
    name = span.get("operationName") or ""
    return SpanRecord(
        trace_id=_id(trace_id, 16, "trace id"),
        span_id=_id(str(span["spanID"]).lower().zfill(16), 8, "span id"),
        parent_id=_parent_id(str(parent).lower().zfill(16)) if parent else None,
        name=strings.setdefault(name, name),
        kind=kind,
        service=strings.setdefault(service, service),
        start_ns=start_ns,
        end_ns=start_ns + _int(span.get("duration", 0), "duration") * 1000,
        error=error,
        attributes=attributes,
    )


@_gc_paused
def parse_jaeger_json(data: bytes | str) -> list[SpanRecord]:
    """Spans of Jaeger v1 JSON text (one document, or JSON lines of them)."""
    out: list[SpanRecord] = []
    for doc in _documents(data):
        out.extend(from_jaeger_json(doc))
    return out


@_gc_paused
def parse_json(data: bytes | str) -> list[SpanRecord]:
    """Spans of OTLP JSON or Jaeger v1 JSON text, whichever each document is."""
    out: list[SpanRecord] = []
    for doc in _documents(data):
        probe = doc[0] if isinstance(doc, list) and doc else doc
        is_otlp = isinstance(probe, dict) and any(k in probe for k in ("resourceSpans", "resource_spans", "result"))
        out.extend(from_otlp_json(doc) if is_otlp else from_jaeger_json(doc))
    return out


# --- the embedded store -------------------------------------------------------------------------------------------


def from_store_span(span: Span) -> SpanRecord:
    """A span read from the embedded store (``otel.receiver.query``); its attributes dict is shared, not copied."""
    kind = span.kind
    return SpanRecord(
        trace_id=span.trace_id,
        span_id=span.span_id,
        parent_id=span.parent_span_id or None,
        name=span.name,
        kind=_KINDS[kind] if 0 <= kind < len(_KINDS) else "unspecified",
        service=span.service_name,
        start_ns=span.start_ns,
        end_ns=span.end_ns,
        error=span.status_code == _STATUS_ERROR,
        attributes=span.attributes,
    )


@_gc_paused
def from_store_spans(spans: Iterable[Span]) -> list[SpanRecord]:
    return [from_store_span(span) for span in spans]


# --- OTLP JSON out ------------------------------------------------------------------------------------------------


def _to_any_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        if math.isfinite(value):
            return {"doubleValue": value}
        return {"doubleValue": "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, bytes | bytearray):
        return {"bytesValue": base64.b64encode(value).decode()}
    if isinstance(value, list | tuple):
        return {"arrayValue": {"values": [_to_any_value(item) for item in value]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": _to_attributes(value)}}
    if value is None:
        return {}
    return {"stringValue": str(value)}


def _to_attributes(attributes: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": str(key), "value": _to_any_value(value)} for key, value in attributes.items()]


def to_otlp_json(spans: Iterable[SpanRecord]) -> dict[str, Any]:
    """One OTLP JSON export request holding ``spans``, one resource per service (hex ids, integer enums).

    Encode it with any JSON encoder; Jaeger UI's "JSON File" upload and ``from_otlp_json`` both read it.
    """
    by_service: dict[str, list[dict[str, Any]]] = {}
    for span in spans:
        out: dict[str, Any] = {"traceId": span.trace_id, "spanId": span.span_id}
        if span.parent_id is not None:
            out["parentSpanId"] = span.parent_id
        out["name"] = span.name
        out["kind"] = _KIND_NUMBER[span.kind]
        out["startTimeUnixNano"] = str(span.start_ns)
        out["endTimeUnixNano"] = str(span.end_ns)
        if span.attributes:
            out["attributes"] = _to_attributes(span.attributes)
        out["status"] = {"code": _STATUS_ERROR} if span.error else {}
        by_service.setdefault(span.service, []).append(out)
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                "scopeSpans": [{"scope": {"name": "loadtests.validate"}, "spans": service_spans}],
            }
            for service, service_spans in by_service.items()
        ]
    }
