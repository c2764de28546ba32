"""A stand-in for Jaeger's query service (no Jaeger can run here): the api_v3 and v1 HTTP shapes over real spans.

It answers from ``SpanRecord`` lists the way Jaeger does: a search matches spans of one service whose start is in
the range (and whose attributes match, unless ``honours_attributes`` is off, as on Jaegers that ignore
``query.attributes``), answers the most recent ``search_depth`` matching traces whole, merged into one OTLP JSON
document under ``result``, or a JSON 404 "No traces found". With ``v3=False`` it is an older Jaeger: the api_v3
routes are the router's plain-text 404 and the v1 JSON API answers instead.
"""

from __future__ import annotations

import calendar
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import msgspec

from loadtests.validate.formats import to_otlp_json
from tests.support.stand_in import Answer, StandInServer

if TYPE_CHECKING:
    from loadtests.validate.spans import SpanRecord

__all__ = ("FakeJaeger", "to_jaeger_v1")


def parse_rfc3339(text: str) -> int:
    head, _, fraction = text.rstrip("Z").partition(".")
    seconds = calendar.timegm(time.strptime(head, "%Y-%m-%dT%H:%M:%S"))
    return seconds * 1_000_000_000 + int((fraction or "0").ljust(9, "0")[:9])


def _tag(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "type": "bool", "value": value}
    if isinstance(value, int):
        return {"key": key, "type": "int64", "value": value}
    if isinstance(value, float):
        return {"key": key, "type": "float64", "value": value}
    return {"key": key, "type": "string", "value": str(value)}


def to_jaeger_v1(spans: list[SpanRecord]) -> list[dict[str, Any]]:
    """Traces in Jaeger's v1 JSON shape (µs times, CHILD_OF references, kind and error as tags, processes)."""
    traces: dict[str, dict[str, Any]] = {}
    for span in spans:
        trace = traces.setdefault(span.trace_id, {"traceID": span.trace_id, "spans": [], "processes": {}})
        process_id = next((p for p, v in trace["processes"].items() if v["serviceName"] == span.service), None)
        if process_id is None:
            process_id = f"p{len(trace['processes']) + 1}"
            trace["processes"][process_id] = {"serviceName": span.service, "tags": []}
        tags = [_tag(key, value) for key, value in span.attributes.items()]
        tags.append(_tag("span.kind", span.kind))
        if span.error:
            tags.append(_tag("error", True))
        references = [{"refType": "CHILD_OF", "traceID": span.trace_id, "spanID": span.parent_id}]
        trace["spans"].append(
            {
                "traceID": span.trace_id,
                "spanID": span.span_id,
                "operationName": span.name,
                "references": references if span.parent_id else [],
                "startTime": span.start_ns // 1000,
                "duration": (span.end_ns - span.start_ns) // 1000,
                "tags": tags,
                "logs": [],
                "processID": process_id,
                "warnings": None,
                "flags": 1,
            }
        )
    return list(traces.values())


class FakeJaeger(StandInServer):
    def __init__(self, spans: list[SpanRecord], *, v3: bool = True, honours_attributes: bool = True) -> None:
        self.spans = spans
        self.v3 = v3
        self.honours_attributes = honours_attributes
        self.fail_with: int | None = None
        super().__init__()

    # --- answers --------------------------------------------------------------------------------------------------

    @staticmethod
    def _json(status: int, doc: Any) -> tuple[int, bytes, str]:
        return status, msgspec.json.encode(doc), "application/json"

    def _not_found(self) -> tuple[int, bytes, str]:
        body = msgspec.json.encode({"error": {"httpCode": 404, "message": "No traces found"}}) + b"\n"
        return 404, body, "text/plain; charset=utf-8"  # http.Error's content type, as Jaeger sends it

    def _find(self, service: str, start_ns: int, end_ns: int, attributes: dict[str, str], depth: int) -> list[str]:
        latest: dict[str, int] = {}
        for span in self.spans:
            if span.service != service or not start_ns <= span.start_ns <= end_ns:
                continue
            if any(str(span.attributes.get(key)) != value for key, value in attributes.items()):
                continue
            latest[span.trace_id] = max(latest.get(span.trace_id, 0), span.start_ns)
        return sorted(latest, key=lambda trace_id: -latest[trace_id])[:depth]

    def _spans_of(self, trace_ids: list[str]) -> list[SpanRecord]:
        wanted = set(trace_ids)
        return [span for span in self.spans if span.trace_id in wanted]

    def answer(self, method: str, path: str, body: bytes) -> Answer:
        return Answer(*self._route(path))

    def _route(self, target: str) -> tuple[int, bytes, str]:
        if self.fail_with is not None:
            return self.fail_with, b"storage exploded", "text/plain"
        parts = urlsplit(target)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        path = parts.path
        if path.startswith("/api/v3/"):
            if not self.v3:
                return 404, b"404 page not found\n", "text/plain; charset=utf-8"
            return self._v3(path, query)
        return self._v1(path, query)

    def _v3(self, path: str, query: dict[str, str]) -> tuple[int, bytes, str]:
        if path == "/api/v3/services":
            return self._json(200, {"services": sorted({span.service for span in self.spans})})
        if path.startswith("/api/v3/traces/"):
            found = self._spans_of([path.rsplit("/", 1)[1]])
            return self._json(200, {"result": to_otlp_json(found)}) if found else self._not_found()
        if path != "/api/v3/traces":
            return 404, b"404 page not found\n", "text/plain; charset=utf-8"
        if "query.start_time_min" not in query or "query.start_time_max" not in query:
            return self._json(400, {"error": {"httpCode": 400, "message": "start_time_min and max are required"}})
        attributes = msgspec.json.decode(query.get("query.attributes", "{}")) if self.honours_attributes else {}
        trace_ids = self._find(
            query.get("query.service_name", ""),
            parse_rfc3339(query["query.start_time_min"]),
            parse_rfc3339(query["query.start_time_max"]),
            attributes,
            int(query.get("query.search_depth", "100")),
        )
        if not trace_ids:
            return self._not_found()
        return self._json(200, {"result": to_otlp_json(self._spans_of(trace_ids))})

    def _v1(self, path: str, query: dict[str, str]) -> tuple[int, bytes, str]:
        if path == "/api/services":
            return self._json(200, {"data": sorted({span.service for span in self.spans}), "total": 0})
        if path.startswith("/api/traces/"):
            found = self._spans_of([path.rsplit("/", 1)[1]])
            if not found:
                return self._json(404, {"data": None, "errors": [{"code": 404, "msg": "trace not found"}]})
            return self._json(200, {"data": to_jaeger_v1(found)})
        if path != "/api/traces":
            return 404, b"404 page not found\n", "text/plain; charset=utf-8"
        attributes = msgspec.json.decode(query.get("tags", "{}")) if self.honours_attributes else {}
        trace_ids = self._find(
            query.get("service", ""),
            int(query["start"]) * 1000,
            int(query["end"]) * 1000,
            attributes,
            int(query.get("limit", "100")),
        )
        return self._json(200, {"data": to_jaeger_v1(self._spans_of(trace_ids)), "total": 0, "limit": 0})
