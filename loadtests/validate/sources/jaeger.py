"""Jaeger's HTTP query API (the UI's port, 16686): api_v3, falling back to the v1 JSON API on older Jaegers.

A run's traces are found with one search of the gateway's service for the run id attribute
(``/api/v3/traces?query.service_name=pp-gateway&query.attributes={"pp.run.id": ...}``), which answers whole traces
(OTLP JSON under ``result``, all matched traces merged in one list; 404 when none match). Jaeger requires a time
range: the source's ``window`` when given, else the last ``lookback_s`` (Jaeger's in-memory store keeps no more).

**Paging.** A search returns at most ``search_depth`` traces and says nothing about what it left out, so an answer
with that many traces is taken as cut off: the time range is halved and each half searched again, recursively,
until every answer is under the cap (a trace in both halves is kept once). A range narrower than
``min_window_ms`` that is still full is an error (raise ``search_depth``), never a silent loss.

**Trust but verify.** Older Jaegers ignore ``query.attributes``, and a tag search matches per span, so every answer is
filtered here by the same rule as the store: a trace belongs to the run when any of its spans carries the id, and
then every span of it does except one that carries a different id.

**v1 fallback.** When ``/api/v3/traces`` itself is missing (a 404 that is not api_v3's JSON "No traces found"), the
source switches to ``/api/traces?service=...&tags=...&start=...&end=...&limit=...`` (microseconds; an empty
``data`` for no match) for the rest of its life. Query parameters are sent in the snake_case spelling (understood by
every v2 release; the camelCase ones only by recent ones), with ``query.num_traces`` next to ``query.search_depth``
for releases that only know the older name.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import msgspec

from loadtests.validate.formats import SpanFormatError, from_jaeger_json
from loadtests.validate.sources._http import HttpReply, JsonHttp, check_base_url
from loadtests.validate.sources._otlp import spans_with_run
from loadtests.validate.sources.base import SourceError, SourceUnsupported
from otel.contract import GATEWAY_SERVICE, RUN_ID

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from loadtests.validate.sources.base import BucketHistogram, GaugeSamples, GroupKey
    from loadtests.validate.spans import SpanRecord

__all__ = ("JaegerSource",)

_Pair = tuple["SpanRecord", "str | None"]
_NS_PER_US = 1_000
_NOT_METRICS = "Jaeger holds spans only; combine it with a metrics source (prometheus:URL, store:PATH or otlp:PATH)"


def rfc3339(ns: int) -> str:
    """Unix nanoseconds as RFC 3339 UTC with nanoseconds, as api_v3 wants its time bounds."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:09d}Z"


class JaegerSource:
    """Spans from a Jaeger query service; metrics raise ``SourceUnsupported``."""

    def __init__(
        self,
        url: str,
        *,
        service: str = GATEWAY_SERVICE,
        window: tuple[int, int] | None = None,
        lookback_s: float = 2 * 86_400.0,
        search_depth: int = 1000,
        min_window_ms: float = 1.0,
        timeout_s: float = 30.0,
    ) -> None:
        """``service`` is the one whose spans carry the run id; ``window`` bounds run searches (Unix ns)."""
        self.url = check_base_url(url, "Jaeger")
        self.name = f"jaeger:{self.url}"
        self.service = service
        self.window = window
        self.lookback_ns = int(lookback_s * 1e9)
        self.search_depth = search_depth
        self.min_window_ns = int(min_window_ms * 1e6)
        self._http = JsonHttp(self.url, service="Jaeger", timeout_s=timeout_s)
        self._api: str | None = None
        """``"v3"`` or ``"v1"`` once known."""
        self._queries: list[str] = []

    @property
    def api(self) -> str | None:
        """The API in use, once a request has shown it: ``"v3"``, or ``"v1"`` after falling back."""
        return self._api

    # --- HTTP ---------------------------------------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, str] | None = None) -> HttpReply:
        self._queries.append(self._http.url(path, params))
        return self._http.get(path, params)

    def _json(self, reply: HttpReply, what: str) -> Any:
        try:
            return reply.json()
        except msgspec.DecodeError:
            raise SourceError(f"{self.name}: {what} answered {reply.status} with a body that is not JSON") from None

    def _failure(self, reply: HttpReply, what: str) -> SourceError:
        text = reply.body[:300].decode("utf-8", "replace").strip()
        return SourceError(f"{self.name}: {what} answered HTTP {reply.status}: {text}")

    @staticmethod
    def _no_traces(reply: HttpReply) -> bool:
        """api_v3's 404 for "nothing matched" (a JSON error object), unlike the router's 404 for a missing route."""
        try:
            body = reply.json()
        except msgspec.DecodeError:
            return False
        return isinstance(body, dict) and isinstance(body.get("error"), dict)

    def _pairs(self, doc: Any, what: str) -> list[_Pair]:
        try:
            if self._api == "v1":
                return [(record, _carried(record)) for record in from_jaeger_json(doc)]
            return list(spans_with_run(doc))
        except SpanFormatError as error:
            raise SourceError(f"{self.name}: {what} answered spans that cannot be read: {error}") from None

    # --- searches -----------------------------------------------------------------------------------------------

    def _search_once(self, service: str, start_ns: int, end_ns: int, run_id: str | None) -> list[_Pair]:
        what = "the trace search"
        if self._api != "v1":
            params = {
                "query.service_name": service,
                "query.start_time_min": rfc3339(start_ns),
                "query.start_time_max": rfc3339(end_ns),
                "query.search_depth": str(self.search_depth),
                "query.num_traces": str(self.search_depth),
            }
            if run_id is not None:
                params["query.attributes"] = msgspec.json.encode({RUN_ID: run_id}).decode()
            reply = self._get("/api/v3/traces", params)
            if reply.status == 200:
                self._api = "v3"
                return self._pairs(self._json(reply, what), what)
            if reply.status == 404 and self._no_traces(reply):
                self._api = "v3"
                return []
            if reply.status != 404 or self._api == "v3":
                raise self._failure(reply, what)
            self._api = "v1"  # no api_v3 route: an older Jaeger
        params = {
            "service": service,
            "start": str(start_ns // _NS_PER_US),
            "end": str(-(-end_ns // _NS_PER_US)),
            "limit": str(self.search_depth),
        }
        if run_id is not None:
            params["tags"] = msgspec.json.encode({RUN_ID: run_id}).decode()
        reply = self._get("/api/traces", params)
        if reply.status != 200:
            raise self._failure(reply, what)
        return self._pairs(self._json(reply, what), what)

    def _search(self, service: str, start_ns: int, end_ns: int, run_id: str | None) -> list[_Pair]:
        """Every trace of the range, splitting it while an answer is full (see the module docstring)."""
        found: list[_Pair] = []
        pending = [(start_ns, end_ns)]
        while pending:
            low, high = pending.pop()
            pairs = self._search_once(service, low, high, run_id)
            if len({record.trace_id for record, _ in pairs}) < self.search_depth:
                found.extend(pairs)
                continue
            if high - low <= self.min_window_ns:
                raise SourceError(
                    f"{self.name}: {self.search_depth} traces (the search depth) of {service} between "
                    f"{rfc3339(low)} and {rfc3339(high)} even after narrowing the range; raise search_depth"
                )
            middle = (low + high) // 2
            pending += [(middle, high), (low, middle)]
        return found

    def _run_window(self) -> tuple[int, int]:
        if self.window is not None:
            return self.window
        now = time.time_ns()
        return now - self.lookback_ns, now + 60_000_000_000

    def spans_of_run(self, run_id: str) -> list[SpanRecord]:
        start_ns, end_ns = self._run_window()
        pairs = self._search(self.service, start_ns, end_ns, run_id)
        traces = {record.trace_id for record, carried in pairs if carried == run_id}
        out: dict[tuple[str, str], SpanRecord] = {}
        for record, carried in pairs:
            if record.trace_id in traces and (carried is None or carried == run_id):
                out.setdefault((record.trace_id, record.span_id), record)
        return sorted(out.values(), key=lambda s: (s.start_ns, s.trace_id, s.span_id))

    def services(self) -> list[str]:
        """The services Jaeger knows."""
        what = "the service list"
        reply = self._get("/api/v3/services" if self._api != "v1" else "/api/services")
        if reply.status == 404 and self._api is None and not self._no_traces(reply):
            self._api = "v1"
            reply = self._get("/api/services")
        if reply.status != 200:
            raise self._failure(reply, what)
        body = self._json(reply, what)
        names = body.get("services") if self._api != "v1" else body.get("data")
        return sorted(str(name) for name in names or ())

    def spans_in_window(self, start_ns: int, end_ns: int) -> list[SpanRecord]:
        """Spans that started in the window, of every service (one search per service Jaeger knows)."""
        out: dict[tuple[str, str], SpanRecord] = {}
        for service in self.services():
            for record, _ in self._search(service, start_ns, end_ns, None):
                if start_ns <= record.start_ns < end_ns:
                    out.setdefault((record.trace_id, record.span_id), record)
        return sorted(out.values(), key=lambda s: (s.start_ns, s.trace_id, s.span_id))

    def trace(self, trace_id: str) -> list[SpanRecord]:
        """One whole trace by id (empty when Jaeger does not have it)."""
        what = f"trace {trace_id}"
        if self._api != "v1":
            reply = self._get(f"/api/v3/traces/{trace_id}")
            if reply.status == 200:
                self._api = "v3"
                return [record for record, _ in self._pairs(self._json(reply, what), what)]
            if reply.status == 404 and self._no_traces(reply):
                return []
            if reply.status != 404 or self._api == "v3":
                raise self._failure(reply, what)
            self._api = "v1"
        reply = self._get(f"/api/traces/{trace_id}")
        if reply.status == 404:
            return []
        if reply.status != 200:
            raise self._failure(reply, what)
        return [record for record, _ in self._pairs(self._json(reply, what), what)]

    # --- metrics: none --------------------------------------------------------------------------------------------

    def histogram(
        self, metric: str, *, by: Sequence[str], start_ns: int, end_ns: int, where: Mapping[str, str] | None = None
    ) -> dict[GroupKey, BucketHistogram]:
        raise SourceUnsupported(f"{self.name}: no histogram {metric}: {_NOT_METRICS}")

    def counter(
        self, metric: str, *, by: Sequence[str], start_ns: int, end_ns: int, where: Mapping[str, str] | None = None
    ) -> dict[GroupKey, float]:
        raise SourceUnsupported(f"{self.name}: no counter {metric}: {_NOT_METRICS}")

    def gauge(
        self, metric: str, *, by: Sequence[str], start_ns: int, end_ns: int, where: Mapping[str, str] | None = None
    ) -> dict[GroupKey, GaugeSamples]:
        raise SourceUnsupported(f"{self.name}: no gauge {metric}: {_NOT_METRICS}")

    def queries(self) -> list[str]:
        return list(self._queries)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> JaegerSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _carried(record: SpanRecord) -> str | None:
    value = record.attributes.get(RUN_ID)
    return None if value is None else str(value)
