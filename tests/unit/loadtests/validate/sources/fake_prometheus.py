"""A stand-in for Prometheus' query API that evaluates the few PromQL shapes the source sends, over given samples.

Raw range selectors (``name{matchers}[Nms]`` at a time: every sample in ``(t - N, t]``), plain selectors over a
``query_range`` (the last sample within 5 minutes of each step) and the metric-name list are evaluated for real;
any other expression is answered by ``canned`` (keyed by the exact PromQL) or with Prometheus' ``bad_data`` error.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec

from tests.support.stand_in import Answer, StandInServer

__all__ = ("FakePrometheus", "Series")

_SELECTOR = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)\{(?P<matchers>[^}]*)\}(?:\[(?P<range>\d+)ms\])?$")
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*,?')
_LOOKBACK_S = 300.0


class Series(msgspec.Struct):
    labels: dict[str, str]
    """Including ``__name__``."""
    samples: list[tuple[float, float]]
    """(Unix seconds, value)."""


def _matches(labels: dict[str, str], matchers: str) -> bool:
    for name, op, raw in _MATCHER.findall(matchers):
        value = raw.replace('\\"', '"').replace("\\\\", "\\")
        have = labels.get(name, "")
        ok = {
            "=": have == value,
            "!=": have != value,
            "=~": re.fullmatch(value, have) is not None,
            "!~": re.fullmatch(value, have) is None,
        }[op]
        if not ok:
            return False
    return True


def _number(value: float) -> str:
    return repr(float(value)) if value != int(value) else str(int(value))


class FakePrometheus(StandInServer):
    def __init__(self, series: list[Series]) -> None:
        self.series = series
        self.canned: dict[str, list[dict[str, Any]]] = {}
        self.queries: list[str] = []
        super().__init__()

    @staticmethod
    def _error(message: str) -> tuple[int, dict[str, Any]]:
        return 400, {"status": "error", "errorType": "bad_data", "error": message}

    def answer(self, method: str, path: str, body: bytes) -> Answer:
        status, doc = self._route(path)
        return Answer(status, msgspec.json.encode(doc))

    def _route(self, target: str) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(target)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        if parts.path == "/api/v1/label/__name__/values":
            return 200, {"status": "success", "data": sorted({s.labels["__name__"] for s in self.series})}
        promql = query.get("query", "")
        self.queries.append(promql)
        if parts.path == "/api/v1/query":
            return self._instant(promql, float(query["time"]))
        if parts.path == "/api/v1/query_range":
            return self._range(promql, float(query["start"]), float(query["end"]), float(query["step"]))
        return 404, {"status": "error", "errorType": "not_found", "error": "no such endpoint"}

    def _selected(self, match: re.Match[str]) -> list[Series]:
        return [
            s for s in self.series if s.labels["__name__"] == match["name"] and _matches(s.labels, match["matchers"])
        ]

    def _instant(self, promql: str, at: float) -> tuple[int, dict[str, Any]]:
        if promql in self.canned:
            return 200, {"status": "success", "data": {"resultType": "vector", "result": self.canned[promql]}}
        match = _SELECTOR.match(promql)
        if match is None or match["range"] is None:
            return self._error(f"the fake cannot evaluate {promql!r}")
        low = at - int(match["range"]) / 1000
        result = []
        for series in self._selected(match):
            values = [[t, _number(v)] for t, v in series.samples if low < t <= at]
            if values:
                result.append({"metric": series.labels, "values": values})
        return 200, {"status": "success", "data": {"resultType": "matrix", "result": result}}

    def _range(self, promql: str, start: float, end: float, step: float) -> tuple[int, dict[str, Any]]:
        match = _SELECTOR.match(promql)
        if match is None or match["range"] is not None:
            return self._error(f"the fake cannot evaluate {promql!r} over a range")
        result = []
        for series in self._selected(match):
            values = []
            at = start
            while at <= end + 1e-9:
                before = [(t, v) for t, v in series.samples if at - _LOOKBACK_S < t <= at]
                if before:
                    values.append([at, _number(before[-1][1])])
                at += step
            if values:
                labels = {k: v for k, v in series.labels.items() if k != "__name__"}
                result.append({"metric": labels, "values": values})
        return 200, {"status": "success", "data": {"resultType": "matrix", "result": result}}
