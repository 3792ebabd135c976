"""OpenTelemetry set-up (traces and metrics) and W3C trace-context propagation over gRPC
and NATS headers."""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry import context, metrics, propagate, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, Sampler

_configured = False


def setup_tracing(service_name: str) -> TracerProvider:
    """Install the tracer and meter providers; export over OTLP only when an endpoint is
    configured (OTEL_EXPORTER_OTLP_ENDPOINT, plus the standard OTEL_* tuning variables)."""
    global _configured
    resource = Resource.create({"service.name": service_name})
    exporting = bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
    provider = TracerProvider(resource=resource, sampler=sampler_for(os.environ))
    readers = []
    if exporting:
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    if not _configured:
        trace.set_tracer_provider(provider)
        metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))
        _configured = True
    return provider


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
    """The current span's traceparent (and tracestate) as carrier headers."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def context_from(headers: Mapping[str, str] | None) -> context.Context:
    return propagate.extract(dict(headers or {}))


def current_trace_id() -> str:
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else ""
