"""Tracing at the HTTP edge: OpenTelemetry's ASGI instrumentation when spans are recorded,
else only the W3C trace context.

With nowhere to send spans (services.common.telemetry.sampler_for: no exporter, no
OTEL_TRACES_SAMPLER) every span is dropped, yet the instrumentation still did all its work
per request: attributes, metrics, the route lookup for a span name, wrapped send and
receive (a fifth of the gateway's CPU per request in py-spy). Then TraceContext does the
one thing that still matters: a request's span (not recorded) continues the caller's
`traceparent`, so that the gRPC calls made for it carry the same trace to the services and
the gateway's log lines name it. It makes that span as the services' interceptors do
(services.common.telemetry.CallTraceContext: the header parsed once, the span made directly,
the general propagator and tracer only when the result could differ), and `trace_metadata`
writes the gRPC calls' `traceparent` directly (current_trace_metadata).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import Token

from fastapi import FastAPI
from opentelemetry import context, trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from starlette.types import Scope

from services.common.telemetry import CallTraceContext, current_trace_metadata, records_spans

__all__ = ["TraceContext", "instrument", "records_spans", "trace_metadata"]

# Not worth a span: probes and static files.
UNTRACED_URLS = "healthz,readyz,health/,static/"
# The headers the global propagators read (W3C trace context and baggage).
_PROPAGATED = frozenset({b"traceparent", b"tracestate", b"baggage"})


def trace_metadata() -> tuple[tuple[str, str], ...]:
    """The current trace context as gRPC metadata (traceparent, and tracestate if any)."""
    return current_trace_metadata()


def instrument(
    app: FastAPI,
    *,
    environ: Mapping[str, str] = os.environ,
    tracer_provider: trace.TracerProvider | None = None,
) -> TraceContext | None:
    """Server spans for HTTP requests when they are recorded (then None), else the trace
    context that services.gateway.edge.Edge gives each request. Either way, the gRPC calls
    made for a request continue the same trace into every service."""
    if records_spans(environ):
        # No span per ASGI send/receive: three spans a request instead of one, and nothing
        # an operator reads.
        FastAPIInstrumentor.instrument_app(
            app,
            excluded_urls=UNTRACED_URLS,
            exclude_spans=["receive", "send"],
            tracer_provider=tracer_provider,
        )
        return None
    return TraceContext(tracer_provider)


class TraceContext:
    """Each HTTP request runs in a (non-recorded) server span that continues the caller's
    trace when it sent one, and starts a new trace otherwise: `enter` before the app runs
    the request, `leave` after (services.gateway.edge.Edge)."""

    def __init__(self, tracer_provider: trace.TracerProvider | None = None) -> None:
        self._trace_context = CallTraceContext(__name__, tracer_provider)

    def enter(self, scope: Scope) -> tuple[Token[context.Context], trace.Span]:
        """Makes the request's context current; what `leave` takes back."""
        carrier = {
            key.decode("latin-1"): value.decode("latin-1")
            for key, value in scope["headers"]
            if key in _PROPAGATED
        }
        request_context, span = self._trace_context.start("HTTP", carrier)
        return context.attach(request_context), span

    @staticmethod
    def leave(token: Token[context.Context], span: trace.Span) -> None:
        context.detach(token)
        span.end()
