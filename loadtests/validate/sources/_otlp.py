"""Reading OTLP JSON for selection: run ids, trace ids, metric attributes (both field-name spellings).

``formats.from_otlp_json`` turns spans into ``SpanRecord``; what it cannot say is the run id a span's *resource*
carries, which run membership needs, so spans are converted one resource at a time here and paired with it.

Big files are read from their bytes (``spans_with_run_json``, ``traces_carrying``) with typed decoders that build
no intermediate dicts; a document of an unexpected shape takes the generic way, so both read the same.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any

import msgspec

from loadtests.validate.formats import SpanFormatError, from_otlp_json, otlp_json_resources
from otel.contract import RUN_ID

if TYPE_CHECKING:
    from collections.abc import Iterator

    from loadtests.validate.spans import SpanRecord

__all__ = (
    "any_value",
    "attributes",
    "get",
    "hex_id",
    "items",
    "run_id_of",
    "spans_with_run",
    "spans_with_run_json",
    "traces_carrying",
)

_decode = msgspec.json.Decoder().decode
_NULL = msgspec.Raw(b"null")
_RUN_ID_KEY = msgspec.json.encode(RUN_ID)


def get(node: Any, camel: str, snake: str) -> Any:
    """``node[camel]``, else ``node[snake]`` (OTLP JSON is camelCase; generic proto3 JSON may use proto names)."""
    if not isinstance(node, dict):
        return None
    value = node.get(camel)
    return node.get(snake) if value is None else value


def items(node: Any, camel: str, snake: str) -> list[Any]:
    value = get(node, camel, snake)
    return value if isinstance(value, list) else []


def hex_id(raw: str | bytes) -> str:
    """A trace id as lowercase hex, whether written in hex (OTLP JSON) or base64 (generic proto3 JSON)."""
    text = raw.decode("ascii", "replace") if isinstance(raw, bytes) else raw
    if len(text) == 32:
        try:
            bytes.fromhex(text)
            return text.lower()
        except ValueError:
            pass
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4)).hex()
    except (binascii.Error, ValueError):
        return text.lower()


def any_value(value: Any) -> Any:
    """An OTLP ``AnyValue`` as a plain value."""
    if not isinstance(value, dict):
        return value
    for key, found in value.items():
        if key in ("stringValue", "string_value", "boolValue", "bool_value", "bytesValue", "bytes_value"):
            return found
        if key in ("intValue", "int_value"):
            return int(found)
        if key in ("doubleValue", "double_value"):
            return float(found)
        if key in ("arrayValue", "array_value"):
            return [any_value(item) for item in items(found, "values", "values")]
        if key in ("kvlistValue", "kvlist_value"):
            return attributes(items(found, "values", "values"))
    return None


def attributes(entries: list[Any]) -> dict[str, Any]:
    return {e["key"]: any_value(e.get("value")) for e in entries if isinstance(e, dict) and "key" in e}


def run_id_of(entries: list[Any]) -> str | None:
    """The ``pp.run.id`` among OTLP attributes, if any."""
    for entry in entries:
        if isinstance(entry, dict) and entry.get("key") == RUN_ID:
            value = any_value(entry.get("value"))
            return None if value is None else str(value)
    return None


def resource_spans_of(doc: Any) -> list[Any]:
    """The ``ResourceSpans`` of an export request or of an api_v3 answer (``{"result": {...}}``)."""
    if isinstance(doc, dict) and isinstance(doc.get("result"), dict):
        doc = doc["result"]
    return items(doc, "resourceSpans", "resource_spans")


def spans_with_run(doc: Any) -> Iterator[tuple[SpanRecord, str | None]]:
    """Each span of ``doc`` with the run id it carries (its attribute, else its resource's), or ``None``.

    Raises ``SpanFormatError`` for malformed spans.
    """
    for resource_spans in resource_spans_of(doc):
        if not isinstance(resource_spans, dict):
            raise SpanFormatError("a resourceSpans entry is not an object")
        resource_run = run_id_of(items(resource_spans.get("resource"), "attributes", "attributes"))
        for record in from_otlp_json({"resourceSpans": [resource_spans]}):
            carried = record.attributes.get(RUN_ID)
            yield record, (resource_run if carried is None else str(carried))


def spans_with_run_json(data: bytes) -> list[tuple[SpanRecord, str | None]]:
    """``spans_with_run`` of one document's text, decoded the fast way when it has the usual shape.

    Raises ``msgspec.DecodeError`` when the text is not JSON and ``SpanFormatError`` for malformed spans.
    """
    resources = otlp_json_resources(data)
    if resources is None:
        return list(spans_with_run(_decode(data)))
    out: list[tuple[SpanRecord, str | None]] = []
    for resource, spans in resources:
        # (a resource repeating the key keeps its last value here, its first on the generic way: OTLP forbids both)
        found = resource.get(RUN_ID)
        resource_run = None if found is None else str(found)
        for record in spans:
            carried = record.attributes.get(RUN_ID)
            out.append((record, resource_run if carried is None else str(carried)))
    return out


# --- which traces carry a run id: the first of two passes over a file, so only what it needs is decoded -----------


class _ProbeSpan(msgspec.Struct, gc=False):
    traceId: Any = None
    trace_id: Any = None
    attributes: msgspec.Raw = _NULL
    """Left as text: decoded only when it mentions the run id key (a third of the spans, the server ones)."""


class _ProbeScope(msgspec.Struct, gc=False):
    spans: list[_ProbeSpan] | None = None


class _ProbeResourceSpans(msgspec.Struct, gc=False):
    resource: msgspec.Raw = _NULL
    scopeSpans: list[_ProbeScope] | None = None
    scope_spans: list[_ProbeScope] | None = None


class _Probe(msgspec.Struct, gc=False):
    resourceSpans: list[_ProbeResourceSpans] | None = None
    resource_spans: list[_ProbeResourceSpans] | None = None
    result: _Probe | None = None


_decode_probe = msgspec.json.Decoder(_Probe).decode


class _Entry(msgspec.Struct, gc=False):
    key: Any = None
    value: msgspec.Raw = _NULL


_decode_entries = msgspec.json.Decoder(list[_Entry] | None).decode


def _carried(raw_attributes: msgspec.Raw) -> str | None:
    """``run_id_of`` an attribute list left as text; one that does not name the key (as writers write it) has none."""
    text = bytes(raw_attributes)
    if _RUN_ID_KEY not in text:
        return None
    try:
        entries = _decode_entries(text)
    except msgspec.ValidationError:
        found = _decode(text)
        return run_id_of(found if isinstance(found, list) else [])
    for entry in entries or ():
        if entry.key == RUN_ID:
            value = any_value(_decode(entry.value))
            return None if value is None else str(value)
    return None


def traces_carrying(data: bytes, run_id: str) -> set[str]:
    """Ids (hex) of the traces in one document's text with a span carrying ``run_id`` (its own, else its resource's).

    Raises ``msgspec.DecodeError`` when the text is not JSON.
    """
    try:
        probe = _decode_probe(data)
    except msgspec.ValidationError:
        return _traces_carrying(_decode(data), run_id)
    if probe.result is not None:
        probe = probe.result
    found = probe.resourceSpans if probe.resourceSpans is not None else probe.resource_spans
    traces: set[str] = set()
    for resource_spans in found or ():
        resource_run = run_id_of(items(_decode(resource_spans.resource), "attributes", "attributes"))
        scopes = resource_spans.scopeSpans if resource_spans.scopeSpans is not None else resource_spans.scope_spans
        for scope in scopes or ():
            for span in scope.spans or ():
                if (_carried(span.attributes) or resource_run) == run_id:
                    trace = span.traceId if span.traceId is not None else span.trace_id
                    traces.add(hex_id(str(trace)))
    return traces


def _traces_carrying(doc: Any, run_id: str) -> set[str]:
    traces: set[str] = set()
    for resource_spans in resource_spans_of(doc):
        resource_run = run_id_of(items(get(resource_spans, "resource", "resource"), "attributes", "attributes"))
        for scope in items(resource_spans, "scopeSpans", "scope_spans"):
            for span in items(scope, "spans", "spans"):
                carried = run_id_of(items(span, "attributes", "attributes")) or resource_run
                if carried == run_id:
                    traces.add(hex_id(str(get(span, "traceId", "trace_id"))))
    return traces
