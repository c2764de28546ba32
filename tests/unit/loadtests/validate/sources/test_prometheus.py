"""The Prometheus source against a stand-in that evaluates its PromQL over known samples."""

from __future__ import annotations

import socket

import pytest

from loadtests.validate.sources import PrometheusSource, SourceError, SourceUnsupported
from loadtests.validate.sources.prometheus import label_name, metric_base
from tests.unit.loadtests.validate.sources.fake_jaeger import FakeJaeger
from tests.unit.loadtests.validate.sources.fake_prometheus import FakePrometheus, Series

T0 = 1_800_000_000  # seconds
S = 1_000_000_000
BOUNDS = [0.1, 0.5, 1.0]
DURATION = "mcp.server.operation.duration"
PROM_DURATION = "mcp_server_operation_duration_seconds"
START, END = (T0 + 15) * S, (T0 + 50) * S
COLLECTOR = 'job!~"otel-collector.*"'


def histogram(labels: dict[str, str], scrapes: list[tuple[int, list[int], float]]) -> list[Series]:
    """The ``_bucket`` (one per ``le``, cumulative), ``_sum`` and ``_count`` series of one histogram series."""
    out = []
    for index, le in enumerate([*(str(b) for b in BOUNDS), "+Inf"]):
        samples = [(float(T0 + at), float(sum(counts[: index + 1]))) for at, counts, _ in scrapes]
        out.append(Series({"__name__": f"{PROM_DURATION}_bucket", **labels, "le": le}, samples))
    out.append(Series({"__name__": f"{PROM_DURATION}_sum", **labels}, [(float(T0 + at), s) for at, _, s in scrapes]))
    counts = [(float(T0 + at), float(sum(c))) for at, c, _ in scrapes]
    out.append(Series({"__name__": f"{PROM_DURATION}_count", **labels}, counts))
    return out


def dataset(*, gateway_job: str = "pp-gateway", retrieval_job: str = "pp-retrieval") -> list[Series]:
    """The store test's data as scraped: same series, same windows (see ``data.metric_requests``)."""
    gateway = {"job": gateway_job, "instance": "127.0.0.1:8080"}
    retrieval = {"job": retrieval_job, "instance": "127.0.0.1:8081"}
    tool_a = [
        (10, [1, 0, 0, 0], 0.05),
        (20, [3, 1, 0, 0], 1.05),
        (30, [4, 2, 1, 0], 2.55),
        (40, [1, 0, 0, 0], 0.05),  # the gateway restarted
        (50, [2, 0, 0, 1], 5.1),
        (60, [9, 9, 9, 9], 99.0),
    ]
    series = [
        *histogram({**gateway, "gen_ai_tool_name": "a"}, tool_a),
        *histogram({**gateway, "gen_ai_tool_name": "b"}, [(30, [0, 1, 0, 0], 0.3), (50, [0, 2, 0, 0], 0.6)]),
        *histogram({**retrieval, "gen_ai_tool_name": "a"}, [(10, [2, 0, 0, 0], 0.1), (50, [2, 0, 0, 0], 0.1)]),
        # the compose Collector's re-export of what the gateway pushed: must not be counted again
        *histogram({"job": "otel-collector", "exported_job": "pp-gateway", "gen_ai_tool_name": "a"}, tool_a),
        Series(
            {"__name__": "pp_cache_requests_total", **retrieval, "pp_cache_result": "hit"},
            [(T0 + 10.0, 5.0), (T0 + 20.0, 8.0), (T0 + 30.0, 12.0)],
        ),
        Series(
            {"__name__": "pp_cache_requests_total", **retrieval, "pp_cache_result": "miss"},
            [(T0 + 20.0, 2.0), (T0 + 30.0, 3.0)],
        ),
        Series(
            {"__name__": "process_memory_usage_bytes", **gateway},
            [(T0 + 10.0, 100.0), (T0 + 20.0, 110.0), (T0 + 30.0, 120.0)],
        ),
        Series({"__name__": "process_cpu_utilization", **gateway}, [(T0 + 20.0, 0.25)]),
    ]
    for labels, service in ((gateway, "pp-gateway"), (retrieval, "pp-retrieval")):
        samples = [(float(T0 + at), 1.0) for at in range(0, 70, 10)]
        series.append(Series({"__name__": "target_info", **labels, "service_name": service}, samples))
    return series


def test_names_follow_the_otlp_to_prometheus_rules() -> None:
    assert metric_base("pp.cache.requests") == "pp_cache_requests"
    assert metric_base("http.server/request-duration") == "http_server_request_duration"
    assert label_name("gen_ai.tool.name") == "gen_ai_tool_name"
    assert label_name("1st") == "key_1st"
    names = [
        "mcp_server_operation_duration_seconds_bucket",
        "pp_cache_requests_total",
        "process_cpu_utilization_ratio",
        "my_latency_milliseconds_bucket",
    ]
    fake = [Series({"__name__": name}, []) for name in names]
    with FakePrometheus(fake) as prometheus, PrometheusSource(prometheus.url) as source:
        assert source.metric_name(DURATION, "histogram") == PROM_DURATION
        assert source.metric_name("pp.cache.requests", "counter") == "pp_cache_requests_total"
        assert source.metric_name("process.cpu.utilization", "gauge") == "process_cpu_utilization_ratio"
        assert source.metric_name("my.latency", "histogram") == "my_latency_milliseconds"  # an unknown unit
        assert source.metric_name("my.latency", "gauge") == "my_latency"  # not a histogram's series
        assert source.metric_name("process.memory.usage", "gauge") == "process_memory_usage_bytes"  # absent
        prometheus.series.append(Series({"__name__": "late_metric_seconds_bucket"}, []))  # after the list was read
        assert source.metric_name("late.metric", "histogram") == "late_metric_seconds"
        assert source.label("service.name") == "job"
        assert source.label("service.instance.id") == "instance"
    with FakePrometheus(fake) as prometheus, PrometheusSource(prometheus.url, names={"x.y": "custom"}) as source:
        assert source.metric_name("x.y", "gauge") == "custom"


def test_histograms_from_raw_samples_match_the_store() -> None:
    with FakePrometheus(dataset()) as prometheus, PrometheusSource(prometheus.url) as source:
        found = source.histogram(DURATION, by=("service.name", "gen_ai.tool.name"), start_ns=START, end_ns=END)
        assert set(found) == {("pp-gateway", "a"), ("pp-gateway", "b"), ("pp-retrieval", "a")}
        tool_a = found["pp-gateway", "a"]
        assert (tool_a.bounds, tool_a.counts, tool_a.count) == (BOUNDS, [5, 2, 1, 1], 9)
        assert tool_a.sum == pytest.approx(7.6)
        assert found["pp-gateway", "b"].counts == [0, 2, 0, 0]
        assert found["pp-retrieval", "a"].count == 0
        assert prometheus.queries[:2] == [
            f"{PROM_DURATION}_sum{{{COLLECTOR}}}[335000ms]",
            f"{PROM_DURATION}_bucket{{{COLLECTOR}}}[335000ms]",
        ]
        recorded = source.queries()
        assert recorded[0] == "GET /api/v1/label/__name__/values"
        assert recorded[1] == f"{PROM_DURATION}_sum{{{COLLECTOR}}}[335000ms]  [instant at {T0 + 50}.000]"

        only_gateway = source.histogram(
            DURATION, by=("gen_ai.tool.name",), start_ns=START, end_ns=END, where={"service.name": "pp-gateway"}
        )
        assert {key: h.counts for key, h in only_gateway.items()} == {("a",): [5, 2, 1, 1], ("b",): [0, 2, 0, 0]}
        assert prometheus.queries[-1] == f'{PROM_DURATION}_bucket{{{COLLECTOR}, job="pp-gateway"}}[335000ms]'


def test_the_service_name_can_come_from_target_info() -> None:
    series = dataset(gateway_job="pp", retrieval_job="pp")
    with FakePrometheus(series) as prometheus, PrometheusSource(prometheus.url, service_label="target_info") as source:
        found = source.histogram(DURATION, by=("service.name",), start_ns=START, end_ns=END)
        assert {key: h.counts for key, h in found.items()} == {
            ("pp-gateway",): [5, 4, 1, 1],
            ("pp-retrieval",): [0] * 4,
        }
        only = source.histogram(DURATION, by=(), start_ns=START, end_ns=END, where={"service.name": "pp-retrieval"})
        assert only[()].count == 0
        assert f"target_info{{{COLLECTOR}}}[335000ms]" in prometheus.queries


def test_counters_and_gauges_from_raw_samples() -> None:
    start, end = (T0 + 15) * S, (T0 + 30) * S
    with FakePrometheus(dataset()) as prometheus, PrometheusSource(prometheus.url) as source:
        # "miss" has no sample before the window: Prometheus cannot tell it from a series born in it (the store can)
        counted = source.counter("pp.cache.requests", by=("pp.cache.result",), start_ns=start, end_ns=end)
        assert counted == {("hit",): 7.0, ("miss",): 3.0}
        assert prometheus.queries[-1] == f"pp_cache_requests_total{{{COLLECTOR}}}[315000ms]"
        memory = source.gauge("process.memory.usage", by=("service.name",), start_ns=start, end_ns=end)
        assert memory == {("pp-gateway",): [((T0 + 20) * S, 110.0), ((T0 + 30) * S, 120.0)]}
        cpu = source.gauge("process.cpu.utilization", by=(), start_ns=start, end_ns=end)
        assert cpu == {(): [((T0 + 20) * S, 0.25)]}


def test_the_increase_method_lets_prometheus_aggregate() -> None:
    window = "35000ms"
    buckets = f"sum by (le, gen_ai_tool_name) (increase({PROM_DURATION}_bucket{{{COLLECTOR}}}[{window}]))"
    sums = f"sum by (gen_ai_tool_name) (increase({PROM_DURATION}_sum{{{COLLECTOR}}}[{window}]))"
    at = float(T0 + 50)
    with (
        FakePrometheus(dataset()) as prometheus,
        PrometheusSource(prometheus.url, method="increase", step_s=5) as source,
    ):
        # extrapolated increases are fractional, and rounding may even dip below the previous bucket
        prometheus.canned[buckets] = [
            {"metric": {"le": le, "gen_ai_tool_name": "a"}, "value": [at, value]}
            for le, value in (("0.1", "5.4"), ("0.5", "7.3"), ("1", "7.7"), ("+Inf", "9.4"))
        ] + [{"metric": {"le": "0.5", "gen_ai_tool_name": "b"}, "value": [at, "1"]}]
        prometheus.canned[sums] = [{"metric": {"gen_ai_tool_name": "a"}, "value": [at, "7.9"]}]
        with pytest.raises(SourceError, match=r"no le=\"\+Inf\" bucket"):
            source.histogram(DURATION, by=("gen_ai.tool.name",), start_ns=START, end_ns=END)
        prometheus.canned[buckets] = prometheus.canned[buckets][:4]
        found = source.histogram(DURATION, by=("gen_ai.tool.name",), start_ns=START, end_ns=END)
        assert {key: (h.counts, h.count, h.sum) for key, h in found.items()} == {("a",): ([5, 2, 1, 1], 9, 7.9)}
        assert f"{buckets}  [instant at {T0 + 50}.000]" in source.queries()

        gauges = source.gauge("process.memory.usage", by=(), start_ns=(T0 + 15) * S, end_ns=(T0 + 30) * S)
        assert gauges == {(): [((T0 + t) * S, v) for t, v in ((15, 100.0), (20, 110.0), (25, 110.0), (30, 120.0))]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_failures_say_what_and_where() -> None:
    port = free_port()
    refused = rf"cannot reach Prometheus at http://127\.0\.0\.1:{port}: connection refused"
    with PrometheusSource(f"http://127.0.0.1:{port}", timeout_s=2) as source, pytest.raises(SourceError, match=refused):
        source.counter("pp.cache.requests", by=(), start_ns=START, end_ns=END)
    with FakePrometheus(dataset()) as prometheus, PrometheusSource(prometheus.url, method="increase") as source:
        with pytest.raises(SourceError, match=r"bad_data.*the fake cannot evaluate"):
            source.counter("pp.cache.requests", by=(), start_ns=START, end_ns=END)
        with pytest.raises(SourceUnsupported, match="Prometheus holds metrics only"):
            source.spans_of_run("r1")
        with pytest.raises(SourceUnsupported):
            source.spans_in_window(0, 1)
    with pytest.raises(SourceError, match="method must be"):
        PrometheusSource("http://x", method="guess")  # type: ignore[arg-type]


def test_a_server_that_is_not_prometheus() -> None:
    with (
        FakeJaeger([]) as other,
        PrometheusSource(other.url) as source,
        pytest.raises(SourceError, match="not Prometheus JSON"),
    ):
        source.histogram(DURATION, by=(), start_ns=START, end_ns=END)


def test_samples_of_a_series_are_not_mixed_up() -> None:
    # two instances of one service, same labels otherwise: separate series, summed per group
    series = []
    for instance, values in (("a:1", (1.0, 4.0)), ("b:1", (10.0, 11.0))):
        samples = list(zip((T0 + 10.0, T0 + 20.0), values, strict=True))
        series.append(
            Series({"__name__": "pp_cache_requests_total", "job": "pp-retrieval", "instance": instance}, samples)
        )
    with FakePrometheus(series) as prometheus, PrometheusSource(prometheus.url) as source:
        start, end = (T0 + 15) * S, (T0 + 20) * S
        assert source.counter("pp.cache.requests", by=(), start_ns=start, end_ns=end) == {(): 4.0}
        by_instance = source.counter("pp.cache.requests", by=("service.instance.id",), start_ns=start, end_ns=end)
        assert by_instance == {("a:1",): 3.0, ("b:1",): 1.0}
