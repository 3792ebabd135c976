"""Finding 15: a service's server span and RPC metric record how each call really ended.

A real grpc.aio server with the services' own interceptor stack (runtime.server_interceptors)
and a servicer of a real service contract; spans and metrics are read from in-memory
OpenTelemetry exporters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import grpc
import pytest
from opentelemetry import baggage, propagate, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from upskill.payments.v1 import payments_service_pb2 as pb
from upskill.payments.v1 import payments_service_pb2_grpc

from services.common import metrics
from services.common.auth import DEV_ISSUER, AuthSettings, Role, TokenVerifier, mint_dev_token
from services.common.errors import NotFoundError
from services.common.rpc import policies_of, rpc
from services.common.runtime import server_interceptors
from services.common.telemetry import CallTraceContext, current_traceparent, meter_provider_for
from tests.polling import eventually_async

SECRET = "t" * 40
SERVICE = "upskill.payments.v1.PaymentsService"
GET_PAYMENT = f"/{SERVICE}/GetPayment"
PAYMENT_ID = "0b7f3c1e-8d2a-4f5b-9c6d-1e2f3a4b5c6d"
MISSING_ID = "1b7f3c1e-8d2a-4f5b-9c6d-1e2f3a4b5c6d"
CRASHING_ID = "2b7f3c1e-8d2a-4f5b-9c6d-1e2f3a4b5c6d"
DEADLOCKED_ID = "3b7f3c1e-8d2a-4f5b-9c6d-1e2f3a4b5c6d"


def span_exporter() -> InMemorySpanExporter:
    """Spans of this process, from the global tracer provider (set here when unset)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


class Payments(payments_service_pb2_grpc.PaymentsServiceServicer):
    @rpc(Role.ADMIN)
    async def GetPayment(
        self, request: pb.GetPaymentRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetPaymentResponse:
        if request.payment_id == MISSING_ID:
            raise NotFoundError(f"payment {request.payment_id} not found")
        if request.payment_id == CRASHING_ID:
            raise RuntimeError("a bug")
        if request.payment_id == DEADLOCKED_ID:
            raise asyncpg.exceptions.DeadlockDetectedError("deadlock detected")
        return pb.GetPaymentResponse()


@pytest.fixture
async def channel(
    metric_reader: InMemoryMetricReader,
) -> AsyncIterator[grpc.aio.Channel]:
    verifier = TokenVerifier(AuthSettings("dev", SECRET, "", DEV_ISSUER, ""))
    implementation = Payments()
    server = grpc.aio.server(
        interceptors=server_interceptors(
            verifier, policies_of(implementation, SERVICE), traced=True
        )
    )
    payments_service_pb2_grpc.add_PaymentsServiceServicer_to_server(implementation, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as chan:
        yield chan
    await server.stop(None)


async def _call(channel: grpc.aio.Channel, role: str, payment_id: str) -> grpc.StatusCode:
    stub = payments_service_pb2_grpc.PaymentsServiceStub(channel)
    token = mint_dev_token(SECRET, role=role, subject="someone")
    try:
        await stub.GetPayment(
            pb.GetPaymentRequest(payment_id=payment_id),
            metadata=(("authorization", f"Bearer {token}"),),
            timeout=10,
        )
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


async def _server_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    """The call's server span. The client can hold its status before the server's span has
    ended (the status is sent, then the handler's frames unwind and end the span): wait for
    it rather than race it."""

    def ended() -> list[ReadableSpan]:
        return [s for s in exporter.get_finished_spans() if s.kind is trace.SpanKind.SERVER]

    spans = await eventually_async(ended, what="the call's server span to end")
    assert len(spans) == 1, spans
    return spans[0]


@pytest.mark.parametrize(
    ("role", "payment_id", "code", "span_status"),
    [
        ("admin", PAYMENT_ID, grpc.StatusCode.OK, trace.StatusCode.UNSET),
        ("learner", PAYMENT_ID, grpc.StatusCode.PERMISSION_DENIED, trace.StatusCode.UNSET),
        ("admin", MISSING_ID, grpc.StatusCode.NOT_FOUND, trace.StatusCode.UNSET),
        ("admin", "not-a-uuid", grpc.StatusCode.INVALID_ARGUMENT, trace.StatusCode.UNSET),
        ("admin", CRASHING_ID, grpc.StatusCode.INTERNAL, trace.StatusCode.ERROR),
    ],
)
async def test_the_server_span_records_the_status_the_client_got(
    channel: grpc.aio.Channel,
    role: str,
    payment_id: str,
    code: grpc.StatusCode,
    span_status: trace.StatusCode,
) -> None:
    exporter = span_exporter()

    assert await _call(channel, role, payment_id) is code

    span = await _server_span(exporter)
    assert span.name == GET_PAYMENT  # the instrumentation names spans by the full path
    assert span.attributes is not None
    # Before the fix a PERMISSION_DENIED (abort_with_status) left this at 0 (OK).
    assert span.attributes["rpc.grpc.status_code"] == code.value[0]
    # As the gRPC semantic conventions say for server spans: only the server's own
    # failures are errors; a caller's bad request or missing permission is not.
    assert span.status.status_code is span_status


def _rpc_points(reader: InMemoryMetricReader) -> list[dict[str, Any]]:
    data = reader.get_metrics_data()
    return [
        dict(point.attributes or {})
        for resource in (data.resource_metrics if data else [])
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == "rpc.server.call.duration"
        for point in metric.data.data_points
    ]


async def test_the_rpc_metric_uses_the_semantic_conventions(
    channel: grpc.aio.Channel, metric_reader: InMemoryMetricReader
) -> None:
    assert await _call(channel, "learner", PAYMENT_ID) is grpc.StatusCode.PERMISSION_DENIED
    assert await _call(channel, "admin", CRASHING_ID) is grpc.StatusCode.INTERNAL
    # A transaction PostgreSQL aborted for a concurrent one: retry it, not a bug.
    assert await _call(channel, "admin", DEADLOCKED_ID) is grpc.StatusCode.UNAVAILABLE

    points = _rpc_points(metric_reader)

    assert {
        "rpc.system.name": "grpc",
        "rpc.method": f"{SERVICE}/GetPayment",
        "rpc.response.status_code": "PERMISSION_DENIED",
    } in points
    assert {
        "rpc.system.name": "grpc",
        "rpc.method": f"{SERVICE}/GetPayment",
        "rpc.response.status_code": "INTERNAL",
        "error.type": "INTERNAL",
    } in points


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (grpc.StatusCode.OK, {"rpc.response.status_code": "OK"}),
        (grpc.StatusCode.NOT_FOUND, {"rpc.response.status_code": "NOT_FOUND"}),
        (
            grpc.StatusCode.UNAVAILABLE,
            {"rpc.response.status_code": "UNAVAILABLE", "error.type": "UNAVAILABLE"},
        ),
    ],
)
def test_rpc_attributes(code: grpc.StatusCode, expected: dict[str, str]) -> None:
    assert metrics.rpc_attributes(GET_PAYMENT, code) == {
        "rpc.system.name": "grpc",
        "rpc.method": f"{SERVICE}/GetPayment",
        **expected,
    }


# Without a recorded span (no exporter: services.common.telemetry.records_spans), the
# servers run without OpenTelemetry's interceptor; ours keeps the caller's trace context.

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_PARENT = f"00-{CALLER_TRACE}-00f067aa0ba902b7-00"


class TracePayments(payments_service_pb2_grpc.PaymentsServiceServicer):
    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []

    @rpc(Role.ADMIN)
    async def GetPayment(
        self, request: pb.GetPaymentRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetPaymentResponse:
        self.seen.append(current_traceparent())
        if request.payment_id == MISSING_ID:
            raise NotFoundError(f"payment {request.payment_id} not found")
        return pb.GetPaymentResponse()


@pytest.fixture
async def untraced() -> AsyncIterator[tuple[grpc.aio.Channel, TracePayments]]:
    span_exporter()  # an SDK tracer provider, as every service installs one
    verifier = TokenVerifier(AuthSettings("dev", SECRET, "", DEV_ISSUER, ""))
    implementation = TracePayments()
    interceptors = server_interceptors(verifier, policies_of(implementation, SERVICE), traced=False)
    assert len(interceptors) == 1  # ours only
    server = grpc.aio.server(interceptors=interceptors)
    payments_service_pb2_grpc.add_PaymentsServiceServicer_to_server(implementation, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as chan:
        yield chan, implementation
    await server.stop(None)


async def _get(
    channel: grpc.aio.Channel, payment_id: str, metadata: tuple[tuple[str, str], ...]
) -> grpc.StatusCode:
    stub = payments_service_pb2_grpc.PaymentsServiceStub(channel)
    try:
        await stub.GetPayment(
            pb.GetPaymentRequest(payment_id=payment_id), metadata=metadata, timeout=10
        )
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


def _bearer(role: str) -> tuple[str, str]:
    return ("authorization", f"Bearer {mint_dev_token(SECRET, role=role, subject='someone')}")


async def test_without_recorded_spans_a_call_continues_the_callers_trace(
    untraced: tuple[grpc.aio.Channel, TracePayments],
) -> None:
    channel, servicer = untraced

    code = await _get(channel, PAYMENT_ID, (_bearer("admin"), ("traceparent", CALLER_PARENT)))
    assert code is grpc.StatusCode.OK
    assert servicer.seen[-1]["traceparent"].split("-")[1] == CALLER_TRACE

    # No trace context sent: the call starts a trace of its own (log lines still name one).
    assert await _get(channel, PAYMENT_ID, (_bearer("admin"),)) is grpc.StatusCode.OK
    own = servicer.seen[-1]["traceparent"].split("-")[1]
    assert own != CALLER_TRACE
    assert int(own, 16) != 0
    # A garbled traceparent is ignored, never an error.
    code = await _get(channel, PAYMENT_ID, (_bearer("admin"), ("traceparent", "00-zz-not-a-trace")))
    assert code is grpc.StatusCode.OK
    # The call's context is the call's own: nothing leaks into the next one.
    assert servicer.seen[-1]["traceparent"].split("-")[1] not in {CALLER_TRACE, own}


async def test_without_recorded_spans_auth_and_errors_are_unchanged(
    untraced: tuple[grpc.aio.Channel, TracePayments],
) -> None:
    channel, servicer = untraced
    trace_md = ("traceparent", CALLER_PARENT)

    assert await _get(channel, PAYMENT_ID, (trace_md,)) is grpc.StatusCode.UNAUTHENTICATED
    code = await _get(channel, PAYMENT_ID, (_bearer("learner"), trace_md))
    assert code is grpc.StatusCode.PERMISSION_DENIED
    code = await _get(channel, "not-a-uuid", (_bearer("admin"), trace_md))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    code = await _get(channel, MISSING_ID, (_bearer("admin"), trace_md))
    assert code is grpc.StatusCode.NOT_FOUND
    assert len(servicer.seen) == 1  # only the admin's call with a valid id got through


# The call's trace context is made directly (services.common.telemetry.CallTraceContext):
# it must be what the global propagator and a tracer under ALWAYS_OFF (no exporter) made.

OTHER_SPAN = "00f067aa0ba902b7"
TRACE_HEADERS = [
    {"traceparent": f"00-{CALLER_TRACE}-{OTHER_SPAN}-01"},
    {"traceparent": f"00-{CALLER_TRACE}-{OTHER_SPAN}-00"},
    {"traceparent": f"00-{CALLER_TRACE}-{OTHER_SPAN}-02"},
    {"traceparent": f"00-{CALLER_TRACE}-{OTHER_SPAN}-03", "tracestate": "a=1,b=two"},
    {"traceparent": f"00-{CALLER_TRACE}-{OTHER_SPAN}-01", "tracestate": "not a state"},
    {"traceparent": f"00-{CALLER_TRACE}-{OTHER_SPAN}-01", "tracestate": "k=" + "v" * 9000},
    {"traceparent": f"  00-{CALLER_TRACE}-{OTHER_SPAN}-01 \t"},
    {"traceparent": f"01-{CALLER_TRACE}-{OTHER_SPAN}-01-what-comes-later"},
    {"traceparent": f"00-{CALLER_TRACE}-{OTHER_SPAN}-01-not-in-version-00"},
    {"traceparent": f"ff-{CALLER_TRACE}-{OTHER_SPAN}-01"},
    {"traceparent": f"00-{CALLER_TRACE.upper()}-{OTHER_SPAN}-01"},
    {"traceparent": f"00-{'0' * 32}-{OTHER_SPAN}-01"},
    {"traceparent": f"00-{CALLER_TRACE}-{'0' * 16}-01"},
    {"traceparent": f"00-{CALLER_TRACE}-{OTHER_SPAN}-01-{'x' * 600}"},
    {"traceparent": "00-zz-not-a-trace"},
    {"traceparent": ""},
    {"tracestate": "a=1"},
    {},
    {"authorization": "Bearer x", "traceparent": f"00-{CALLER_TRACE}-{OTHER_SPAN}-01"},
]


def _reference(metadata: dict[str, str]) -> trace.Span:
    """What the interceptor did before: extract, then start_span under ALWAYS_OFF."""
    tracer = TracerProvider(sampler=ALWAYS_OFF).get_tracer("reference")
    carrier = {k: v for k, v in metadata.items() if k in {"traceparent", "tracestate", "baggage"}}
    parent = propagate.extract(carrier) if carrier else None
    return tracer.start_span(GET_PAYMENT, context=parent, kind=trace.SpanKind.SERVER)


@pytest.mark.parametrize("metadata", TRACE_HEADERS)
def test_a_calls_trace_context_is_the_propagators(metadata: dict[str, str]) -> None:
    span_exporter()  # an SDK tracer provider, as every service installs one
    call_context, span = CallTraceContext("test").start(GET_PAYMENT, metadata)
    expected = _reference(metadata).get_span_context()

    assert trace.get_current_span(call_context) is span
    assert not span.is_recording()
    got = span.get_span_context()
    assert got.is_valid
    assert not got.is_remote
    continued = expected.trace_id == int(CALLER_TRACE, 16)
    assert (got.trace_id == int(CALLER_TRACE, 16)) is continued
    assert got.span_id != int(OTHER_SPAN, 16)
    assert got.trace_flags == expected.trace_flags
    assert dict(got.trace_state) == dict(expected.trace_state)


def test_baggage_still_reaches_the_calls_context() -> None:
    span_exporter()
    metadata = {"traceparent": f"00-{CALLER_TRACE}-{OTHER_SPAN}-01", "baggage": "tenant=t1"}
    call_context, span = CallTraceContext("test").start(GET_PAYMENT, metadata)

    assert baggage.get_all(call_context) == {"tenant": "t1"}
    assert span.get_span_context().trace_id == int(CALLER_TRACE, 16)
    assert trace.get_current_span(call_context) is span


def test_metrics_get_an_sdk_meter_provider_only_when_something_reads_them() -> None:
    resource = Resource.create({"service.name": "payments"})

    # No reader (no OTLP endpoint): the API's no-op instruments stay; nothing is lost.
    assert meter_provider_for(resource, []) is None
    provider = meter_provider_for(resource, [InMemoryMetricReader()])
    assert isinstance(provider, MeterProvider)
    provider.shutdown()
