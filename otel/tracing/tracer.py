"""The fast ``TracerProvider`` and ``Tracer``: the OpenTelemetry tracing API without SDK objects.

Application code and library instrumentations keep calling ``opentelemetry.trace``; only the objects behind the API
differ. ``start_span`` reads the parent straight out of the context (a ``FastSpan``'s ids are slots, any other span
goes through ``get_span_context()``), decides sampling with the inlined ``SamplerConfig``, and builds one
``FastSpan`` — or, for a dropped sample, the API's ``NonRecordingSpan`` carrying a fresh span id, the trace id and the
parent's trace state, exactly as the SDK does, so propagation downstream keeps working.
"""

from __future__ import annotations

import functools
import inspect
import threading
from random import getrandbits
from time import time_ns
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

from opentelemetry import context as context_api
from opentelemetry.trace import (
    DEFAULT_TRACE_STATE,
    INVALID_SPAN_CONTEXT,
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    Tracer,
    TracerProvider,
)
from opentelemetry.trace.propagation import _SPAN_KEY

from otel.tracing.attributes import bounded_attributes
from otel.tracing.span import FastSpan

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from contextvars import Token

    from opentelemetry.context import Context
    from opentelemetry.trace import Link
    from opentelemetry.util import types

    from otel.tracing.attributes import SpanLimits
    from otel.tracing.sampler import SamplerConfig
    from otel.tracing.wire import ScopeRecord, SpanRecord

__all__ = ("CurrentSpan", "FastTracer", "FastTracerProvider", "SpanPipeline")

F = TypeVar("F", bound="Callable[..., Any]")

_get_current = context_api.get_current
_attach = context_api.attach
_detach = context_api.detach
_set_value = context_api.set_value
_NOT_SAMPLED: Final = TraceFlags(TraceFlags.DEFAULT)
_HAS_IS_REMOTE: Final = 0x100
_IS_REMOTE: Final = 0x200
_ROOT_FLAGS: Final = TraceFlags.SAMPLED | _HAS_IS_REMOTE
_LOCAL_CHILD_FLAGS: Final = TraceFlags.SAMPLED | _HAS_IS_REMOTE
_REMOTE_CHILD_FLAGS: Final = TraceFlags.SAMPLED | _HAS_IS_REMOTE | _IS_REMOTE


class SpanPipeline(Protocol):
    """Where ended spans go: the exporter-process shipper in services, an in-memory list in tests."""

    def append(self, record: SpanRecord) -> None:
        """Take one ended span; must never block (drop and count instead)."""

    def register_scope(self, scope: ScopeRecord) -> None:
        """Learn an instrumentation scope before the first span that refers to it."""

    def force_flush(self, timeout_s: float) -> bool: ...

    def shutdown(self, timeout_s: float) -> None: ...


def _discard(record: SpanRecord) -> None:
    """The sink when traces are not exported (``OTEL_TRACES_EXPORTER=none``): spans still propagate context."""


class FastTracerProvider(TracerProvider):
    """Hands out ``FastTracer``s; one per process, installed as the global provider by ``setup_telemetry``."""

    def __init__(self, sampler: SamplerConfig, limits: SpanLimits, pipeline: SpanPipeline | None = None) -> None:
        self.sampler = sampler
        self.limits = limits
        self.pipeline = pipeline
        self._append: Callable[[SpanRecord], None] = pipeline.append if pipeline is not None else _discard
        self._tracers: dict[tuple[str, str, str, tuple[tuple[str, Any], ...]], FastTracer] = {}
        self._lock = threading.Lock()

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: types.Attributes = None,
    ) -> Tracer:
        name = instrumenting_module_name or ""
        key = (name, instrumenting_library_version or "", schema_url or "", tuple(sorted((attributes or {}).items())))
        tracer = self._tracers.get(key)
        if tracer is None:
            with self._lock:
                tracer = self._tracers.get(key)
                if tracer is None:
                    scope_id = len(self._tracers)
                    scope_attributes, _ = bounded_attributes(attributes, self.limits.max_attributes, None)
                    if self.pipeline is not None:
                        self.pipeline.register_scope((scope_id, key[0], key[1], key[2], scope_attributes))
                    tracer = self._tracers[key] = FastTracer(self, scope_id)
        return tracer

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Hand every ended span to the exporter process (not: wait for the collector)."""
        return self.pipeline.force_flush(timeout_millis / 1000) if self.pipeline is not None else True

    def shutdown(self, timeout_millis: int = 30_000) -> None:
        if self.pipeline is not None:
            self.pipeline.shutdown(timeout_millis / 1000)


class FastTracer(Tracer):
    """Creates ``FastSpan``s for one instrumentation scope."""

    def __init__(self, provider: FastTracerProvider, scope_id: int) -> None:
        self._limits = provider.limits
        self._append = provider._append
        self._scope_id = scope_id
        sampler = provider.sampler
        self._parent_based = sampler.parent_based
        self._fixed = sampler.fixed
        self._bound = sampler.bound

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> Span:
        parent = (_get_current() if context is None else context).get(_SPAN_KEY)
        if type(parent) is FastSpan:
            trace_id = parent._trace_id
            parent_id = parent._span_id
            trace_state = parent._trace_state
            flags = _LOCAL_CHILD_FLAGS
            sampled = True if self._parent_based else self._sample_root(trace_id)
        else:
            if parent is not None and (type(parent) is NonRecordingSpan or isinstance(parent, Span)):
                parent_context = parent.get_span_context()  # the exact-type test skips the ABC's slower check
            else:
                parent_context = INVALID_SPAN_CONTEXT
            # SpanContext is a tuple (trace id, span id, is remote, flags, state, is valid); one unpack instead of
            # six property calls.
            trace_id, parent_id, is_remote, trace_flags, trace_state, is_valid = parent_context
            if is_valid:
                flags = _REMOTE_CHILD_FLAGS if is_remote else _LOCAL_CHILD_FLAGS
                sampled = bool(trace_flags & TraceFlags.SAMPLED) if self._parent_based else self._sample_root(trace_id)
            else:
                trace_id = getrandbits(128) or 1
                parent_id = 0
                trace_state = DEFAULT_TRACE_STATE
                flags = _ROOT_FLAGS
                fixed = self._fixed
                sampled = fixed if fixed is not None else (trace_id & 0xFFFFFFFFFFFFFFFF) < self._bound
        if not sampled:
            return NonRecordingSpan(SpanContext(trace_id, getrandbits(64) or 1, False, _NOT_SAMPLED, trace_state))
        span = FastSpan(
            name,
            trace_id,
            getrandbits(64) or 1,
            parent_id,
            flags,
            trace_state,
            kind,
            time_ns() if start_time is None else start_time,
            self._limits,
            self._scope_id,
            self._append,
        )
        if attributes:
            span._attributes, dropped = bounded_attributes(
                attributes, self._limits.max_attributes, self._limits.max_value_length
            )
            if dropped:
                span._dropped = [dropped, 0, 0]
        if links:
            for link in links:
                span.add_link(link.context, link.attributes)
        if not record_exception:
            span._record_exception = False
        if not set_status_on_exception:
            span._set_status_on_exception = False
        return span

    def start_as_current_span(  # type: ignore[override]
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> CurrentSpan:
        """A ``CurrentSpan``: ``trace.use_span`` semantics in a slotted object instead of a generator.

        The API declares ``_AgnosticContextManager`` (a generator context manager); this returns an object with the
        same behaviour — ``with``, ``async with``-free use in coroutines, and decorating sync or async functions —
        at a third of the cost, hence the ``type: ignore[override]``.
        """
        return CurrentSpan(
            self,
            name,
            context,
            kind,
            attributes,
            links,
            start_time,
            record_exception,
            set_status_on_exception,
            end_on_exit,
        )

    def _sample_root(self, trace_id: int) -> bool:
        fixed = self._fixed
        return fixed if fixed is not None else (trace_id & 0xFFFFFFFFFFFFFFFF) < self._bound


class CurrentSpan:
    """The context manager of ``start_as_current_span``: starts the span on entry, like the API's generator.

    On exit it detaches the context, then — for an ``Exception``, not a ``BaseException`` such as ``GeneratorExit``
    — records the exception and sets ERROR status (if the span is recording and the flags allow), re-raises, and ends
    the span: the order of ``opentelemetry.trace.use_span``.
    """

    __slots__ = (
        "_attributes",
        "_context",
        "_end_on_exit",
        "_kind",
        "_links",
        "_name",
        "_record_exception",
        "_set_status_on_exception",
        "_span",
        "_start_time",
        "_token",
        "_tracer",
    )

    def __init__(
        self,
        tracer: FastTracer,
        name: str,
        context: Context | None,
        kind: SpanKind,
        attributes: types.Attributes,
        links: Sequence[Link] | None,
        start_time: int | None,
        record_exception: bool,
        set_status_on_exception: bool,
        end_on_exit: bool,
    ) -> None:
        self._tracer = tracer
        self._name = name
        self._context = context
        self._kind = kind
        self._attributes = attributes
        self._links = links
        self._start_time = start_time
        self._record_exception = record_exception
        self._set_status_on_exception = set_status_on_exception
        self._end_on_exit = end_on_exit
        self._span: Span | None = None
        self._token: Token[Context] | None = None

    def __enter__(self) -> Span:
        span = self._span = self._tracer.start_span(
            self._name,
            self._context,
            self._kind,
            self._attributes,
            self._links,
            self._start_time,
            self._record_exception,
            self._set_status_on_exception,
        )
        self._token = _attach(_set_value(_SPAN_KEY, span))
        return span

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        span = self._span
        assert span is not None and self._token is not None, "CurrentSpan exited without being entered"
        _detach(self._token)
        if isinstance(exc, Exception) and span.is_recording():
            if self._record_exception:
                span.record_exception(exc)
            if self._set_status_on_exception:
                span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        if self._end_on_exit:
            span.end()

    def _fresh(self) -> CurrentSpan:
        return CurrentSpan(
            self._tracer,
            self._name,
            self._context,
            self._kind,
            self._attributes,
            self._links,
            self._start_time,
            self._record_exception,
            self._set_status_on_exception,
            self._end_on_exit,
        )

    def __call__(self, func: F) -> F:
        """Decorator use: a new span per call; for a coroutine function it spans the whole await."""
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with self._fresh():
                    return await func(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._fresh():
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]
