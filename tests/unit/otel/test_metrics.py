"""The meter provider: contract buckets on the duration histograms, process metrics, Prometheus text per Telemetry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import msgspec
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.trace import NoOpTracerProvider
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from otel import Telemetry, TelemetrySettings, setup_telemetry
from otel.contract import DURATION_BUCKETS_S, HTTP_SERVER_DURATION, MCP_SERVER_DURATION
from otel.durations import LeanMeterProvider
from otel.tracing.tracer import FastTracerProvider

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prometheus_client.samples import Sample

OFFLINE = TelemetrySettings(traces_exporter="none", metrics_exporter="none")


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    telemetry = setup_telemetry("pp-test", service_version="1.2.3", settings=OFFLINE, set_global=False)
    yield telemetry
    telemetry.shutdown()


def samples(telemetry: Telemetry) -> list[Sample]:
    text = telemetry.prometheus_text()[0].decode()
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def bucket_bounds(all_samples: list[Sample], metric: str) -> list[str]:
    return [sample.labels["le"] for sample in all_samples if sample.name == f"{metric}_bucket"]


@pytest.mark.parametrize("meter_provider", ["lean", "sdk"])
def test_duration_histograms_have_exactly_the_contract_bounds(meter_provider: Literal["lean", "sdk"]) -> None:
    settings = msgspec.structs.replace(OFFLINE, meter_provider=meter_provider)
    telemetry = setup_telemetry("pp-test", settings=settings, set_global=False)
    kind = LeanMeterProvider if meter_provider == "lean" else MeterProvider
    assert isinstance(telemetry.meter_provider, kind)
    meter = telemetry.meter_provider.get_meter("test")
    histogram = meter.create_histogram(HTTP_SERVER_DURATION, unit="s")
    for value in (0.003, 0.15, 0.2, 0.7, 1.5, 30.0):
        histogram.record(value, {"http.route": "/mcp"})
    meter.create_histogram(MCP_SERVER_DURATION, unit="s").record(0.01)
    meter.create_histogram("unrelated.duration", unit="s").record(0.01)

    content_type = telemetry.prometheus_text()[1]
    assert content_type == CONTENT_TYPE_LATEST
    found = samples(telemetry)
    expected = [repr(float(bound)) for bound in DURATION_BUCKETS_S] + ["+Inf"]
    assert bucket_bounds(found, "http_server_request_duration_seconds") == expected
    assert bucket_bounds(found, "mcp_server_operation_duration_seconds") == expected
    assert {"0.2", "0.5", "1.0", "2.0"} <= set(expected)
    counts = {
        sample.labels["le"]: sample.value
        for sample in found
        if sample.name == "http_server_request_duration_seconds_bucket" and sample.labels["http_route"] == "/mcp"
    }
    assert (counts["0.2"], counts["0.5"], counts["1.0"], counts["2.0"], counts["+Inf"]) == (3, 3, 4, 5, 6)
    assert bucket_bounds(found, "unrelated_duration_seconds") != expected, "only the contract's histograms"
    telemetry.shutdown()


def test_process_metrics_resource_and_dropped_spans_are_exposed(telemetry: Telemetry) -> None:
    values = {sample.name: sample for sample in samples(telemetry)}
    assert values["process_memory_usage_bytes"].value > 1_000_000
    assert values["process_open_file_descriptor_count"].value > 0
    assert values["process_cpu_utilization"].value >= 0.0
    assert values["pp_telemetry_spans_dropped_total"].value == 0
    target = values["target_info"].labels
    assert target["service_name"] == "pp-test"
    assert target["service_version"] == "1.2.3"
    assert target["service_instance_id"] == telemetry.resource["service.instance.id"]


def test_each_telemetry_has_its_own_registry() -> None:
    first = setup_telemetry("one", settings=OFFLINE, set_global=False)
    second = setup_telemetry("two", settings=OFFLINE, set_global=False)
    try:
        first.meter_provider.get_meter("t").create_counter("only.first").add(1)
        assert b"only_first" in first.prometheus_text()[0]
        assert b"only_first" not in second.prometheus_text()[0]
    finally:
        first.shutdown()
        second.shutdown()


def test_shutdown_is_idempotent(telemetry: Telemetry) -> None:
    assert isinstance(telemetry.tracer_provider, FastTracerProvider)
    telemetry.shutdown()
    telemetry.shutdown()
    assert telemetry.spans_dropped == 0


def test_sdk_disabled_installs_nothing() -> None:
    telemetry = setup_telemetry("off", settings=TelemetrySettings(sdk_disabled=True), set_global=False)
    assert isinstance(telemetry.tracer_provider, NoOpTracerProvider)
    assert telemetry.prometheus_text()[0] == b""
    telemetry.shutdown()
