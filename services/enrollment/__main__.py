"""Enrollment service: the purchase saga. Run as `python -m services.enrollment`."""

from __future__ import annotations

from upskill.enrollment.v1 import enrollment_service_pb2, enrollment_service_pb2_grpc

from services.common import settings
from services.common.runtime import Servicer, ServiceRuntime, run
from services.enrollment.api import EnrollmentApi
from services.enrollment.consumers import SUBSCRIPTIONS
from services.enrollment.peers import Peers

PORT = 50052


async def build(runtime: ServiceRuntime) -> list[Servicer]:
    peers = Peers(
        settings.required("CATALOG_ADDR", "host:port of the catalog service"),
        settings.required("PAYMENTS_ADDR", "host:port of the payments service"),
        runtime.service_token,
        settings.required("PUBLIC_BASE_URL", "the public origin, e.g. https://upskill.example"),
    )
    runtime.consume(SUBSCRIPTIONS)
    return [
        Servicer(
            enrollment_service_pb2_grpc.add_EnrollmentServiceServicer_to_server,
            EnrollmentApi(runtime.pool, peers),
            enrollment_service_pb2.DESCRIPTOR.services_by_name["EnrollmentService"].full_name,
        )
    ]


if __name__ == "__main__":
    run("enrollment", PORT, build)
