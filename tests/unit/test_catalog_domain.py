"""Program lifecycle and partial updates, as the catalog domain defines them."""

from __future__ import annotations

import pytest

from services.catalog.domain import (
    CredentialTemplate,
    Issuance,
    Program,
    ProgramSpec,
    ProgramStatus,
    Provider,
    merge,
)
from services.common.errors import ConflictError, FailedPreconditionError

SPEC = ProgramSpec(
    title="Intro to SQL",
    summary="Query data",
    description="Six hours of SQL",
    skills=("sql",),
    duration_hours=6,
    price_minor=4900,
    currency="USD",
    capacity=None,
    credential=CredentialTemplate("SQL Basics", "Can query", "Pass the quiz"),
)


def draft() -> Program:
    return Program.draft(Provider(id="v1", name="Acme"), SPEC)


def test_new_program_is_a_version_one_draft_on_completion_by_default() -> None:
    p = draft()
    assert (p.status, p.version, p.provider_name) == (ProgramStatus.DRAFT, 1, "Acme")
    assert p.spec.credential.issuance is Issuance.ON_COMPLETION


def test_publish_then_archive_bumps_version() -> None:
    p = draft()
    p.publish()
    assert (p.status, p.version) == (ProgramStatus.PUBLISHED, 2)
    with pytest.raises(FailedPreconditionError):
        p.publish()
    p.archive()
    assert (p.status, p.version) == (ProgramStatus.ARCHIVED, 3)
    with pytest.raises(FailedPreconditionError):
        p.archive()


def test_update_with_a_stale_version_is_a_conflict() -> None:
    p = draft()
    p.update(1, merge(p.spec, SPEC, ["title"]))
    with pytest.raises(ConflictError):
        p.update(1, p.spec)
    assert p.version == 2


def test_archived_programs_cannot_be_edited() -> None:
    p = draft()
    p.archive()
    with pytest.raises(FailedPreconditionError):
        p.update(p.version, p.spec)


def test_merge_takes_only_masked_fields() -> None:
    patch = ProgramSpec(
        title="New title",
        summary="ignored",
        description="ignored",
        skills=("ignored",),
        duration_hours=99,
        price_minor=100,
        currency="EUR",
        capacity=3,
        credential=CredentialTemplate("New badge", "ignored", "ignored", Issuance.ON_PAYMENT, 30),
    )
    merged = merge(SPEC, patch, ["title", "price", "credential.name", "credential.issuance"])
    assert merged.title == "New title"
    assert (merged.price_minor, merged.currency) == (100, "EUR")
    assert merged.summary == SPEC.summary
    assert merged.capacity is None
    assert merged.credential == CredentialTemplate(
        "New badge", SPEC.credential.description, SPEC.credential.criteria, Issuance.ON_PAYMENT
    )


def test_drafts_are_visible_only_to_owner_and_privileged() -> None:
    p = draft()
    assert p.visible_to("v1", privileged=False)
    assert not p.visible_to("v2", privileged=False)
    assert p.visible_to("", privileged=True)
    p.publish()
    assert p.visible_to("", privileged=False)
