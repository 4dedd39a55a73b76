"""The span of one served call, lighter than the SDK's: tracing.py starts one on the event loop of every process a
call passes through. The SDK's span takes a lock, bounded attribute and event containers, a dispatch to the span
processors and a second object to export; a hop's tracing work (read the traceparent, start the span, make it current,
two attributes, end it) took 38 µs with it and 19 µs with this one in a tight loop, 90 and 45 µs with calls spaced out
as they come (cold caches), and that work is most of what tracing adds to a call's latency.

What it keeps of the SDK: span and trace ids from the provider's id generator, the sampling decision (the default
sampler, ParentBased(ALWAYS_ON), is decided here without a call; any other sampler set with OTEL_TRACES_SAMPLER is
asked), the attribute count limit and string length limit (OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT...), attribute values
cleaned as the SDK cleans them, events, links, status rules, and a ReadableSpan handed to the span processors when the
span ends (the processors are BatchSpanProcessors, whose on_start does nothing: it is not called).
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping, Sequence
from time import time_ns

from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanLimits, SpanProcessor, TracerProvider, sampling
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util import types

_UNSET = Status(StatusCode.UNSET)
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_SAMPLED_RANDOM = TraceFlags(TraceFlags.SAMPLED | TraceFlags.RANDOM_TRACE_ID)
_NOT_SAMPLED = TraceFlags(TraceFlags.DEFAULT)
_NOT_SAMPLED_RANDOM = TraceFlags(TraceFlags.RANDOM_TRACE_ID)
_FAST_VALUES = (str, bool, int, float)


class ServerSpans:
    """Starts the SERVER spans of one process, as its TracerProvider would, for `processors` (those added to it)."""

    def __init__(
        self, provider: TracerProvider, scope: InstrumentationScope, processors: Sequence[SpanProcessor]
    ) -> None:
        self._ids = provider.id_generator
        self._random_ids = self._ids.is_trace_id_random()
        self._sampler = None if provider.sampler is sampling.DEFAULT_ON else provider.sampler
        self._resource = provider.resource
        self._scope = scope
        self._processors = tuple(processors)
        limits = SpanLimits()
        self._max_attributes = limits.max_span_attributes
        self._max_length = limits.max_span_attribute_length
        self._max_events = limits.max_events
        self._max_links = limits.max_links

    def start(self, name: str, parent: SpanContext | None, attributes: Mapping[str, types.AnyValue]) -> trace.Span:
        """A started span named `name`, the child of `parent` (a remote span: the caller's) or a new trace's root; a
        NonRecordingSpan (which still carries the trace on) when it is not sampled."""
        if parent is not None and parent.is_valid:
            trace_id = parent.trace_id
            random_ids = parent.trace_flags.random_trace_id
            trace_state = parent.trace_state
        else:
            parent = trace_state = None
            trace_id = self._ids.generate_trace_id()
            random_ids = self._random_ids
        added: Mapping[str, types.AnyValue] | None = None
        if self._sampler is None:  # ParentBased(ALWAYS_ON): a root is sampled, a child as its parent was
            sampled = parent is None or parent.trace_flags.sampled
        else:
            caller = trace.set_span_in_context(trace.NonRecordingSpan(parent)) if parent is not None else None
            result = self._sampler.should_sample(caller, trace_id, name, SpanKind.SERVER, attributes)
            sampled, added, trace_state = result.decision.is_sampled(), result.attributes, result.trace_state
        if sampled:
            flags = _SAMPLED_RANDOM if random_ids else _SAMPLED
        else:
            flags = _NOT_SAMPLED_RANDOM if random_ids else _NOT_SAMPLED
        context = SpanContext(trace_id, self._ids.generate_span_id(), False, flags, trace_state)
        if not sampled:  # not exported: nothing to record (the SDK's RECORD_ONLY spans reach no exporter either)
            return trace.NonRecordingSpan(context)
        span = ServerSpan(self, name, context, parent, attributes)
        if added:
            span.set_attributes(added)
        return span

    def _ended(self, span: ReadableSpan) -> None:
        for processor in self._processors:
            processor.on_end(span)


class ServerSpan(trace.Span):
    """A recording SERVER span (see the module's docstring); ended once, and frozen from then on."""

    __slots__ = (
        "_attributes",
        "_context",
        "_dropped_attributes",
        "_end_time",
        "_events",
        "_links",
        "_name",
        "_parent",
        "_spans",
        "_start_time",
        "_status",
    )

    def __init__(
        self,
        spans: ServerSpans,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        attributes: Mapping[str, types.AnyValue],
    ) -> None:
        self._spans = spans
        self._name = name
        self._context = context
        self._parent = parent
        self._attributes: dict[str, types.AnyValue] = {}
        self._dropped_attributes = 0
        self._events: list[Event] | None = None
        self._links: list[Link] | None = None
        self._status = _UNSET
        self._end_time: int | None = None
        self.set_attributes(attributes)
        self._start_time = time_ns()

    def get_span_context(self) -> SpanContext:
        return self._context

    def is_recording(self) -> bool:
        return self._end_time is None

    def set_attribute(self, key: str, value: types.AnyValue) -> None:
        if self._end_time is not None:
            return
        spans = self._spans
        if value.__class__ not in _FAST_VALUES or (spans._max_length is not None and value.__class__ is str):
            cleaned = BoundedAttributes(attributes={key: value}, immutable=False, max_value_len=spans._max_length)
            if key not in cleaned:  # a value the SDK drops
                return
            value = cleaned[key]
        attributes = self._attributes
        limit = spans._max_attributes
        if limit is not None and key not in attributes and len(attributes) >= limit:
            self._dropped_attributes += 1
            return
        attributes[key] = value

    def set_attributes(self, attributes: Mapping[str, types.AnyValue]) -> None:
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def add_event(self, name: str, attributes: types.Attributes = None, timestamp: int | None = None) -> None:
        if self._end_time is not None:
            return
        if self._events is None:
            self._events = []
        if self._spans._max_events is None or len(self._events) < self._spans._max_events:
            frozen = BoundedAttributes(attributes=attributes, immutable=True, max_value_len=self._spans._max_length)
            self._events.append(Event(name, frozen, timestamp))

    def add_link(self, context: SpanContext, attributes: types.Attributes = None) -> None:
        if self._end_time is not None or not (context.is_valid or attributes or context.trace_state):
            return
        if self._links is None:
            self._links = []
        if self._spans._max_links is None or len(self._links) < self._spans._max_links:
            frozen = BoundedAttributes(attributes=attributes, immutable=True, max_value_len=self._spans._max_length)
            self._links.append(Link(context, frozen))

    def update_name(self, name: str) -> None:
        if self._end_time is None:
            self._name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        """As the SDK's: a status set to OK stays; UNSET is never set."""
        if self._end_time is not None or self._status.status_code is StatusCode.OK:
            return
        if isinstance(status, Status):
            if status.status_code is not StatusCode.UNSET:
                self._status = status
        elif status is not StatusCode.UNSET:
            self._status = Status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        """An `exception` event, with the attributes the SDK gives it."""
        kind = type(exception)
        module = kind.__module__
        event: dict[str, types.AnyValue] = {
            "exception.type": f"{module}.{kind.__qualname__}" if module and module != "builtins" else kind.__qualname__,
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        if attributes:
            event.update(attributes)
        self.add_event("exception", event, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self._end_time is not None:
            return
        self._end_time = end_time if end_time is not None else time_ns()
        spans = self._spans
        # a copy: a set_attribute racing with end (from a worker thread) cannot change what the export thread reads
        attributes: Mapping[str, types.AnyValue] = dict(self._attributes)
        if self._dropped_attributes:
            attributes = BoundedAttributes(attributes=self._attributes, immutable=True)
            attributes.dropped = self._dropped_attributes  # type: ignore[attr-defined]
        spans._ended(
            ReadableSpan(
                name=self._name,
                context=self._context,
                parent=self._parent,
                resource=spans._resource,
                attributes=attributes,
                events=tuple(self._events or ()),
                links=tuple(self._links or ()),
                kind=SpanKind.SERVER,
                status=self._status,
                start_time=self._start_time,
                end_time=self._end_time,
                instrumentation_scope=spans._scope,
            )
        )
