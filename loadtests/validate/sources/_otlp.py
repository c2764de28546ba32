"""Reading decoded OTLP JSON for selection: run ids, trace ids, metric attributes (both field-name spellings).

``formats.from_otlp_json`` turns spans into ``SpanRecord``; what it cannot say is the run id a span's *resource*
carries, which run membership needs, so spans are converted one resource at a time here and paired with it.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any

from loadtests.validate.formats import SpanFormatError, from_otlp_json
from otel.contract import RUN_ID

if TYPE_CHECKING:
    from collections.abc import Iterator

    from loadtests.validate.spans import SpanRecord

__all__ = ("any_value", "attributes", "get", "hex_id", "items", "run_id_of", "spans_with_run")


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
