"""The gateway's tracing at the HTTP edge: with no exporter no span is recorded, yet a
request continues its caller's trace (which the gRPC client interceptors carry on to the
services) or starts one; with an exporter, OpenTelemetry's instrumentation records server
spans as before."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import HealthServicer
from opentelemetry import baggage, propagate, trace
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState

from services.common.grpc_client import channel
from services.common.telemetry import current_traceparent, sampler_for
from services.gateway.clients import invoke
from services.gateway.edge import Edge
from services.gateway.limits import BodyLimits
from services.gateway.tracing import TraceContext, instrument, records_spans, trace_metadata
from tests.unit.test_rpc_telemetry import OTHER_SPAN, TRACE_HEADERS

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def _traced(app: FastAPI, tracer_provider: TracerProvider | None = None) -> None:
    """The gateway's edge layer (services.gateway.edge.Edge) with the trace context."""
    app.add_middleware(
        Edge,
        limits=BodyLimits(default_limit=1 << 20, limits={}),
        trace_context=TraceContext(tracer_provider),
    )


TRACEPARENT = f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"


def _app(**tracer: Any) -> FastAPI:
    app = FastAPI()

    @app.get("/seen")
    async def seen() -> dict[str, str]:
        # What the gRPC client interceptor would send on: the current trace context.
        span = trace.get_current_span()
        return {
            "traceparent": current_traceparent().get("traceparent", ""),
            "recording": str(span.is_recording()),
        }

    _traced(app, **tracer)
    return app


@pytest.fixture
def unrecorded() -> TracerProvider:
    """The gateway's provider with no exporter: spans get ids but are not recorded."""
    return TracerProvider(sampler=sampler_for({}))


def test_a_request_continues_its_callers_trace(unrecorded: TracerProvider) -> None:
    with TestClient(_app(tracer_provider=unrecorded)) as client:
        body = client.get("/seen", headers={"traceparent": TRACEPARENT}).json()
    version, trace_id, span_id, _ = body["traceparent"].split("-")
    assert (version, trace_id) == ("00", CALLER_TRACE)
    assert span_id != "00f067aa0ba902b7"  # the request's own span, a child of the caller's
    assert body["recording"] == "False"


def test_a_request_without_a_trace_starts_one(unrecorded: TracerProvider) -> None:
    with TestClient(_app(tracer_provider=unrecorded)) as client:
        first = client.get("/seen").json()["traceparent"].split("-")[1]
        second = client.get("/seen").json()["traceparent"].split("-")[1]
        garbled = client.get("/seen", headers={"traceparent": "00-zz\x00-1"}).json()
    assert first != second
    assert int(first, 16)
    assert int(second, 16)
    assert garbled["traceparent"].split("-")[1] not in ("", "0" * 32)


def test_nothing_is_traced_after_the_response() -> None:
    with TestClient(_app()) as client:
        client.get("/seen", headers={"traceparent": TRACEPARENT})
    assert not trace.get_current_span().get_span_context().is_valid


def test_spans_are_recorded_only_with_an_exporter_or_a_sampler() -> None:
    assert not records_spans({})
    assert records_spans({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"})
    assert records_spans({"OTEL_TRACES_SAMPLER": "always_on"})


def _middleware(app: FastAPI) -> list[type]:
    return [m.cls for m in app.user_middleware]  # type: ignore[misc]


def test_with_an_exporter_the_app_records_server_spans() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = FastAPI()

    @app.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    trace_context = instrument(
        app,
        environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"},
        tracer_provider=provider,
    )
    assert trace_context is None  # the instrumentation's server span, not ours
    with TestClient(app) as client:
        client.get("/things/1", headers={"traceparent": TRACEPARENT})
    (span,) = exporter.get_finished_spans()
    assert span.kind == trace.SpanKind.SERVER
    assert span.name == "GET /things/{thing_id}"
    assert format(span.context.trace_id, "032x") == CALLER_TRACE


def test_without_an_exporter_only_the_trace_context_is_kept() -> None:
    app = FastAPI()
    assert isinstance(instrument(app, environ={}), TraceContext)
    assert _middleware(app) == []  # Edge applies it (services.gateway.app)
    app.build_middleware_stack()  # the instrumentor would have wrapped it here
    assert "opentelemetry" not in type(app.build_middleware_stack()).__module__


class _MetadataSeen(grpc.aio.ServerInterceptor):
    def __init__(self) -> None:
        self.seen: list[list[tuple[str, str]]] = []

    async def intercept_service(self, continuation: Any, details: Any) -> Any:
        self.seen.append([(k, v) for k, v in details.invocation_metadata])
        return await continuation(details)


@pytest.mark.parametrize("traced", [False, True])
async def test_every_call_carries_the_requests_trace(
    unrecorded: TracerProvider, traced: bool
) -> None:
    """Untraced channels (no span recorded) and traced ones alike: the service gets the
    request's trace, once."""
    seen = _MetadataSeen()
    server = grpc.aio.server(interceptors=[seen])
    health_pb2_grpc.add_HealthServicer_to_server(HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    chan = channel(f"127.0.0.1:{port}", health_checked=False, traced=traced)
    try:
        parent = propagate.extract({"traceparent": TRACEPARENT})
        span = unrecorded.get_tracer("test").start_span("HTTP", context=parent)
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        try:
            await invoke(
                health_pb2_grpc.HealthStub(chan).Check,
                health_pb2.HealthCheckRequest(service=""),
                token="t0ken",
            )
        finally:
            otel_context.detach(token)
    finally:
        await chan.close()
        await server.stop(None)
    (metadata,) = seen.seen
    (traceparent,) = [v for k, v in metadata if k == "traceparent"]
    assert traceparent.split("-")[1] == CALLER_TRACE
    assert ("authorization", "Bearer t0ken") in metadata


# The request's span is made as the services' calls' are (CallTraceContext), and the gRPC
# calls' traceparent written directly (current_trace_metadata): both must give what the
# propagator's extract() and a tracer under ALWAYS_OFF, then its inject(), gave.


def _reference(provider: TracerProvider, headers: dict[str, str]) -> tuple[Any, dict[str, str]]:
    """What TraceContext did before: extract, start_span under the provider, then what
    invoke() sent: the propagator's inject() in that span's context."""
    carrier = {k: v for k, v in headers.items() if k in {"traceparent", "tracestate", "baggage"}}
    parent = propagate.extract(carrier) if carrier else None
    span = provider.get_tracer("reference").start_span(
        "HTTP", context=parent, kind=trace.SpanKind.SERVER
    )
    sent: dict[str, str] = {}
    propagate.inject(sent, context=trace.set_span_in_context(span, parent))
    return span.get_span_context(), sent


def _seen_app(provider: TracerProvider) -> FastAPI:
    app = FastAPI()

    @app.get("/metadata")
    async def metadata() -> dict[str, Any]:
        span_context = trace.get_current_span().get_span_context()
        return {
            "sent": dict(trace_metadata()),
            "trace_id": span_context.trace_id,
            "span_id": span_context.span_id,
            "flags": int(span_context.trace_flags),
            "state": dict(span_context.trace_state),
            "remote": span_context.is_remote,
            "recording": trace.get_current_span().is_recording(),
            "baggage": dict(baggage.get_all()),
        }

    _traced(app, provider)
    return app


@pytest.mark.parametrize(
    "headers", [*TRACE_HEADERS, {"traceparent": TRACEPARENT, "baggage": "tenant=t1"}]
)
def test_a_requests_trace_context_is_the_propagators(
    unrecorded: TracerProvider, headers: dict[str, str]
) -> None:
    expected, expected_sent = _reference(unrecorded, headers)
    with TestClient(_seen_app(unrecorded)) as client:
        got = client.get("/metadata", headers=headers).json()

    assert got["recording"] is False
    assert got["remote"] is False
    continued = expected.trace_id == int(CALLER_TRACE, 16)
    assert (got["trace_id"] == int(CALLER_TRACE, 16)) is continued
    assert got["span_id"] != int(OTHER_SPAN, 16)
    assert got["flags"] == int(expected.trace_flags)
    assert got["state"] == dict(expected.trace_state)
    # What the gRPC calls carry: the propagator's inject() of the request's own span.
    span_id = f"{got['span_id']:016x}"
    if not continued:
        trace_id = f"{got['trace_id']:032x}"
        expected_sent["traceparent"] = expected_sent["traceparent"].replace(
            f"{expected.trace_id:032x}", trace_id
        )
    expected_sent["traceparent"] = expected_sent["traceparent"].replace(
        f"{expected.span_id:016x}", span_id
    )
    assert got["sent"] == expected_sent
    assert list(got["sent"]) == list(expected_sent)  # the same order on the wire
    if "baggage" in headers:
        assert got["baggage"] == {"tenant": "t1"}


def test_the_calls_metadata_is_the_propagators_in_any_context() -> None:
    """current_trace_metadata (the calls' metadata) and current_traceparent (what outbox
    rows, relayed messages and the local webhook's row carry) against inject(): no span, an
    invalid one, trace state, baggage (which takes the propagator's own path)."""
    state = TraceState([("a", "1"), ("b", "two")])
    spans = [
        trace.INVALID_SPAN,
        NonRecordingSpan(SpanContext(1, 2, is_remote=False)),
        NonRecordingSpan(SpanContext(int(CALLER_TRACE, 16), 2, False, TraceFlags(1), state)),
        NonRecordingSpan(SpanContext(int(CALLER_TRACE, 16), 0, False)),
    ]
    for span in spans:
        for with_baggage in (False, True):
            ctx = trace.set_span_in_context(span)
            if with_baggage:
                ctx = baggage.set_baggage("tenant", "t1", ctx)
            token = otel_context.attach(ctx)
            try:
                expected: dict[str, str] = {}
                propagate.inject(expected)
                assert trace_metadata() == tuple(expected.items()), (span, with_baggage)
                got = current_traceparent()
                assert got == expected, (span, with_baggage)
                assert list(got) == list(expected)
            finally:
                otel_context.detach(token)
