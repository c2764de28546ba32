"""The fast provider honours the OpenTelemetry tracing API contract (parentage, sampling, use_span, limits)."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry import context, trace
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
from opentelemetry.trace import (
    INVALID_SPAN,
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)

from otel.tracing.attributes import SpanLimits
from otel.tracing.memory import InMemorySpans
from otel.tracing.sampler import SamplerConfig, sampler_config
from otel.tracing.span import FastSpan
from otel.tracing.tracer import FastTracerProvider

REMOTE = SpanContext(
    0x4BF92F3577B34DA6A3CE929D0E0E4736,
    0x00F067AA0BA902B7,
    is_remote=True,
    trace_flags=TraceFlags(TraceFlags.SAMPLED),
    trace_state=TraceState([("vendor", "opaque")]),
)
UNSAMPLED_REMOTE = SpanContext(REMOTE.trace_id, REMOTE.span_id, True, TraceFlags(0), REMOTE.trace_state)


@pytest.fixture
def spans() -> InMemorySpans:
    return InMemorySpans()


def make_tracer(
    spans: InMemorySpans,
    sampler: SamplerConfig | None = None,
    limits: SpanLimits | None = None,
) -> trace.Tracer:
    provider = FastTracerProvider(sampler or sampler_config("parentbased_always_on"), limits or SpanLimits(), spans)
    return provider.get_tracer("personal-pipeline", "0.1.0")


@pytest.fixture
def tracer(spans: InMemorySpans) -> trace.Tracer:
    return make_tracer(spans)


def remote_parent(span_context: SpanContext) -> context.Context:
    return trace.set_span_in_context(NonRecordingSpan(span_context), context.Context())


def status_of(span: FastSpan) -> tuple[StatusCode, str | None]:
    """The status as a comparable pair (``Status`` has no ``__eq__``), read through a call so mypy does not narrow."""
    return span.status.status_code, span.status.description


def fast(span: trace.Span) -> FastSpan:
    assert isinstance(span, FastSpan)
    return span


def test_a_root_span_has_random_valid_ids_and_is_sampled(tracer: trace.Tracer) -> None:
    first, second = tracer.start_span("a"), tracer.start_span("b")
    for span in (first, second):
        ctx = span.get_span_context()
        assert ctx.is_valid
        assert not ctx.is_remote
        assert ctx.trace_flags.sampled
        assert 0 < ctx.trace_id < 2**128
        assert 0 < ctx.span_id < 2**64
        assert fast(span).parent_span_id == 0
    assert first.get_span_context().trace_id != second.get_span_context().trace_id
    assert first.get_span_context().span_id != second.get_span_context().span_id


def test_children_of_the_current_span_share_its_trace(tracer: trace.Tracer, spans: InMemorySpans) -> None:
    with tracer.start_as_current_span("parent") as parent:
        assert trace.get_current_span() is parent
        with tracer.start_as_current_span("child") as child:
            assert trace.get_current_span() is child
            grandchild = tracer.start_span("grandchild")
            grandchild.end()
        assert trace.get_current_span() is parent
    assert trace.get_current_span() is INVALID_SPAN

    parent_ctx, child_ctx = parent.get_span_context(), child.get_span_context()
    assert child_ctx.trace_id == parent_ctx.trace_id == grandchild.get_span_context().trace_id
    assert fast(child).parent_span_id == parent_ctx.span_id
    assert fast(grandchild).parent_span_id == child_ctx.span_id
    assert [record[4] for record in spans.records] == ["grandchild", "child", "parent"]


def test_an_explicit_context_wins_over_the_current_span(tracer: trace.Tracer) -> None:
    with tracer.start_as_current_span("current"):
        span = tracer.start_span("explicit", context=remote_parent(REMOTE))
    assert span.get_span_context().trace_id == REMOTE.trace_id
    assert fast(span).parent_span_id == REMOTE.span_id
    assert fast(span).parent_is_remote


def test_a_remote_sampled_parent_is_followed_and_its_trace_state_carried(tracer: trace.Tracer) -> None:
    span = tracer.start_span("server", context=remote_parent(REMOTE), kind=SpanKind.SERVER)
    ctx = span.get_span_context()
    assert span.is_recording()
    assert ctx.trace_id == REMOTE.trace_id
    assert ctx.span_id != REMOTE.span_id
    assert ctx.trace_state == REMOTE.trace_state
    child = tracer.start_span("child", context=trace.set_span_in_context(span))
    assert child.get_span_context().trace_state == REMOTE.trace_state
    assert not fast(child).parent_is_remote


def test_an_unsampled_parent_gives_a_non_recording_span_in_the_same_trace(
    tracer: trace.Tracer, spans: InMemorySpans
) -> None:
    with tracer.start_as_current_span("server", context=remote_parent(UNSAMPLED_REMOTE)) as span:
        assert isinstance(span, NonRecordingSpan)
        assert not span.is_recording()
        ctx = span.get_span_context()
        assert ctx.trace_id == UNSAMPLED_REMOTE.trace_id
        assert ctx.span_id not in {0, UNSAMPLED_REMOTE.span_id}, "a new span id, as the SDK gives"
        assert not ctx.trace_flags.sampled
        assert ctx.trace_state == UNSAMPLED_REMOTE.trace_state
        child = tracer.start_span("child")  # parent: the non-recording span, still unsampled
        assert not child.is_recording()
        assert child.get_span_context().trace_id == UNSAMPLED_REMOTE.trace_id
        span.set_attribute("ignored", 1)
    assert spans.records == []


def test_an_invalid_parent_starts_a_new_trace(tracer: trace.Tracer) -> None:
    span = tracer.start_span("root", context=trace.set_span_in_context(INVALID_SPAN))
    assert span.is_recording()
    assert fast(span).parent_span_id == 0


@pytest.mark.parametrize(
    ("sampler", "sampled_parent", "unsampled_parent", "root"),
    [
        pytest.param("parentbased_always_on", True, False, True, id="parentbased_always_on"),
        pytest.param("parentbased_always_off", True, False, False, id="parentbased_always_off"),
        pytest.param("always_on", True, True, True, id="always_on"),
        pytest.param("always_off", False, False, False, id="always_off"),
    ],
)
def test_sampler_decisions(
    spans: InMemorySpans, sampler: str, sampled_parent: bool, unsampled_parent: bool, root: bool
) -> None:
    tracer = make_tracer(spans, sampler_config(sampler))
    assert tracer.start_span("s", context=remote_parent(REMOTE)).is_recording() is sampled_parent
    assert tracer.start_span("u", context=remote_parent(UNSAMPLED_REMOTE)).is_recording() is unsampled_parent
    assert tracer.start_span("r").is_recording() is root


def test_ratio_sampling_decides_by_trace_id_like_the_sdk(spans: InMemorySpans) -> None:
    config = sampler_config("traceidratio", 0.25)
    sdk = TraceIdRatioBased(0.25)
    assert config.bound == sdk.bound
    tracer = make_tracer(spans, config)
    sampled = [tracer.start_span("r").is_recording() for _ in range(4000)]
    assert 800 < sum(sampled) < 1200  # 1000 expected; 6+ standard deviations of slack
    below, above = sdk.bound - 1, sdk.bound
    assert config.sample_root(below) and not config.sample_root(above)
    assert config.sample_root((7 << 64) | below), "only the low 64 bits count"


def test_parent_based_ratio_follows_the_parent_and_samples_roots_by_ratio(spans: InMemorySpans) -> None:
    tracer = make_tracer(spans, sampler_config("parentbased_traceidratio", 0.0))
    assert tracer.start_span("s", context=remote_parent(REMOTE)).is_recording()
    assert not tracer.start_span("r").is_recording()
    all_roots = make_tracer(spans, sampler_config("parentbased_traceidratio", 1.0))
    assert not all_roots.start_span("u", context=remote_parent(UNSAMPLED_REMOTE)).is_recording()
    assert all_roots.start_span("r").is_recording()


def test_use_span_semantics_on_exception(tracer: trace.Tracer, spans: InMemorySpans) -> None:
    with pytest.raises(ValueError, match="boom"), tracer.start_as_current_span("failing") as span:
        raise ValueError("boom")
    assert not span.is_recording()
    assert trace.get_current_span() is INVALID_SPAN
    status = fast(span).status
    assert status.status_code is StatusCode.ERROR
    assert status.description == "ValueError: boom"
    (event,) = fast(span).events
    name, _, attributes, _ = event
    assert name == "exception"
    assert attributes["exception.type"] == "ValueError"
    assert attributes["exception.message"] == "boom"
    assert "Traceback" in attributes["exception.stacktrace"]
    assert len(spans.records) == 1
    assert spans.records[0][8] == 2


def test_use_span_flags_and_base_exceptions(tracer: trace.Tracer) -> None:
    with (
        pytest.raises(KeyError),
        tracer.start_as_current_span("quiet", record_exception=False, set_status_on_exception=False) as quiet,
    ):
        raise KeyError("k")
    assert fast(quiet).events == ()
    assert fast(quiet).status.status_code is StatusCode.UNSET

    with pytest.raises(KeyboardInterrupt), tracer.start_as_current_span("interrupted") as interrupted:
        raise KeyboardInterrupt
    assert fast(interrupted).status.status_code is StatusCode.UNSET, "BaseException is not an error (use_span)"
    assert not interrupted.is_recording()

    with pytest.raises(ValueError), tracer.start_as_current_span("kept open", end_on_exit=False) as kept:
        raise ValueError
    assert kept.is_recording()


def test_the_official_use_span_works_with_fast_spans(tracer: trace.Tracer) -> None:
    span = tracer.start_span("used")
    with pytest.raises(RuntimeError), trace.use_span(span, end_on_exit=True):
        assert trace.get_current_span() is span
        raise RuntimeError("x")
    assert fast(span).status.status_code is StatusCode.ERROR
    assert not span.is_recording()


def test_a_span_used_as_a_context_manager_records_the_exception(tracer: trace.Tracer) -> None:
    with pytest.raises(OSError), tracer.start_span("direct") as span:
        raise OSError("disk")
    assert fast(span).status.status_code is StatusCode.ERROR
    assert fast(span).events[0][2]["exception.escaped"] == "True"
    assert not span.is_recording()


def test_start_as_current_span_decorates_sync_and_async_functions(tracer: trace.Tracer, spans: InMemorySpans) -> None:
    @tracer.start_as_current_span("sync")
    def work() -> str:
        return trace.get_current_span().get_span_context().span_id.to_bytes(8, "big").hex()

    @tracer.start_as_current_span("async")
    async def awork() -> int:
        await asyncio.sleep(0)
        return trace.get_current_span().get_span_context().span_id

    assert work() != work(), "a new span per call"
    assert asyncio.run(awork()) != 0
    assert [record[4] for record in spans.records] == ["sync", "sync", "async"]


def test_end_is_idempotent_and_ends_recording(tracer: trace.Tracer, spans: InMemorySpans) -> None:
    span = tracer.start_span("once", start_time=1_000)
    span.end(end_time=2_000)
    span.end(end_time=3_000)
    span.end()
    assert len(spans.records) == 1
    assert spans.records[0][6:8] == (1_000, 2_000)
    assert not span.is_recording()
    span.set_attribute("late", 1)
    span.add_event("late")
    span.update_name("late")
    span.set_status(StatusCode.ERROR)
    assert fast(span).attributes == {}
    assert fast(span).name == "once"
    assert fast(span).status.status_code is StatusCode.UNSET


def test_attributes_events_links_name_status(tracer: trace.Tracer, spans: InMemorySpans) -> None:
    other = tracer.start_span("other").get_span_context()
    span = tracer.start_span(
        "first name",
        kind=SpanKind.CLIENT,
        attributes={"a": 1, "b": "x"},
        links=[Link(REMOTE, {"link.kind": "follows"})],
    )
    span.set_attributes({"c": 2.5, "d": True, "e": ["x", "y"], "f": (1, 2)})
    span.set_attribute("a", 10)
    span.add_event("cache.miss", {"cache.tier": "l1"}, timestamp=123)
    span.add_link(other, {"n": 1})
    span.update_name("second name")
    span.set_status(Status(StatusCode.OK))
    span.set_status(StatusCode.ERROR, "ignored: OK is final")
    span.end()
    (record,) = spans.records
    assert record[4] == "second name"
    assert record[5] == SpanKind.CLIENT.value
    assert record[8] == 1
    assert record[9] is None
    assert record[10] == {"a": 10, "b": "x", "c": 2.5, "d": True, "e": ("x", "y"), "f": (1, 2)}
    assert record[11] == [("cache.miss", 123, {"cache.tier": "l1"}, 0)]
    remote_link, local_link = record[12] or []
    assert (remote_link[0] << 64 | remote_link[1], remote_link[2]) == (REMOTE.trace_id, REMOTE.span_id)
    assert remote_link[3] == "vendor=opaque"
    assert remote_link[4] == 0x301, "sampled | has-is-remote | is-remote"
    assert remote_link[5] == {"link.kind": "follows"}
    assert local_link[2] == other.span_id
    assert record[16] is None


def test_error_status_keeps_its_description_and_unset_is_ignored(tracer: trace.Tracer) -> None:
    span = fast(tracer.start_span("s"))
    span.set_status(StatusCode.ERROR, "upstream timed out")
    span.set_status(StatusCode.UNSET)
    assert status_of(span) == (StatusCode.ERROR, "upstream timed out")
    span.set_status(StatusCode.OK, "dropped: only ERROR carries a description")
    assert status_of(span) == (StatusCode.OK, None)


def test_limits_drop_and_count(spans: InMemorySpans) -> None:
    limits = SpanLimits(max_attributes=3, max_events=2, max_links=1, max_event_attributes=1, max_value_length=4)
    tracer = make_tracer(spans, limits=limits)
    span = fast(tracer.start_span("limited", attributes={f"k{i}": i for i in range(5)}))
    assert span.dropped_attributes == 2
    span.set_attribute("k0", "a long value")  # an existing key is replaced, not counted
    span.set_attribute("k9", 9)
    span.set_attribute("tags", ["abcdef", "xy"])
    for i in range(4):
        span.add_event(f"e{i}", {"x": 1, "y": 2})
    span.add_link(REMOTE)
    span.add_link(UNSAMPLED_REMOTE)
    assert span.attributes == {"k0": "a lo", "k1": 1, "k2": 2}
    assert span.dropped_attributes == 4
    assert span.dropped_events == 2
    assert span.dropped_links == 1
    assert span.events[0][2:] == ({"x": 1}, 1)
    span.end()
    assert spans.records[0][16] == [4, 2, 1]


def test_the_default_attribute_count_limit_is_128(tracer: trace.Tracer) -> None:
    span = fast(tracer.start_span("many"))
    for i in range(200):
        span.set_attribute(f"k{i}", i)
    assert len(span.attributes) == 128
    assert span.dropped_attributes == 72


def test_invalid_attribute_values_are_cleaned_or_dropped(tracer: trace.Tracer) -> None:
    class Opaque:
        __slots__ = ()

    class Named:
        def __str__(self) -> str:
            return "named"

    span = fast(tracer.start_span("values"))
    span.set_attribute("named", Named())  # type: ignore[arg-type]
    span.set_attribute("opaque", Opaque())  # type: ignore[arg-type]
    span.set_attribute("", "empty key")
    span.set_attribute("mapping", {"inner": [1, Opaque()]})  # type: ignore[list-item]
    span.set_attribute("bytes", b"\x00\x01")
    assert span.attributes == {"named": "named", "mapping": {"inner": (1,)}, "bytes": b"\x00\x01"}
    assert span.dropped_attributes == 2


def test_scopes_are_registered_once_per_distinct_tracer(spans: InMemorySpans) -> None:
    provider = FastTracerProvider(sampler_config("parentbased_always_on"), SpanLimits(), spans)
    first = provider.get_tracer("a", "1")
    assert provider.get_tracer("a", "1") is first
    provider.get_tracer("b", schema_url="https://opentelemetry.io/schemas/1.26.0", attributes={"x": 1})
    assert spans.scopes == [(0, "a", "1", "", {}), (1, "b", "", "https://opentelemetry.io/schemas/1.26.0", {"x": 1})]
    provider.get_tracer("b").start_span("s").end()
    assert spans.records[0][13] == 2


def test_without_a_pipeline_spans_still_propagate(spans: InMemorySpans) -> None:
    provider = FastTracerProvider(sampler_config("parentbased_always_on"), SpanLimits(), None)
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("unexported") as span:
        assert span.get_span_context().is_valid
    assert provider.force_flush()
