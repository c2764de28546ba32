"""The fast provider's recording span: an API ``Span`` whose whole life is a few slot stores and one tuple.

What it skips compared with the SDK span, and why that is safe:

- No lock. Every mutation is a single dict/slot store, atomic under the GIL; the one compound step (``end``'s
  check-then-set) could only double-record a span that two threads end at the same instant.
- No ``SpanContext`` until someone asks: children of a fast span read its ids from slots, so the context object (and
  its ``TraceFlags``) is built only for propagation or for foreign code calling ``get_span_context()``.
- No processor chain: ``end`` hands one flat tuple (``wire.SpanRecord``) to the pipeline's ``append``, which never
  blocks (it drops and counts when full).
"""

from __future__ import annotations

import traceback
from time import time_ns
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from opentelemetry.trace import (
    DEFAULT_TRACE_STATE,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)

from otel.tracing.attributes import INVALID, SCALARS, bounded_attributes, clean_value

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from types import TracebackType

    from opentelemetry.util import types

    from otel.tracing.attributes import SpanLimits
    from otel.tracing.wire import EventRecord, LinkRecord, SpanRecord

__all__ = ("FastSpan", "link_record")

_MASK64: Final = (1 << 64) - 1
_SAMPLED: Final = TraceFlags(TraceFlags.SAMPLED)
_DEFAULT_TRACE_STATE: Final = DEFAULT_TRACE_STATE
_HAS_IS_REMOTE: Final = 0x100
_IS_REMOTE: Final = 0x200
_UNSET: Final = 0
_OK: Final = 1
_ERROR: Final = 2
_CODES: Final = {StatusCode.UNSET: _UNSET, StatusCode.OK: _OK, StatusCode.ERROR: _ERROR}
_STATUS_CODES: Final = {code: status for status, code in _CODES.items()}


class FastSpan(Span):
    """A sampled, recording span of the fast provider; create it with ``FastTracer.start_span``."""

    __slots__ = (
        "_append",
        "_attributes",
        "_context",
        "_dropped",
        "_end",
        "_events",
        "_flags",
        "_kind",
        "_limits",
        "_links",
        "_name",
        "_parent_id",
        "_record_exception",
        "_scope_id",
        "_set_status_on_exception",
        "_span_id",
        "_start",
        "_status_code",
        "_status_message",
        "_trace_id",
        "_trace_state",
    )

    def __init__(
        self,
        name: str,
        trace_id: int,
        span_id: int,
        parent_id: int,
        flags: int,
        trace_state: TraceState,
        kind: SpanKind,
        start: int,
        limits: SpanLimits,
        scope_id: int,
        append: Callable[[SpanRecord], None],
    ) -> None:
        self._name = name
        self._trace_id = trace_id
        self._span_id = span_id
        self._parent_id = parent_id
        self._flags = flags
        self._trace_state = trace_state
        self._kind = kind
        self._start = start
        self._end: int | None = None
        self._limits = limits
        self._scope_id = scope_id
        self._append = append
        self._attributes: dict[str, Any] = {}
        self._events: list[EventRecord] | None = None
        self._links: list[LinkRecord] | None = None
        self._dropped: list[int] | None = None
        self._status_code = _UNSET
        self._status_message: str | None = None
        self._context: SpanContext | None = None
        self._record_exception = True
        self._set_status_on_exception = True

    # --- the API --------------------------------------------------------------------------------------------------

    def get_span_context(self) -> SpanContext:
        context = self._context
        if context is None:
            context = self._context = SpanContext(self._trace_id, self._span_id, False, _SAMPLED, self._trace_state)
        return context

    def is_recording(self) -> bool:
        return self._end is None

    def set_attribute(self, key: str, value: types.AnyValue) -> None:
        if self._end is not None:
            return
        attributes = self._attributes
        limits = self._limits
        if type(value) not in SCALARS or (limits.max_value_length is not None and type(value) is str):
            value = clean_value(value, limits.max_value_length)
            if value is INVALID:
                self._count_dropped(0)
                return
        if (len(attributes) < limits.max_attributes or key in attributes) and key and type(key) is str:
            attributes[key] = value
        else:
            self._count_dropped(0)

    def set_attributes(self, attributes: Mapping[str, types.AnyValue]) -> None:
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def add_event(self, name: str, attributes: types.Attributes = None, timestamp: int | None = None) -> None:
        if self._end is not None:
            return
        events = self._events
        if events is None:
            events = self._events = []
        if len(events) >= self._limits.max_events:
            self._count_dropped(1)
            return
        limits = self._limits
        cleaned, dropped = bounded_attributes(attributes, limits.max_event_attributes, limits.max_value_length)
        events.append((name, time_ns() if timestamp is None else timestamp, cleaned, dropped))

    def add_link(self, context: SpanContext, attributes: types.Attributes = None) -> None:
        if self._end is not None:
            return
        if not context.is_valid and not attributes and not context.trace_state:
            return  # the API allows ignoring an empty link to an invalid context
        links = self._links
        if links is None:
            links = self._links = []
        if len(links) >= self._limits.max_links:
            self._count_dropped(2)
            return
        links.append(link_record(context, attributes, self._limits))

    def update_name(self, name: str) -> None:
        if self._end is None:
            self._name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        # The SDK's rules: OK is final, UNSET is never set, a description only accompanies ERROR.
        if self._end is not None or self._status_code == _OK:
            return
        if isinstance(status, Status):
            code, description = status.status_code, status.description
        else:
            code = status
        if code is StatusCode.UNSET:
            return
        self._status_code = _CODES[code]
        self._status_message = description if code is StatusCode.ERROR and isinstance(description, str) else None

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        exception_type = type(exception)
        module = exception_type.__module__
        event: dict[str, types.AnyValue] = {
            "exception.type": f"{module}.{exception_type.__qualname__}"
            if module and module != "builtins"
            else exception_type.__qualname__,
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        if attributes:
            event.update(attributes)
        self.add_event("exception", event, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self._end is not None:
            return
        end = self._end = time_ns() if end_time is None else end_time
        trace_id = self._trace_id
        trace_state = self._trace_state
        self._append(
            (
                trace_id >> 64,
                trace_id & _MASK64,
                self._span_id,
                self._parent_id,
                self._name,
                self._kind._value_,
                self._start,
                end,
                self._status_code,
                self._status_message,
                self._attributes,
                self._events,
                self._links,
                self._scope_id,
                self._flags,
                "" if trace_state is _DEFAULT_TRACE_STATE or not trace_state else trace_state.to_header(),
                self._dropped,
            )
        )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        """``with tracer.start_span(...) as span``: as in the SDK, an exception is recorded before the span ends."""
        if exc_val is not None and self._end is None:
            if self._record_exception:
                self.record_exception(exc_val, escaped=True)
            if self._set_status_on_exception:
                self.set_status(Status(StatusCode.ERROR, f"{type(exc_val).__name__}: {exc_val}"))
        self.end()

    # --- read access, for tests and debugging (the SDK's ReadableSpan names) --------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def kind(self) -> SpanKind:
        return self._kind

    @property
    def parent_span_id(self) -> int:
        """0 for a root span."""
        return self._parent_id

    @property
    def parent_is_remote(self) -> bool:
        return bool(self._flags & _IS_REMOTE)

    @property
    def start_time(self) -> int:
        return self._start

    @property
    def end_time(self) -> int | None:
        return self._end

    @property
    def attributes(self) -> Mapping[str, Any]:
        return MappingProxyType(self._attributes)

    @property
    def events(self) -> Sequence[EventRecord]:
        return tuple(self._events or ())

    @property
    def links(self) -> Sequence[LinkRecord]:
        return tuple(self._links or ())

    @property
    def status(self) -> Status:
        return Status(_STATUS_CODES[self._status_code], self._status_message)

    @property
    def dropped_attributes(self) -> int:
        return self._dropped[0] if self._dropped else 0

    @property
    def dropped_events(self) -> int:
        return self._dropped[1] if self._dropped else 0

    @property
    def dropped_links(self) -> int:
        return self._dropped[2] if self._dropped else 0

    def __repr__(self) -> str:
        return f"FastSpan({self._name!r}, trace_id=0x{self._trace_id:032x}, span_id=0x{self._span_id:016x})"

    def _count_dropped(self, index: int) -> None:
        dropped = self._dropped
        if dropped is None:
            dropped = self._dropped = [0, 0, 0]
        dropped[index] += 1


def link_record(context: SpanContext, attributes: types.Attributes, limits: SpanLimits) -> LinkRecord:
    cleaned, dropped = bounded_attributes(attributes, limits.max_link_attributes, limits.max_value_length)
    trace_state = context.trace_state
    flags = int(context.trace_flags) & 0xFF | _HAS_IS_REMOTE | (_IS_REMOTE if context.is_remote else 0)
    return (
        context.trace_id >> 64,
        context.trace_id & _MASK64,
        context.span_id,
        trace_state.to_header() if trace_state else "",
        flags,
        cleaned,
        dropped,
    )
