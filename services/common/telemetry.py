"""OpenTelemetry set-up (traces and metrics) and W3C trace-context propagation over gRPC
and NATS headers."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from opentelemetry import baggage, context, metrics, propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, Sampler
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_configured = False


def setup_tracing(service_name: str) -> TracerProvider:
    """Install the tracer and meter providers; export over OTLP only when an endpoint is
    configured (OTEL_EXPORTER_OTLP_ENDPOINT, plus the standard OTEL_* tuning variables)."""
    global _configured
    resource = Resource.create({"service.name": service_name})
    exporting = bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
    provider = TracerProvider(resource=resource, sampler=sampler_for(os.environ))
    readers: list[MetricReader] = []
    if exporting:
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    if not _configured:
        trace.set_tracer_provider(provider)
        meters = meter_provider_for(resource, readers)
        if meters is not None:
            metrics.set_meter_provider(meters)
        _configured = True
    return provider


def meter_provider_for(resource: Resource, readers: list[MetricReader]) -> MeterProvider | None:
    """The SDK's meter provider when something reads the metrics; None (the API's no-op
    instruments stay in place) when nothing does. The SDK does its per-measurement work
    (a Measurement, attribute cleaning, the exemplar filter) even with no reader to hand
    it to: 2 % of a service's CPU for the RPC duration metric alone (benchmarks/README.md,
    round 5). Readers are only ever given here, at start-up."""
    if not readers:
        return None
    return MeterProvider(resource=resource, metric_readers=readers)


def sampler_for(environ: Mapping[str, str]) -> Sampler | None:
    """With nowhere to send spans, record none (make bench: the instrumentations' span work
    was a fifth of the gateway's CPU). Spans still get ids, so logs carry trace ids and
    traceparent still travels over gRPC and NATS. None: the SDK's default, which follows
    OTEL_TRACES_SAMPLER when it is set."""
    if environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_TRACES_SAMPLER"):
        return None
    return ALWAYS_OFF


def records_spans(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether spans are recorded: sampler_for leaves the SDK's sampler in place. When they
    are not, the HTTP edge and the gRPC servers skip OpenTelemetry's instrumentations (all
    their per-request work would be dropped) and carry only the W3C trace context."""
    return sampler_for(environ) is None


def shutdown_tracing() -> None:
    """Flush what is buffered (spans and metrics) before the process exits."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()
    meters = metrics.get_meter_provider()
    if isinstance(meters, MeterProvider):
        meters.shutdown()


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def current_traceparent() -> dict[str, str]:
    """The current span's traceparent (and tracestate) as carrier headers: what the global
    propagator's inject() writes, made directly as current_trace_metadata() makes it (an
    outbox row, a relayed message, an onward call each ask for it)."""
    return dict(current_trace_metadata())


def _injected() -> tuple[tuple[str, str], ...]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return tuple(carrier.items())


def context_from(headers: Mapping[str, str] | None) -> context.Context:
    return propagate.extract(dict(headers or {}))


def current_trace_id() -> str:
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else ""


# W3C trace context, as opentelemetry's TraceContextTextMapPropagator reads it (its pattern
# and checks; tests/unit/test_rpc_telemetry.py compares the two on good and bad headers).
_TRACEPARENT = re.compile(
    "^[ \t]*([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:(-.*)|[ \t]*)$"
)
_TRACEPARENT_MAXIMUM_LENGTH = 512
_TRACESTATE_MAXIMUM_LENGTH = 8192
_NO_TRACE = "0" * 32
_NO_SPAN = "0" * 16
# The metadata keys the default propagators (W3C trace context and baggage) read.
PROPAGATED = ("traceparent", "tracestate", "baggage")


def _remote_parent(traceparent: str, tracestate: str | None) -> tuple[int, int, Any] | None:
    """The caller's trace id, trace flags and trace state from its `traceparent` (and
    `tracestate`), None when the header is not one the W3C propagator accepts."""
    if len(traceparent) > _TRACEPARENT_MAXIMUM_LENGTH:
        return None
    match = _TRACEPARENT.match(traceparent)
    if match is None:
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    if trace_id == _NO_TRACE or span_id == _NO_SPAN or version == "ff":
        return None
    if version == "00" and rest:
        return None
    state = None
    if tracestate is not None and len(tracestate) <= _TRACESTATE_MAXIMUM_LENGTH:
        state = TraceState.from_header([tracestate])
    return int(trace_id, 16), int(flags, 16), state


class CallTraceContext:
    """Each call of a server whose spans are not recorded runs in a non-recorded server
    span that continues the caller's W3C trace context (a new trace when it sent none), so
    that its log lines, outbox rows and onward calls carry the caller's trace.

    That is what the global propagator's extract() and a tracer's start_span() under the
    ALWAYS_OFF sampler (sampler_for) give; both are general (a composite propagator, a
    regex looked up per call, a sampler, span limits) and were 6 % of a service's CPU per
    call (benchmarks/README.md, round 5). Here the header is parsed once and the span is
    made directly with the SDK's id generator, under the same rules. When the result
    could differ, the general path runs instead: a `baggage` entry (the propagator puts it
    in the context), propagators other than W3C trace context and baggage, or no SDK
    tracer (nothing to continue with: tests, OTEL_SDK_DISABLED)."""

    def __init__(self, name: str, tracer_provider: trace.TracerProvider | None = None) -> None:
        self._name = name
        self._provider = tracer_provider
        self._tracer = trace.get_tracer(name, tracer_provider=tracer_provider)
        self._ids: IdGenerator | None = None
        self._textmap: Any = None

    def start(
        self, span_name: str, metadata: Mapping[str, Any]
    ) -> tuple[context.Context, trace.Span]:
        """The call's context (to attach) and its span (to end)."""
        traceparent = metadata.get("traceparent")
        tracestate = metadata.get("tracestate")
        ids = self._direct()
        if ids is None or "baggage" in metadata:
            return self._general(span_name, metadata)
        remote = None
        if traceparent is not None or tracestate is not None:
            # As extract() does with a carrier: the call's context starts empty.
            base: context.Context | None = context.Context()
            if traceparent is not None:
                remote = _remote_parent(str(traceparent), _text_or_none(tracestate))
        else:
            base = None  # as start_span(context=None): the current context
        if remote is not None:
            trace_id, flags, state = remote
            random_id = bool(flags & TraceFlags.RANDOM_TRACE_ID)
        else:
            # No usable trace context sent: the current span's trace (none in a server's
            # call), else a new trace, as start_span() does.
            parent = trace.get_current_span(base).get_span_context()
            if parent.is_valid:
                trace_id = parent.trace_id
                random_id = parent.trace_flags.random_trace_id
                state = parent.trace_state
            else:
                trace_id = ids.generate_trace_id()
                random_id = ids.is_trace_id_random()
                state = None
        span = NonRecordingSpan(
            SpanContext(
                trace_id,
                ids.generate_span_id(),
                is_remote=False,
                trace_flags=TraceFlags(
                    TraceFlags.RANDOM_TRACE_ID if random_id else TraceFlags.DEFAULT
                ),
                trace_state=state,
            )
        )
        return trace.set_span_in_context(span, base), span

    def _general(
        self, span_name: str, metadata: Mapping[str, Any]
    ) -> tuple[context.Context, trace.Span]:
        carrier = {key: metadata[key] for key in PROPAGATED if key in metadata}
        parent = propagate.extract(carrier) if carrier else None
        span = self._tracer.start_span(span_name, context=parent, kind=trace.SpanKind.SERVER)
        return trace.set_span_in_context(span, parent), span

    def _direct(self) -> IdGenerator | None:
        """The SDK tracer's id generator when the direct path gives what the general one
        would; None otherwise."""
        textmap = propagate.get_global_textmap()
        if self._ids is not None and textmap is self._textmap:
            return self._ids
        provider = self._provider or trace.get_tracer_provider()
        tracer = provider.get_tracer(self._name)
        if isinstance(tracer, SdkTracer) and _w3c_only(textmap):
            self._ids, self._textmap = tracer.id_generator, textmap
            return self._ids
        return None


# The global propagator last found to be W3C trace context (and baggage) only.
_W3C_TEXTMAP: list[Any] = [None]


def current_trace_metadata() -> tuple[tuple[str, str], ...]:
    """The current trace context as metadata pairs: what the global propagator's inject()
    writes, made directly when the propagators are W3C trace
    context (and baggage) and the context holds no baggage, as W3C's inject() writes it:
    nothing for an invalid span context, else `traceparent`, and `tracestate` when the
    state has entries. Otherwise (baggage, other propagators) the propagator itself runs.
    tests/unit/test_gateway_tracing.py compares the two."""
    textmap = propagate.get_global_textmap()
    if textmap is not _W3C_TEXTMAP[0]:
        if not _w3c_only(textmap):
            return _injected()
        _W3C_TEXTMAP[0] = textmap
    current = context.get_current()
    if baggage.get_all(current):
        return _injected()
    span_context = trace.get_current_span(current).get_span_context()
    if span_context == trace.INVALID_SPAN_CONTEXT:
        return ()
    traceparent = (
        f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}"
        f"-{span_context.trace_flags:02x}"
    )
    if span_context.trace_state:
        return (
            ("traceparent", traceparent),
            ("tracestate", span_context.trace_state.to_header()),
        )
    return (("traceparent", traceparent),)


def _w3c_only(textmap: Any) -> bool:
    """Whether `textmap` reads W3C trace context (and perhaps baggage), and nothing else."""
    propagators = (
        list(textmap._propagators) if isinstance(textmap, CompositePropagator) else [textmap]
    )
    kinds = {type(p) for p in propagators}
    return TraceContextTextMapPropagator in kinds and kinds <= {
        TraceContextTextMapPropagator,
        W3CBaggagePropagator,
    }


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
