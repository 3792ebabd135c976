"""Enrollment's calls to catalog and payments carry its service token and the current
trace, over channels with OpenTelemetry's client interceptor (spans recorded) or without
it (none recorded: the trace context is sent with each call's metadata instead)."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from upskill.catalog.v1 import catalog_pb2, catalog_service_pb2, catalog_service_pb2_grpc

from services.common.telemetry import sampler_for
from services.enrollment.peers import Peers

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"


class _Catalog(catalog_service_pb2_grpc.CatalogServiceServicer):
    def __init__(self) -> None:
        self.seen: list[list[tuple[str, Any]]] = []

    async def GetProgram(
        self, request: catalog_service_pb2.GetProgramRequest, context: grpc.aio.ServicerContext
    ) -> catalog_service_pb2.GetProgramResponse:
        self.seen.append([(k, v) for k, v in context.invocation_metadata() or ()])
        return catalog_service_pb2.GetProgramResponse(
            program=catalog_pb2.Program(id=request.program_id)
        )


@pytest.mark.parametrize("traced", [False, True])
async def test_each_call_carries_the_token_and_the_callers_trace(traced: bool) -> None:
    catalog = _Catalog()
    server = grpc.aio.server()
    catalog_service_pb2_grpc.add_CatalogServiceServicer_to_server(catalog, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    tokens = iter(["t0ken", "t0ken", "t1ken"])
    unrecorded = TracerProvider(sampler=sampler_for({}))
    try:
        peers = Peers(
            f"127.0.0.1:{port}",
            f"127.0.0.1:{port}",
            lambda: next(tokens),
            "https://upskill.example",
            traced=traced,
        )
        parent = propagate.extract({"traceparent": TRACEPARENT})
        span = unrecorded.get_tracer("test").start_span("rpc", context=parent)
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        try:
            for _ in range(3):
                assert (await peers.program("p1")).id == "p1"
        finally:
            otel_context.detach(token)
    finally:
        await server.stop(None)
    assert len(catalog.seen) == 3
    for metadata, expected in zip(catalog.seen, ["t0ken", "t0ken", "t1ken"], strict=True):
        (traceparent,) = [v for k, v in metadata if k == "traceparent"]
        assert traceparent.split("-")[1] == CALLER_TRACE
        assert [v for k, v in metadata if k == "authorization"] == [f"Bearer {expected}"]


async def test_channels_go_without_the_client_interceptor_unless_spans_are_recorded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[bool] = []

    def channel(addr: str, *, traced: bool = True) -> Any:
        made.append(traced)
        return grpc.aio.insecure_channel(addr)

    monkeypatch.setattr("services.enrollment.peers.channel", channel)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    Peers("127.0.0.1:1", "127.0.0.1:2", lambda: "", "https://upskill.example")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_on")
    Peers("127.0.0.1:1", "127.0.0.1:2", lambda: "", "https://upskill.example")
    assert made == [False, False, True, True]
