"""The issuance policy and the price snapshot: what a learner bought is frozen at
enrollment time, and the program's policy decides which event earns the credential."""

from __future__ import annotations

import pytest
from upskill.catalog.v1 import catalog_pb2
from upskill.enrollment.v1 import enrollment_pb2
from upskill.type.v1 import money_pb2

from services.credentials.issuer import earns_credential_on
from services.enrollment.api import _snapshot


def program(
    issuance: catalog_pb2.IssuancePolicy = catalog_pb2.ISSUANCE_POLICY_ON_COMPLETION,
) -> catalog_pb2.Program:
    return catalog_pb2.Program(
        id="p1",
        provider_id="v1",
        provider_name="Acme",
        version=7,
        status=catalog_pb2.PROGRAM_STATUS_PUBLISHED,
        spec=catalog_pb2.ProgramSpec(
            title="Intro to SQL",
            skills=["sql", "databases"],
            price=money_pb2.Money(amount_minor=4900, currency="USD"),
            credential=catalog_pb2.CredentialTemplate(
                name="SQL Basics", description="d", criteria="c", issuance=issuance
            ),
        ),
    )


def test_snapshot_freezes_price_template_and_provider() -> None:
    source = program()
    snapshot = _snapshot(source)
    source.spec.price.amount_minor = 9900  # a later catalog edit
    source.spec.credential.name = "Renamed"
    assert snapshot.price == money_pb2.Money(amount_minor=4900, currency="USD")
    assert snapshot.credential.name == "SQL Basics"
    assert (snapshot.provider_id, snapshot.provider_name) == ("v1", "Acme")
    assert (snapshot.title, list(snapshot.skills), snapshot.program_version) == (
        "Intro to SQL",
        ["sql", "databases"],
        7,
    )


@pytest.mark.parametrize(
    ("issuance", "moment", "earned"),
    [
        (catalog_pb2.ISSUANCE_POLICY_ON_COMPLETION, "completed", True),
        (catalog_pb2.ISSUANCE_POLICY_ON_COMPLETION, "activated", False),
        (catalog_pb2.ISSUANCE_POLICY_ON_PAYMENT, "activated", True),
        (catalog_pb2.ISSUANCE_POLICY_ON_PAYMENT, "completed", False),
        # Unspecified is the design's default: on completion.
        (catalog_pb2.ISSUANCE_POLICY_UNSPECIFIED, "completed", True),
        (catalog_pb2.ISSUANCE_POLICY_UNSPECIFIED, "activated", False),
    ],
)
def test_issuance_policy(issuance: catalog_pb2.IssuancePolicy, moment: str, earned: bool) -> None:
    snapshot = enrollment_pb2.ProgramSnapshot(
        credential=catalog_pb2.CredentialTemplate(issuance=issuance)
    )
    assert earns_credential_on(snapshot, moment) is earned
