"""Telemetry settings: the standard OTEL_* variables plus PP_TRACER_PROVIDER, PP_METER_PROVIDER and PP_SPAN_*."""

from __future__ import annotations

import pytest

from otel import TelemetrySettings, load_settings, setup_telemetry
from otel.settings import TelemetrySettingsError, parse_key_values
from otel.setup import resource_attributes


def test_defaults_without_any_variable() -> None:
    settings = load_settings({})
    assert settings == TelemetrySettings()
    assert (settings.tracer_provider, settings.meter_provider) == ("fast", "lean")
    assert settings.traces_exporter == settings.metrics_exporter == "otlp"
    assert settings.traces_sampler == "parentbased_always_on"
    assert settings.span_buffer == 65_536
    assert settings.traces_url == "http://127.0.0.1:4318/v1/traces"
    assert settings.metrics_url == "http://127.0.0.1:4318/v1/metrics"


def test_standard_variables_are_read() -> None:
    settings = load_settings(
        {
            "OTEL_SERVICE_NAME": "renamed",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=ci,team=sre",
            "OTEL_SDK_DISABLED": "true",
            "OTEL_TRACES_EXPORTER": "NONE",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/",
            "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20abc",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-tenant=t1",
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0.25",
            "OTEL_METRIC_EXPORT_INTERVAL": "5000",
            "OTEL_BSP_MAX_QUEUE_SIZE": "8192",
            "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "256",
            "PP_TRACER_PROVIDER": "sdk",
            "PP_METER_PROVIDER": "sdk",
            "PP_SPAN_BUFFER": "1024",
        }
    )
    assert settings.service_name == "renamed"
    assert settings.sdk_disabled
    assert settings.traces_exporter == "none"
    assert settings.traces_url == "http://collector:4318/v1/traces"
    assert settings.traces_headers == {"authorization": "Bearer abc", "x-tenant": "t1"}
    assert settings.metrics_headers == {"authorization": "Bearer abc"}
    assert settings.traces_sampler_arg == 0.25
    assert settings.metric_export_interval_ms == 5000
    assert settings.bsp_max_queue_size == 8192
    assert settings.span_attribute_value_length_limit == 256
    assert settings.tracer_provider == settings.meter_provider == "sdk"
    assert settings.span_buffer == 1024


def test_a_signal_endpoint_is_used_as_given_and_wins() -> None:
    settings = load_settings(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://traces.example/custom",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "1000",
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "2000",
        }
    )
    assert settings.traces_url == "https://traces.example/custom"
    assert settings.metrics_url == "http://collector:4318/v1/metrics"
    assert settings.otlp_timeout_ms == 2000


def test_empty_variables_count_as_unset() -> None:
    assert load_settings({"OTEL_SERVICE_NAME": "", "PP_SPAN_BUFFER": "  "}) == TelemetrySettings()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PP_SPAN_BUFFER", "lots"),
        ("PP_TRACER_PROVIDER", "turbo"),
        ("PP_METER_PROVIDER", "fast"),
        ("OTEL_TRACES_SAMPLER", "sometimes"),
        ("OTEL_TRACES_EXPORTER", "zipkin"),
        ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
        ("PP_SPAN_BUFFER", "0"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "collector:4318"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "grpc://collector:4317"),
    ],
)
def test_a_bad_value_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(TelemetrySettingsError, match=variable):
        load_settings({variable: value})


def test_directly_built_settings_are_validated_too() -> None:
    with pytest.raises(TelemetrySettingsError, match="not an http"):
        setup_telemetry("x", settings=TelemetrySettings(otlp_endpoint="localhost:4318"), set_global=False)


def test_key_value_lists_are_percent_decoded_and_forgiving() -> None:
    assert parse_key_values("a=1, b = two%2Cthree ,broken,=nokey,c=") == {"a": "1", "b": "two,three", "c": ""}
    assert parse_key_values("") == {}


def test_resource_precedence_and_a_unique_instance_id() -> None:
    settings = TelemetrySettings(resource_attributes="service.name=from-env,service.version=9,team=sre")
    first = resource_attributes(settings, "pp-gateway", "0.1.0")
    assert first["service.name"] == "pp-gateway", "the code's name beats OTEL_RESOURCE_ATTRIBUTES"
    assert first["service.version"] == "0.1.0"
    assert first["team"] == "sre"
    assert first["telemetry.sdk.language"] == "python"
    renamed = resource_attributes(TelemetrySettings(service_name="override"), "pp-gateway", "0.1.0")
    assert renamed["service.name"] == "override", "OTEL_SERVICE_NAME beats the code"
    assert first["service.instance.id"] != renamed["service.instance.id"]
