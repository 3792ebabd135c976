"""gRPC clients of the four services, and the one way the gateway calls them.

Every call goes through `invoke`: it sets the deadline, forwards a bearer token as
metadata and turns a failed status into a ProblemError.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from upskill.catalog.v1 import catalog_service_pb2_grpc
from upskill.credentials.v1 import credentials_service_pb2_grpc
from upskill.enrollment.v1 import employers_service_pb2_grpc, enrollment_service_pb2_grpc
from upskill.payments.v1 import payments_service_pb2_grpc

from services.common.grpc_client import DEFAULT_DEADLINE_SECONDS, auth_metadata, channel
from services.common.memberships import acting_metadata
from services.gateway.rpc_errors import problem_from_rpc_error
from services.gateway.settings import GatewaySettings
from services.gateway.tracing import records_spans, trace_metadata

HEALTH_CHECK_TIMEOUT_SECONDS = 2.0


@dataclass
class Clients:
    """One channel per service, shared by all requests (channels multiplex)."""

    channels: dict[str, grpc.aio.Channel]
    # Health is asked over channels of its own: the call channels route only to SERVING
    # replicas, so through them a NOT_SERVING service would look merely unreachable.
    health_channels: dict[str, grpc.aio.Channel] = field(default_factory=dict)
    catalog: Any = field(init=False)
    enrollment: Any = field(init=False)
    payments: Any = field(init=False)
    credentials: Any = field(init=False)
    # Employers and seat packs: served by the enrollment service, on its channel.
    employers: Any = field(init=False)

    @classmethod
    def connect(cls, settings: GatewaySettings) -> Clients:
        """Open (lazily connecting) channels to the four services. While no span is recorded
        the call channels go without OpenTelemetry's interceptor: `invoke` sends the trace
        context itself."""
        traced = records_spans()
        return cls(
            {name: channel(addr, traced=traced) for name, addr in settings.peers.items()},
            {name: channel(addr, health_checked=False) for name, addr in settings.peers.items()},
        )

    def __post_init__(self) -> None:
        self.catalog = catalog_service_pb2_grpc.CatalogServiceStub(self.channels["catalog"])
        self.enrollment = enrollment_service_pb2_grpc.EnrollmentServiceStub(
            self.channels["enrollment"]
        )
        self.payments = payments_service_pb2_grpc.PaymentsServiceStub(self.channels["payments"])
        self.credentials = credentials_service_pb2_grpc.CredentialsServiceStub(
            self.channels["credentials"]
        )
        self.employers = employers_service_pb2_grpc.EmployersServiceStub(
            self.channels["enrollment"]
        )

    async def health(self) -> dict[str, str]:
        """Each service's grpc.health.v1 status name, or the gRPC code that prevented one."""
        names = list(self.channels)
        results = await asyncio.gather(
            *(self._check(self.health_channels.get(n) or self.channels[n]) for n in names)
        )
        return dict(zip(names, results, strict=True))

    @staticmethod
    async def _check(chan: grpc.aio.Channel) -> str:
        stub = health_pb2_grpc.HealthStub(chan)
        try:
            response = await stub.Check(
                health_pb2.HealthCheckRequest(service=""), timeout=HEALTH_CHECK_TIMEOUT_SECONDS
            )
        except grpc.aio.AioRpcError as exc:
            return exc.code().name
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))

    async def close(self) -> None:
        every = [*self.channels.values(), *self.health_channels.values()]
        await asyncio.gather(*(c.close(grace=None) for c in every))


async def invoke(
    method: Any,
    request: Message,
    *,
    token: str,
    renames: Mapping[str, str] | None = None,
    deadline: float = DEFAULT_DEADLINE_SECONDS,
) -> Any:
    """Call a unary stub method with a deadline, the caller's (or the gateway's) token and
    the trace context (which a channel's client interceptor, when it has one, replaces with
    its own span's).

    Raises ProblemError mapped from the gRPC status when the call fails.
    """
    try:
        metadata = auth_metadata(token) + acting_metadata() + trace_metadata()
        return await method(request, timeout=deadline, metadata=metadata)
    except grpc.aio.AioRpcError as exc:
        raise problem_from_rpc_error(exc, renames) from None
