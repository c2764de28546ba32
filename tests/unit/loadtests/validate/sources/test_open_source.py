"""Spec strings: which source each names, how two combine, and what a bad one says."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from loadtests.validate.sources import (
    CompositeSource,
    JaegerSource,
    OtlpFileSource,
    PrometheusSource,
    Source,
    SourceError,
    SourceUnsupported,
    StoreSource,
    open_source,
)
from tests.unit.loadtests.validate.sources import data

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return data.write_store(tmp_path / "telemetry.sqlite3")


def test_each_kind(store_path: Path, tmp_path: Path) -> None:
    store = open_source(f"store:{store_path}")
    assert isinstance(store, StoreSource)
    assert store.name == f"store:{store_path}"
    assert isinstance(store, Source)
    files = open_source(f"otlp:{data.write_jsonl(tmp_path / 'otlp')}")
    assert isinstance(files, OtlpFileSource)
    jaeger = open_source("jaeger:http://127.0.0.1:16686/")
    assert isinstance(jaeger, JaegerSource)
    assert jaeger.name == "jaeger:http://127.0.0.1:16686"
    prometheus = open_source("prometheus:127.0.0.1:9090")  # the scheme may be left out
    assert isinstance(prometheus, PrometheusSource)
    assert prometheus.url == "http://127.0.0.1:9090"
    for source in (store, files, jaeger, prometheus):
        source.close()


def test_the_default_store_is_the_receivers(store_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PP_RECEIVER_STORE", str(store_path))
    for source in (open_source(), open_source("store"), open_source("store:")):
        assert isinstance(source, StoreSource)
        assert source.path == store_path
        assert len(source.spans_of_run("r1")) == 6
        source.close()


def test_two_specs_split_spans_and_metrics(store_path: Path) -> None:
    for specs in (("jaeger:http://j:16686", f"store:{store_path}"), (f"store:{store_path}", "jaeger:http://j:16686")):
        combined = open_source(*specs)
        assert isinstance(combined, CompositeSource)
        assert isinstance(combined.spans, JaegerSource)
        assert isinstance(combined.metrics, StoreSource)
        assert combined.name == f"jaeger:http://j:16686 + store:{store_path}"
        found = combined.histogram(
            "mcp.server.operation.duration", by=(), start_ns=data.T0 + 15 * data.S, end_ns=data.T0 + 50 * data.S
        )
        assert found[()].count == 11
        combined.close()
    combined = open_source("prometheus:http://p:9090", f"store:{store_path}")
    assert isinstance(combined, CompositeSource)
    assert (type(combined.spans), type(combined.metrics)) == (StoreSource, PrometheusSource)
    assert len(combined.spans_of_run("r1")) == 6
    combined.close()
    prometheus_only = open_source("prometheus:http://p:9090")
    with pytest.raises(SourceUnsupported):
        prometheus_only.spans_of_run("r1")


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (("zipkin:http://z",), r"unknown source 'zipkin:http://z': expected store\[:PATH\], otlp:PATH"),
        (("http://127.0.0.1:16686",), r"for that URL, write jaeger:http://127\.0\.0\.1:16686"),
        (("otlp",), "needs a path"),
        (("otlp:",), "needs a path"),
        (("jaeger:",), r"needs a URL, e\.g\. jaeger:http://127\.0\.0\.1:16686"),
        (("prometheus:ftp://p",), "not an http:// or https:// URL"),
        (("jaeger:http://host:port",), "malformed port"),
        (("store:/nonexistent/telemetry.sqlite3",), "no store at"),
        (("otlp:/nonexistent/traces.jsonl",), "no such file"),
        (("jaeger:http://a", "jaeger:http://b"), "two jaeger sources"),
        (("store", "store", "store"), "at most two sources"),
    ],
)
def test_bad_specs_say_why(specs: tuple[str, ...], message: str) -> None:
    with pytest.raises(SourceError, match=message):
        open_source(*specs)


def test_a_bare_path_gets_a_hint(store_path: Path) -> None:
    with pytest.raises(SourceError, match=f"write store:{store_path} or otlp:"):
        open_source(str(store_path))
