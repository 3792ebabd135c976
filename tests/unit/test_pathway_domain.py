"""The pathway aggregate's rules (services/catalog/pathways.py), without I/O."""

from __future__ import annotations

import uuid

import pytest

from services.catalog.domain import ProgramStatus, Provider
from services.catalog.pathways import (
    Consent,
    ConsentDecision,
    ConsentStatus,
    Pathway,
    PathwayAchievement,
    PathwayArchived,
    PathwayPublished,
    PathwaySpec,
    PathwayStatus,
    ProgramRef,
)
from services.common.errors import FailedPreconditionError, InvalidArgumentError

PROVIDER = Provider(id=str(uuid.uuid4()), name="Acme")
OTHER = str(uuid.uuid4())


def spec(program_ids: list[str], required: int = 0, **achievement: str) -> PathwaySpec:
    return PathwaySpec(
        title="Data analyst",
        description="",
        program_ids=tuple(program_ids),
        required_count=required,
        achievement=PathwayAchievement(
            name=achievement.get("name", "Analyst"),
            description="Analyses data.",
            criteria="Earned the programs.",
            skills=("SQL",),
            image_url=achievement.get("image_url", ""),
        ),
    )


def programs(n: int, status: ProgramStatus = ProgramStatus.PUBLISHED) -> dict[str, ProgramRef]:
    ids = [str(uuid.uuid4()) for _ in range(n)]
    return {i: ProgramRef(i, PROVIDER.id, status) for i in ids}


def test_a_draft_publishes_once_and_records_the_event() -> None:
    known = programs(3)
    pathway = Pathway.draft(PROVIDER, spec(list(known)), known)
    assert pathway.status is PathwayStatus.DRAFT
    assert pathway.spec.required == 3

    pathway.publish(known, {})

    assert pathway.status is PathwayStatus.PUBLISHED
    assert pathway.version == 2
    assert pathway.pull_events() == [PathwayPublished(pathway.id)]
    with pytest.raises(FailedPreconditionError):
        pathway.publish(known, {})


def test_archiving_a_published_pathway_is_announced_a_draft_is_not() -> None:
    known = programs(2)
    published = Pathway.draft(PROVIDER, spec(list(known)), known)
    published.publish(known, {})
    published.pull_events()
    published.archive()
    assert published.pull_events() == [PathwayArchived(published.id)]
    with pytest.raises(FailedPreconditionError):
        published.archive()

    draft = Pathway.draft(PROVIDER, spec(list(known)), known)
    draft.archive()
    assert draft.pull_events() == []


def with_foreign(
    n: int = 1, status: ProgramStatus = ProgramStatus.PUBLISHED
) -> tuple[dict[str, ProgramRef], list[str]]:
    """Two of PROVIDER's programs and `n` of OTHER's."""
    known = programs(2)
    foreign = [str(uuid.uuid4()) for _ in range(n)]
    known |= {f: ProgramRef(f, OTHER, status) for f in foreign}
    return known, foreign


def test_another_providers_program_needs_its_granted_consent_to_publish() -> None:
    known, [foreign] = with_foreign()
    pathway = Pathway.draft(PROVIDER, spec(list(known)), known)
    assert [p.id for p in pathway.foreign_programs(known)] == [foreign]
    consent = Consent.request(pathway, known[foreign])
    assert (consent.requester_id, consent.provider_id) == (PROVIDER.id, OTHER)
    assert consent.status is ConsentStatus.PENDING

    for statuses in ({}, {foreign: consent.status}):
        with pytest.raises(FailedPreconditionError, match="consent") as refused:
            pathway.publish(known, statuses)
        assert foreign in str(refused.value)
    assert pathway.status is PathwayStatus.DRAFT
    assert pathway.pull_events() == []

    consent.decide(ConsentDecision.GRANT, pathway, "b-staff")
    assert (consent.status, consent.decided_by, consent.version) == (
        ConsentStatus.GRANTED,
        "b-staff",
        2,
    )
    pathway.publish(known, {foreign: consent.status})
    assert pathway.status is PathwayStatus.PUBLISHED


def test_a_refused_consent_blocks_publishing_until_asked_again_and_granted() -> None:
    known, [foreign] = with_foreign()
    pathway = Pathway.draft(PROVIDER, spec(list(known)), known)
    consent = Consent.request(pathway, known[foreign])
    consent.decide(ConsentDecision.REFUSE, pathway, "b")
    with pytest.raises(FailedPreconditionError, match="REFUSED"):
        pathway.publish(known, {foreign: consent.status})
    # Refused is not granted: it cannot be granted without a new request.
    with pytest.raises(FailedPreconditionError):
        consent.decide(ConsentDecision.GRANT, pathway, "b")
    assert consent.ask_again(pathway) is True
    assert consent.status is ConsentStatus.PENDING
    assert consent.ask_again(pathway) is False  # already open: unchanged
    consent.decide(ConsentDecision.GRANT, pathway, "b")
    assert consent.ask_again(pathway) is False  # granted: unchanged
    pathway.publish(known, {foreign: consent.status})


def test_withdrawing_archives_a_published_pathway_that_can_never_come_back() -> None:
    known, [foreign] = with_foreign()
    pathway = Pathway.draft(PROVIDER, spec(list(known)), known)
    consent = Consent.request(pathway, known[foreign])
    with pytest.raises(FailedPreconditionError):
        consent.decide(ConsentDecision.WITHDRAW, pathway, "b")  # nothing granted yet
    consent.decide(ConsentDecision.GRANT, pathway, "b")
    pathway.publish(known, {foreign: consent.status})
    pathway.pull_events()

    consent.decide(ConsentDecision.WITHDRAW, pathway, "b")

    assert consent.status is ConsentStatus.WITHDRAWN
    assert pathway.status is PathwayStatus.ARCHIVED
    assert pathway.pull_events() == [PathwayArchived(pathway.id)]
    with pytest.raises(FailedPreconditionError, match="DRAFT"):
        consent.ask_again(pathway)
    with pytest.raises(FailedPreconditionError):
        pathway.publish(known, {foreign: ConsentStatus.GRANTED})


def test_withdrawing_from_a_draft_blocks_publishing_until_granted_again() -> None:
    known, [foreign] = with_foreign()
    pathway = Pathway.draft(PROVIDER, spec(list(known)), known)
    consent = Consent.request(pathway, known[foreign])
    consent.decide(ConsentDecision.GRANT, pathway, "b")
    consent.decide(ConsentDecision.WITHDRAW, pathway, "b")
    assert pathway.status is PathwayStatus.DRAFT
    assert pathway.pull_events() == []
    with pytest.raises(FailedPreconditionError, match="WITHDRAWN"):
        pathway.publish(known, {foreign: consent.status})
    assert consent.ask_again(pathway) is True
    consent.decide(ConsentDecision.GRANT, pathway, "b")
    pathway.publish(known, {foreign: consent.status})


def test_every_foreign_program_needs_its_own_consent() -> None:
    known, foreign = with_foreign(2)
    pathway = Pathway.draft(PROVIDER, spec(list(known)), known)
    with pytest.raises(FailedPreconditionError) as refused:
        pathway.publish(known, {foreign[0]: ConsentStatus.GRANTED})
    assert foreign[1] in str(refused.value)
    assert foreign[0] not in str(refused.value)
    # Own programs need none: a consent for them cannot even be asked.
    own = next(p for p in known.values() if p.provider_id == PROVIDER.id)
    with pytest.raises(FailedPreconditionError, match="need no consent"):
        Consent.request(pathway, own)


def test_a_decision_on_an_archived_pathway_and_requests_of_published_ones_are_refused() -> None:
    known, [foreign] = with_foreign()
    pathway = Pathway.draft(PROVIDER, spec(list(known)), known)
    consent = Consent.request(pathway, known[foreign])
    pathway.archive()
    with pytest.raises(FailedPreconditionError, match="nothing to consent"):
        consent.decide(ConsentDecision.GRANT, pathway, "b")
    consent.decide(ConsentDecision.REFUSE, pathway, "b")  # a refusal is always possible
    with pytest.raises(FailedPreconditionError, match="DRAFT"):
        Consent.request(pathway, known[foreign])


def test_another_providers_unpublished_program_cannot_be_named() -> None:
    known, _ = with_foreign(status=ProgramStatus.DRAFT)
    with pytest.raises(InvalidArgumentError) as refused:
        Pathway.draft(PROVIDER, spec(list(known)), known)
    assert [v.field for v in refused.value.violations] == ["spec.program_ids[2]"]
    assert refused.value.violations[0].message == "no such program"


def test_unknown_programs_and_impossible_counts_are_refused() -> None:
    known = programs(2)
    missing = str(uuid.uuid4())
    with pytest.raises(InvalidArgumentError) as refused:
        Pathway.draft(PROVIDER, spec([*known, missing]), known)
    assert "no such program" in str(refused.value)
    with pytest.raises(InvalidArgumentError, match="required_count"):
        Pathway.draft(PROVIDER, spec(list(known), required=3), known)
    with pytest.raises(InvalidArgumentError, match="at least 2"):
        Pathway.draft(PROVIDER, spec(list(known)[:1]), known)
    with pytest.raises(InvalidArgumentError, match=r"achievement\.name"):
        Pathway.draft(PROVIDER, spec(list(known), name="   "), known)
    with pytest.raises(InvalidArgumentError, match="https"):
        Pathway.draft(PROVIDER, spec(list(known), image_url="http://x.test/a.png"), known)


def test_publishing_needs_every_program_on_sale() -> None:
    known = programs(2, ProgramStatus.DRAFT)
    pathway = Pathway.draft(PROVIDER, spec(list(known)), known)
    with pytest.raises(FailedPreconditionError, match="published first"):
        pathway.publish(known, {})
    assert pathway.status is PathwayStatus.DRAFT
    assert pathway.pull_events() == []


def test_k_of_n() -> None:
    known = programs(4)
    pathway = Pathway.draft(PROVIDER, spec(list(known), required=2), known)
    assert pathway.spec.required == 2
