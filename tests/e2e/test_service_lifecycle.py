"""Every service answers the standard gRPC health check and reflection, and drains and
exits cleanly on SIGTERM, then serves again after a restart."""

from __future__ import annotations

import signal

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from services.devstack.stack import GRPC_SERVICES, Stack

SERVICE_NAMES = {
    "catalog": "upskill.catalog.v1.CatalogService",
    "enrollment": "upskill.enrollment.v1.EnrollmentService",
    "payments": "upskill.payments.v1.PaymentsService",
    "credentials": "upskill.credentials.v1.CredentialsService",
}


@pytest.mark.parametrize("service", GRPC_SERVICES)
async def test_health_and_reflection(stack: Stack, service: str) -> None:
    async with grpc.aio.insecure_channel(stack.addr(service)) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = await health.Check(
            health_pb2.HealthCheckRequest(service=SERVICE_NAMES[service]), timeout=5
        )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING

        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        names: set[str] = set()
        async for answer in reflection.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
        ):
            names |= {s.name for s in answer.list_services_response.service}
        assert {SERVICE_NAMES[service], "grpc.health.v1.Health"} <= names


def test_sigterm_drains_and_exits_zero_then_restarts(stack: Stack) -> None:
    assert stack.stop_service("catalog", signal.SIGTERM) == 0
    assert not stack.is_running("catalog")
    stack.start_service("catalog")
    stack.wait_ready(60, services=["catalog", "gateway"])
    assert stack.is_running("catalog")
