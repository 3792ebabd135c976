"""The pathway aggregate's rules (services/catalog/pathways.py), without I/O."""

from __future__ import annotations

import uuid

import pytest

from services.catalog.domain import ProgramStatus, Provider
from services.catalog.pathways import (
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

    pathway.publish(known)

    assert pathway.status is PathwayStatus.PUBLISHED
    assert pathway.version == 2
    assert pathway.pull_events() == [PathwayPublished(pathway.id)]
    with pytest.raises(FailedPreconditionError):
        pathway.publish(known)


def test_archiving_a_published_pathway_is_announced_a_draft_is_not() -> None:
    known = programs(2)
    published = Pathway.draft(PROVIDER, spec(list(known)), known)
    published.publish(known)
    published.pull_events()
    published.archive()
    assert published.pull_events() == [PathwayArchived(published.id)]
    with pytest.raises(FailedPreconditionError):
        published.archive()

    draft = Pathway.draft(PROVIDER, spec(list(known)), known)
    draft.archive()
    assert draft.pull_events() == []


def test_only_the_providers_own_programs_consent_rule() -> None:
    known = programs(2)
    foreign = str(uuid.uuid4())
    known[foreign] = ProgramRef(foreign, OTHER, ProgramStatus.PUBLISHED)
    with pytest.raises(InvalidArgumentError) as refused:
        Pathway.draft(PROVIDER, spec(list(known)), known)
    assert [v.field for v in refused.value.violations] == ["spec.program_ids[2]"]
    assert "own provider" in refused.value.violations[0].message


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
        pathway.publish(known)
    assert pathway.status is PathwayStatus.DRAFT
    assert pathway.pull_events() == []


def test_k_of_n() -> None:
    known = programs(4)
    pathway = Pathway.draft(PROVIDER, spec(list(known), required=2), known)
    assert pathway.spec.required == 2
