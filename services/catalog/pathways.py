"""The pathway aggregate: a provider's stack of programs and its own achievement. No I/O.

Consent rule: a pathway names only programs of its own provider. A provider's credential
then never counts towards another provider's award without that provider's say; pathways
across providers (with an approval by the included program's provider) are not offered.

Lifecycle as for programs: DRAFT (the spec is checked on creation), PUBLISHED (every
program must be on sale then; from here on credentials count towards it), ARCHIVED (no
new award; those issued stay valid). A published pathway's spec never changes, so the
definition the credentials service copies from PathwayPublished is the whole truth.
Transitions record past-tense events that the unit of work writes to the outbox.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from services.catalog.domain import BLANK_MESSAGE, ProgramStatus, Provider
from services.common.errors import (
    FailedPreconditionError,
    FieldViolation,
    InvalidArgumentError,
)


class PathwayStatus(StrEnum):
    DRAFT = "DRAFT"
    PUBLISHED = "PUBLISHED"
    ARCHIVED = "ARCHIVED"


@dataclass(frozen=True)
class PathwayAchievement:
    name: str
    description: str
    criteria: str
    skills: tuple[str, ...] = ()
    image_url: str = ""


@dataclass(frozen=True)
class PathwaySpec:
    title: str
    description: str
    program_ids: tuple[str, ...]
    # 0: all of them.
    required_count: int
    achievement: PathwayAchievement

    @property
    def required(self) -> int:
        """How many programs earn the pathway."""
        return self.required_count or len(self.program_ids)

    def violations(self) -> list[FieldViolation]:
        found = []
        texts = {
            "spec.title": self.title,
            "spec.achievement.name": self.achievement.name,
            "spec.achievement.description": self.achievement.description,
            "spec.achievement.criteria": self.achievement.criteria,
        }
        texts |= {f"spec.achievement.skills[{i}]": s for i, s in enumerate(self.achievement.skills)}
        for path, text in texts.items():
            if not text.strip():
                found.append(FieldViolation(path, BLANK_MESSAGE))
        if len(self.program_ids) < 2:
            found.append(FieldViolation("spec.program_ids", "a pathway needs at least 2 programs"))
        if len(set(self.program_ids)) != len(self.program_ids):
            found.append(FieldViolation("spec.program_ids", "must not repeat a program"))
        if self.required_count > len(self.program_ids):
            found.append(
                FieldViolation(
                    "spec.required_count",
                    f"cannot exceed the number of programs ({len(self.program_ids)})",
                )
            )
        if self.achievement.image_url and not self.achievement.image_url.startswith("https://"):
            found.append(FieldViolation("spec.achievement.image_url", "must be an https URL"))
        return found

    def check(self) -> PathwaySpec:
        found = self.violations()
        if found:
            summary = "; ".join(f"{v.field}: {v.message}" for v in found)
            raise InvalidArgumentError(f"invalid pathway: {summary}", found)
        return self


@dataclass(frozen=True)
class ProgramRef:
    """What the pathway rules need to know of a program it names."""

    id: str
    provider_id: str
    status: ProgramStatus


@dataclass(frozen=True)
class PathwayPublished:
    pathway_id: str


@dataclass(frozen=True)
class PathwayArchived:
    pathway_id: str


PathwayEvent = PathwayPublished | PathwayArchived


def _check_programs(provider_id: str, spec: PathwaySpec, programs: dict[str, ProgramRef]) -> None:
    found = []
    for i, program_id in enumerate(spec.program_ids):
        program = programs.get(program_id)
        if program is None:
            found.append(FieldViolation(f"spec.program_ids[{i}]", "no such program"))
        elif program.provider_id != provider_id:
            found.append(
                FieldViolation(
                    f"spec.program_ids[{i}]",
                    "a pathway may include only its own provider's programs",
                )
            )
    if found:
        summary = "; ".join(f"{v.field}: {v.message}" for v in found)
        raise InvalidArgumentError(f"invalid pathway: {summary}", found)


@dataclass
class Pathway:
    id: str
    provider_id: str
    provider_name: str
    spec: PathwaySpec
    status: PathwayStatus = PathwayStatus.DRAFT
    version: int = 1
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    events: list[PathwayEvent] = field(default_factory=list, repr=False)

    @classmethod
    def draft(
        cls, provider: Provider, spec: PathwaySpec, programs: dict[str, ProgramRef]
    ) -> Pathway:
        """A new DRAFT; `programs` are the catalog's programs among spec.program_ids."""
        spec.check()
        _check_programs(provider.id, spec, programs)
        return cls(
            id=str(uuid.uuid4()), provider_id=provider.id, provider_name=provider.name, spec=spec
        )

    def _touch(self) -> None:
        self.version += 1
        self.updated_at = datetime.now(UTC)

    def publish(self, programs: dict[str, ProgramRef]) -> None:
        if self.status is not PathwayStatus.DRAFT:
            raise FailedPreconditionError(
                f"only a DRAFT pathway can be published (is {self.status})"
            )
        _check_programs(self.provider_id, self.spec, programs)
        off_sale = [
            p for p in self.spec.program_ids if programs[p].status is not ProgramStatus.PUBLISHED
        ]
        if off_sale:
            raise FailedPreconditionError(
                f"every program of a pathway must be published first: {', '.join(off_sale)}"
            )
        self.status = PathwayStatus.PUBLISHED
        self._touch()
        self.events.append(PathwayPublished(self.id))

    def archive(self) -> None:
        if self.status is PathwayStatus.ARCHIVED:
            raise FailedPreconditionError("pathway is already archived")
        was_published = self.status is PathwayStatus.PUBLISHED
        self.status = PathwayStatus.ARCHIVED
        self._touch()
        if was_published:  # a draft was never announced: nothing to take back
            self.events.append(PathwayArchived(self.id))

    def visible_to(self, provider_id: str, privileged: bool) -> bool:
        return (
            self.status is PathwayStatus.PUBLISHED or privileged or provider_id == self.provider_id
        )

    def pull_events(self) -> list[PathwayEvent]:
        events, self.events = self.events, []
        return events
