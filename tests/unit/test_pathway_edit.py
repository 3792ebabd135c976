"""Editing a DRAFT pathway (Pathway.revise) and what it does to consent requests
(reconcile_consents), in services/catalog/pathways.py, without I/O."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from services.catalog.domain import ProgramStatus
from services.catalog.pathways import (
    Consent,
    ConsentDecision,
    ConsentStatus,
    Pathway,
    ProgramRef,
    reconcile_consents,
)
from services.common.errors import ConflictError, FailedPreconditionError, InvalidArgumentError
from tests.unit.test_pathway_domain import OTHER, PROVIDER, programs, spec, with_foreign


def requested(pathway: Pathway, known: dict[str, ProgramRef]) -> dict[str, Consent]:
    """The requests creating the draft asked for, by program id."""
    added, changed = reconcile_consents(pathway, known, {})
    assert changed == []
    return {c.program_id: c for c in added}


def test_a_draft_takes_a_new_title_and_k_and_its_version_moves() -> None:
    known = programs(3)
    pathway = Pathway.draft(PROVIDER, spec(list(known)), known)
    new = dataclasses.replace(pathway.spec, title="Data engineer", required_count=2)

    pathway.revise(1, new, known)

    assert (pathway.spec.title, pathway.spec.required, pathway.version) == ("Data engineer", 2, 2)
    assert pathway.pull_events() == []  # a draft was never announced


def test_a_stale_version_conflicts_and_changes_nothing() -> None:
    known = programs(2)
    pathway = Pathway.draft(PROVIDER, spec(list(known)), known)
    pathway.revise(1, dataclasses.replace(pathway.spec, title="Two"), known)
    with pytest.raises(ConflictError, match="version 2, not 1"):
        pathway.revise(1, dataclasses.replace(pathway.spec, title="Three"), known)
    assert (pathway.spec.title, pathway.version) == ("Two", 2)


def test_only_a_draft_is_edited() -> None:
    known = programs(2)
    pathway = Pathway.draft(PROVIDER, spec(list(known)), known)
    pathway.publish(known, {})
    with pytest.raises(FailedPreconditionError, match="only a DRAFT"):
        pathway.revise(2, dataclasses.replace(pathway.spec, title="New"), known)
    pathway.archive()
    with pytest.raises(FailedPreconditionError, match="only a DRAFT"):
        pathway.revise(3, dataclasses.replace(pathway.spec, title="New"), known)


@pytest.mark.parametrize(
    ("count", "required", "field"),
    [(2, 3, "spec.required_count"), (1, 0, "spec.program_ids"), (2, 0, "spec.title")],
)
def test_k_stays_within_1_to_n_and_the_spec_rules_hold(
    count: int, required: int, field: str
) -> None:
    known = programs(3)
    pathway = Pathway.draft(PROVIDER, spec(list(known), required=3), known)
    title = "" if field == "spec.title" else "Kept"
    new = dataclasses.replace(
        pathway.spec,
        title=title,
        program_ids=tuple(known)[:count],
        required_count=required,
    )
    with pytest.raises(InvalidArgumentError) as refused:
        pathway.revise(1, new, known)
    assert field in [v.field for v in refused.value.violations]
    assert (pathway.spec.required, pathway.version) == (3, 1)


def test_another_providers_draft_program_cannot_be_added() -> None:
    known = programs(2)
    pathway = Pathway.draft(PROVIDER, spec(list(known)), known)
    hidden = str(uuid.uuid4())
    refs = known | {hidden: ProgramRef(hidden, OTHER, ProgramStatus.DRAFT)}
    new = dataclasses.replace(pathway.spec, program_ids=(*known, hidden))
    with pytest.raises(InvalidArgumentError, match="no such program"):
        pathway.revise(1, new, refs)


def test_adding_a_foreign_program_asks_for_its_consent() -> None:
    known, [foreign] = with_foreign()
    own = [p for p in known if p != foreign]
    pathway = Pathway.draft(PROVIDER, spec(own), known)
    assert requested(pathway, known) == {}

    pathway.revise(1, dataclasses.replace(pathway.spec, program_ids=tuple(known)), known)
    added, changed = reconcile_consents(pathway, known, {})

    assert changed == []
    assert [(c.program_id, c.provider_id, c.status) for c in added] == [
        (foreign, OTHER, ConsentStatus.PENDING)
    ]


@pytest.mark.parametrize("decided", [None, ConsentDecision.GRANT])
def test_removing_a_foreign_program_cancels_its_open_request(
    decided: ConsentDecision | None,
) -> None:
    known, [foreign] = with_foreign()
    pathway = Pathway.draft(PROVIDER, spec(list(known)), known)
    consents = requested(pathway, known)
    if decided is not None:
        consents[foreign].decide(decided, pathway, "b-staff")
    own = tuple(p for p in known if p != foreign)

    pathway.revise(1, dataclasses.replace(pathway.spec, program_ids=own), known)
    added, changed = reconcile_consents(pathway, known, consents)

    assert added == []
    assert changed == [consents[foreign]]
    assert consents[foreign].status is ConsentStatus.CANCELLED
    # Its provider can no longer decide it, and publishing no longer needs it.
    with pytest.raises(FailedPreconditionError, match="CANCELLED"):
        consents[foreign].decide(ConsentDecision.GRANT, pathway, "b-staff")
    pathway.publish(known, {foreign: consents[foreign].status})


def test_a_closed_request_stays_closed_on_an_unrelated_edit() -> None:
    known, [foreign] = with_foreign()
    pathway = Pathway.draft(PROVIDER, spec(list(known)), known)
    consents = requested(pathway, known)
    consents[foreign].decide(ConsentDecision.REFUSE, pathway, "b-staff")

    pathway.revise(1, dataclasses.replace(pathway.spec, title="Renamed"), known)

    assert reconcile_consents(pathway, known, consents) == ([], [])
    assert consents[foreign].status is ConsentStatus.REFUSED


def test_naming_a_cancelled_program_again_asks_again() -> None:
    known, [foreign] = with_foreign()
    pathway = Pathway.draft(PROVIDER, spec(list(known)), known)
    consents = requested(pathway, known)
    own = tuple(p for p in known if p != foreign)
    pathway.revise(1, dataclasses.replace(pathway.spec, program_ids=own), known)
    reconcile_consents(pathway, known, consents)

    pathway.revise(2, dataclasses.replace(pathway.spec, program_ids=tuple(known)), known)
    added, changed = reconcile_consents(pathway, known, consents)

    assert added == []
    assert changed == [consents[foreign]]
    assert consents[foreign].status is ConsentStatus.PENDING


def test_a_request_for_a_named_program_is_not_cancelled() -> None:
    known, [foreign] = with_foreign()
    pathway = Pathway.draft(PROVIDER, spec(list(known)), known)
    consent = requested(pathway, known)[foreign]
    with pytest.raises(FailedPreconditionError, match="still names"):
        consent.cancel(pathway)
    assert consent.status is ConsentStatus.PENDING
