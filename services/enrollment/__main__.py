"""Enrollment service: the purchase saga. Run as `python -m services.enrollment`."""

from __future__ import annotations

from datetime import timedelta

from upskill.enrollment.v1 import (
    employers_service_pb2,
    employers_service_pb2_grpc,
    enrollment_service_pb2,
    enrollment_service_pb2_grpc,
)

from services.common import settings
from services.common.runtime import Servicer, ServiceRuntime, run
from services.enrollment import seat_pack_events
from services.enrollment.api import EnrollmentApi
from services.enrollment.consumers import SUBSCRIPTIONS
from services.enrollment.employers_api import EmployersApi
from services.enrollment.peers import Peers

PORT = 50052


async def build(runtime: ServiceRuntime) -> list[Servicer]:
    peers = Peers(
        settings.required("CATALOG_ADDR", "host:port of the catalog service"),
        settings.required("PAYMENTS_ADDR", "host:port of the payments service"),
        runtime.service_token,
        settings.required("PUBLIC_BASE_URL", "the public origin, e.g. https://upskill.example"),
    )
    refund_window = timedelta(days=settings.integer("REFUND_WINDOW_DAYS", 14, minimum=0))
    runtime.consume(seat_pack_events.route(SUBSCRIPTIONS))
    return [
        Servicer(
            enrollment_service_pb2_grpc.add_EnrollmentServiceServicer_to_server,
            EnrollmentApi(runtime.pool, peers, refund_window),
            enrollment_service_pb2.DESCRIPTOR.services_by_name["EnrollmentService"].full_name,
        ),
        Servicer(
            employers_service_pb2_grpc.add_EmployersServiceServicer_to_server,
            EmployersApi(runtime.pool, peers),
            employers_service_pb2.DESCRIPTOR.services_by_name["EmployersService"].full_name,
        ),
    ]


if __name__ == "__main__":
    run("enrollment", PORT, build)
