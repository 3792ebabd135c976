"""Every RPC of every service declares who may call it (the interceptor refuses the rest)."""

from __future__ import annotations

import pytest
from google.protobuf.descriptor import ServiceDescriptor
from upskill.catalog.v1 import catalog_service_pb2
from upskill.credentials.v1 import credentials_service_pb2
from upskill.enrollment.v1 import enrollment_service_pb2
from upskill.payments.v1 import payments_service_pb2

from services.catalog.api import CatalogApi
from services.common.rpc import policies_of
from services.credentials.api import CredentialsApi
from services.enrollment.api import EnrollmentApi
from services.payments.api import PaymentsApi

CASES = [
    (CatalogApi, catalog_service_pb2.DESCRIPTOR.services_by_name["CatalogService"]),
    (EnrollmentApi, enrollment_service_pb2.DESCRIPTOR.services_by_name["EnrollmentService"]),
    (PaymentsApi, payments_service_pb2.DESCRIPTOR.services_by_name["PaymentsService"]),
    (CredentialsApi, credentials_service_pb2.DESCRIPTOR.services_by_name["CredentialsService"]),
]


@pytest.mark.parametrize(("api", "service"), CASES, ids=[c[1].name for c in CASES])
def test_every_method_has_a_policy(api: type, service: ServiceDescriptor) -> None:
    declared = policies_of(api, service.full_name)
    expected = {f"/{service.full_name}/{m.name}" for m in service.methods}
    assert set(declared) == expected


def test_write_paths_are_not_public() -> None:
    declared = policies_of(CatalogApi, CASES[0][1].full_name)
    for method in ("CreateProvider", "CreateProgram", "UpdateProgram", "PublishProgram"):
        assert not declared[f"/upskill.catalog.v1.CatalogService/{method}"].public
