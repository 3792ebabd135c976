"""Catalog service: providers, programs, publishing. Run as `python -m services.catalog`."""

from __future__ import annotations

from upskill.catalog.v1 import catalog_service_pb2, catalog_service_pb2_grpc

from services.catalog.api import CatalogApi
from services.catalog.memberships import LocalMemberships
from services.common.runtime import Servicer, ServiceRuntime, run

PORT = 50051


async def build(runtime: ServiceRuntime) -> list[Servicer]:
    runtime.memberships = LocalMemberships(runtime.pool)
    return [
        Servicer(
            catalog_service_pb2_grpc.add_CatalogServiceServicer_to_server,
            CatalogApi(runtime.pool),
            catalog_service_pb2.DESCRIPTOR.services_by_name["CatalogService"].full_name,
        )
    ]


if __name__ == "__main__":
    run("catalog", PORT, build)
