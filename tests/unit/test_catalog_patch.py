"""UpdateProgram with a patch: the catalog, not the client, merges the new values into the
program (the gateway sends only what a PATCH body names)."""

from __future__ import annotations

from dataclasses import replace

from upskill.catalog.v1 import catalog_pb2, catalog_service_pb2
from upskill.type.v1 import money_pb2

from services.catalog.convert import spec_from_patch
from services.catalog.domain import Issuance, merge
from tests.unit.test_catalog_domain import SPEC

CURRENT = replace(SPEC, capacity=10, credential=replace(SPEC.credential, valid_for_days=30))


def test_masked_fields_take_the_patch_and_the_rest_stay() -> None:
    patch = catalog_service_pb2.ProgramPatch(
        title="  SQL in a week ",
        skills=["sql", "joins"],
        price=money_pb2.Money(amount_minor=0, currency="EUR"),
        credential=catalog_service_pb2.CredentialTemplatePatch(
            issuance=catalog_pb2.ISSUANCE_POLICY_ON_PAYMENT
        ),
    )
    paths = ["title", "skills", "price", "credential.issuance"]

    merged = merge(CURRENT, spec_from_patch(CURRENT, patch, paths), paths)

    assert merged.title == "SQL in a week"  # stripped, as on create
    assert merged.skills == ("sql", "joins")
    assert (merged.price_minor, merged.currency) == (0, "EUR")
    assert merged.credential.issuance is Issuance.ON_PAYMENT
    assert merged.credential.name == CURRENT.credential.name
    assert (merged.summary, merged.capacity, merged.duration_hours) == (
        CURRENT.summary,
        10,
        CURRENT.duration_hours,
    )


def test_a_masked_field_the_patch_leaves_unset_is_cleared() -> None:
    paths = ["capacity", "credential.valid_for_days"]

    merged = merge(
        CURRENT, spec_from_patch(CURRENT, catalog_service_pb2.ProgramPatch(), paths), paths
    )

    assert merged.capacity is None
    assert merged.credential.valid_for_days is None
    assert merged.title == CURRENT.title


def test_an_unset_required_field_is_refused_by_the_domain() -> None:
    merged = merge(
        CURRENT, spec_from_patch(CURRENT, catalog_service_pb2.ProgramPatch(), ["title"]), ["title"]
    )

    assert [v.field for v in merged.violations()] == ["spec.title"]
