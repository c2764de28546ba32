"""A virtual user: what ``default(vu)`` gets — its MCP and HTTP clients, identity, data and a private RNG.

The clients here wrap ``loadtests.client`` with the measurements: every request gets a fresh sampled
``traceparent`` and the VU's ``baggage`` (run id, scenario, VU), and records ``http_req_duration`` from the actual
send, ``http_req_duration_corrected`` from the iteration's intended start (arrival-rate executors: the iteration's
lateness is carried down to each of its requests, so a request queued behind a stall is charged the stall, as wrk2
does), ``http_req_waiting``, ``http_req_failed``, bytes received, and for MCP ``mcp_tool_duration`` and
``mcp_tool_errors`` per tool and outcome. The series a call records into are looked up once per (tool, outcome,
group, tags) and cached, so a request costs a handful of appends.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from loadtests.client import HttpClient, McpClient, baggage_header, new_traceparent

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from loadtests.client import Response, ToolResult
    from loadtests.metrics import CounterSeries, RateSeries, Registry, TrendSeries

__all__ = ("VU", "VuHttp", "VuMcp")


class _Instruments:
    """The series one kind of request records into."""

    __slots__ = ("corrected", "duration", "failed", "received", "reqs", "tool_duration", "tool_errors", "waiting")

    def __init__(self, registry: Registry, tags: Mapping[str, str], *, mcp: bool) -> None:
        self.reqs: CounterSeries = registry.counter("http_reqs", tags)
        self.duration: TrendSeries = registry.trend("http_req_duration", tags)
        self.corrected: TrendSeries = registry.trend("http_req_duration_corrected", tags)
        self.waiting: TrendSeries = registry.trend("http_req_waiting", tags)
        self.failed: RateSeries = registry.rate("http_req_failed", tags)
        self.received: CounterSeries = registry.counter("data_received", tags)
        self.tool_duration: TrendSeries | None = registry.trend("mcp_tool_duration", tags) if mcp else None
        self.tool_errors: RateSeries | None = registry.rate("mcp_tool_errors", tags) if mcp else None


class VU:
    """One virtual user; runs one iteration at a time (k6's model), possibly several requests at once inside it."""

    def __init__(
        self,
        *,
        vu_id: int,
        scenario: str,
        run_id: str,
        env: Mapping[str, str],
        data: Any,
        registry: Registry,
        base_tags: Mapping[str, str],
        mcp_url: str,
        mcp_headers: Sequence[tuple[bytes, bytes]] = (),
        seed: int | None = None,
    ) -> None:
        self.id = vu_id
        self.scenario = scenario
        self.run_id = run_id
        self.env = env
        self.data = data
        self.iteration = 0
        self.rng = random.Random(seed if seed is not None else vu_id)
        self.registry = registry
        self._base_tags = dict(base_tags)
        self.group = ""
        self.sample_tags: dict[str, str] = dict(self._base_tags)
        self.intended_start = 0.0
        """``perf_counter`` time the current iteration was due (arrival-rate executors), else its actual start."""
        self.lateness_ms = 0.0
        self.baggage = baggage_header(run_id, scenario, vu_id)
        self._client = HttpClient()
        self.http = VuHttp(self, self._client)
        self.mcp = VuMcp(self, McpClient(self._client, mcp_url, headers=mcp_headers))

    def enter_group(self, path: str) -> None:
        self.group = path
        self.sample_tags = dict(self._base_tags)
        if path:
            self.sample_tags["group"] = path

    def instruments(
        self, cache: dict[tuple[Any, ...], _Instruments], key: tuple[Any, ...], tags: dict[str, str], *, mcp: bool
    ) -> _Instruments:
        found = cache.get(key)
        if found is None:
            found = cache[key] = _Instruments(self.registry, {**self.sample_tags, **tags}, mcp=mcp)
        return found

    def record(self, ins: _Instruments, response: Response, ok: bool, trace_id: str) -> None:
        ms = (response.done - response.sent) * 1e3 if response.sent else (response.done - response.started) * 1e3
        corrected = ms + self.lateness_ms
        ins.reqs.add(1.0)
        if ok:
            ins.duration.add(ms, trace_id)
            ins.corrected.add(corrected, trace_id)
            if ins.tool_duration is not None:
                ins.tool_duration.add(ms, trace_id)
        else:
            ins.duration.add_failure(ms, trace_id)
            ins.corrected.add_failure(corrected, trace_id)
            if ins.tool_duration is not None:
                ins.tool_duration.add_failure(ms, trace_id)
        if response.first_byte:
            ins.waiting.add((response.first_byte - response.sent) * 1e3)
        ins.failed.add(not ok)
        if ins.tool_errors is not None:
            ins.tool_errors.add(not ok)
        ins.received.add(float(len(response.body)))

    async def close(self) -> None:
        await self._client.close()


class VuMcp:
    """``await vu.mcp.call_tool(name, arguments)``: one JSON-RPC ``tools/call`` to the run's MCP endpoint."""

    def __init__(self, vu: VU, client: McpClient) -> None:
        self._vu = vu
        self.client = client
        self._cache: dict[tuple[Any, ...], _Instruments] = {}

    async def initialize(self) -> None:
        await self.client.initialize()

    async def call_tool(
        self, name: str, arguments: Mapping[str, Any], *, tags: Mapping[str, str] | None = None
    ) -> ToolResult:
        vu = self._vu
        trace_id, traceparent = new_traceparent()
        result = await self.client.call_tool(
            name, arguments, headers=((b"traceparent", traceparent), (b"baggage", vu.baggage))
        )
        outcome = "ok" if result.ok else (result.error or "failed")
        extra = tuple(sorted(tags.items())) if tags else ()
        key = (name, outcome, result.status, vu.group, extra)
        ins = self._cache.get(key)
        if ins is None:
            sample = {"tool": name, "method": "tools/call", "status": str(result.status), "outcome": outcome}
            if tags:
                sample.update({str(k): str(v) for k, v in tags.items()})
            ins = vu.instruments(self._cache, key, sample, mcp=True)
        vu.record(ins, result.response, result.ok, trace_id)
        return result


class VuHttp:
    """``await vu.http.get(url)`` / ``post`` / ``request``: plain HTTP/1.1 with the VU's trace headers and metrics."""

    def __init__(self, vu: VU, client: HttpClient) -> None:
        self._vu = vu
        self.client = client
        self._cache: dict[tuple[Any, ...], _Instruments] = {}

    async def request(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        *,
        headers: Sequence[tuple[bytes, bytes]] = (),
        tags: Mapping[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - a per-request limit handed to the client, k6-style
    ) -> Response:
        vu = self._vu
        trace_id, traceparent = new_traceparent()
        response = await self.client.request(
            method,
            url,
            body,
            headers=((b"traceparent", traceparent), (b"baggage", vu.baggage), *headers),
            timeout=timeout,
        )
        ok = response.error is None and 200 <= response.status < 400
        extra = tuple(sorted(tags.items())) if tags else ()
        key = (method, url, response.status, vu.group, extra)
        ins = self._cache.get(key)
        if ins is None:
            name = tags.get("name", url) if tags else url
            sample = {"method": method, "name": name, "status": str(response.status)}
            if response.error:
                sample["error"] = response.error
            if tags:
                sample.update({str(k): str(v) for k, v in tags.items()})
            ins = vu.instruments(self._cache, key, sample, mcp=False)
        vu.record(ins, response, ok, trace_id)
        return response

    async def get(self, url: str, **kwargs: Any) -> Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, body: bytes | None = None, **kwargs: Any) -> Response:
        return await self.request("POST", url, body, **kwargs)
