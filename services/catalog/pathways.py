"""The pathway aggregate: a provider's stack of programs and its own achievement. No I/O.

Consent rule (one place: this module). A pathway may name another provider's published
program only with that provider's consent, so a provider's credential never counts towards
another provider's award without its say:
- creating a DRAFT pathway that names another provider's program asks for it: one PENDING
  `Consent` per (pathway, program); the pathway's provider may ask again after a refusal
  or a withdrawal while the pathway is a draft (an open or granted request stays as it is);
- the program's provider (its staff, or an admin) grants or refuses a PENDING request, and
  may withdraw a GRANTED one at any time;
- a pathway is published only when every foreign program's consent is GRANTED;
- a withdrawal archives a PUBLISHED pathway that counted on it (PathwayArchived: no new
  pathway credential, and it can never be published again); pathway credentials already
  issued stay valid, as for any archived pathway. A DRAFT cannot be published until the
  consent is asked for and granted again;
- editing a DRAFT (`Pathway.revise`, then `reconcile_consents`) asks as creating does for
  each foreign program it adds (a request it CANCELLED earlier is PENDING again; a REFUSED
  or WITHDRAWN one stays as it is: asking again is the explicit request's job), and
  CANCELS the open (PENDING or GRANTED) request of each foreign program it takes out, so
  publishing no longer waits for it and its provider can no longer decide it.

Lifecycle as for programs: DRAFT (the spec is checked on creation), PUBLISHED (every
program must be on sale then; from here on credentials count towards it), ARCHIVED (no
new award; those issued stay valid). A published pathway's spec never changes, so the
definition the credentials service copies from PathwayPublished is the whole truth.
Transitions record past-tense events that the unit of work writes to the outbox.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from services.catalog.domain import BLANK_MESSAGE, ProgramStatus, Provider
from services.common.errors import (
    ConflictError,
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


class ConsentStatus(StrEnum):
    PENDING = "PENDING"
    GRANTED = "GRANTED"
    REFUSED = "REFUSED"
    WITHDRAWN = "WITHDRAWN"
    # Closed by the requester: an edit took the program out of the draft.
    CANCELLED = "CANCELLED"


class ConsentDecision(StrEnum):
    GRANT = "GRANT"
    REFUSE = "REFUSE"
    WITHDRAW = "WITHDRAW"


# What each decision needs, and what it makes of a request.
_DECISIONS = {
    ConsentDecision.GRANT: (ConsentStatus.PENDING, ConsentStatus.GRANTED),
    ConsentDecision.REFUSE: (ConsentStatus.PENDING, ConsentStatus.REFUSED),
    ConsentDecision.WITHDRAW: (ConsentStatus.GRANTED, ConsentStatus.WITHDRAWN),
}


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
        # Another provider's draft or archived program is none of this provider's business.
        if program is None or (
            program.provider_id != provider_id and program.status is not ProgramStatus.PUBLISHED
        ):
            found.append(FieldViolation(f"spec.program_ids[{i}]", "no such program"))
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

    def revise(
        self, expected_version: int, spec: PathwaySpec, programs: dict[str, ProgramRef]
    ) -> None:
        """A DRAFT's new spec; `programs` are the catalog's programs among its ids. The
        consents it asks for or closes are reconcile_consents' business."""
        if expected_version != self.version:
            raise ConflictError(
                f"pathway {self.id} is at version {self.version}, not {expected_version}"
            )
        if self.status is not PathwayStatus.DRAFT:
            raise FailedPreconditionError(f"only a DRAFT pathway can be edited (is {self.status})")
        spec.check()
        _check_programs(self.provider_id, spec, programs)
        self.spec = spec
        self._touch()

    def foreign_programs(self, programs: dict[str, ProgramRef]) -> list[ProgramRef]:
        """The programs, in spec order, that need their provider's consent."""
        return [
            ref
            for p in self.spec.program_ids
            if (ref := programs.get(p)) is not None and ref.provider_id != self.provider_id
        ]

    def publish(
        self, programs: dict[str, ProgramRef], consents: Mapping[str, ConsentStatus]
    ) -> None:
        """`consents`: the status of this pathway's consent request per program id."""
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
        unconsented = [
            f"{ref.id} ({consents.get(ref.id, 'not requested')})"
            for ref in self.foreign_programs(programs)
            if consents.get(ref.id) is not ConsentStatus.GRANTED
        ]
        if unconsented:
            raise FailedPreconditionError(
                "another provider's program needs that provider's granted consent first: "
                + ", ".join(unconsented)
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


@dataclass
class Consent:
    """One provider's (`provider_id`, the program's) consent to count one of its programs
    towards another provider's (`requester_id`, the pathway's) pathway."""

    id: str
    pathway_id: str
    program_id: str
    requester_id: str
    provider_id: str
    status: ConsentStatus = ConsentStatus.PENDING
    decided_by: str = ""
    version: int = 1
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def request(cls, pathway: Pathway, program: ProgramRef) -> Consent:
        """A PENDING request for `program` in `pathway`, which must be a draft naming it."""
        if program.id not in pathway.spec.program_ids:
            raise FailedPreconditionError(f"pathway {pathway.id} does not name {program.id}")
        if program.provider_id == pathway.provider_id:
            raise FailedPreconditionError("a pathway's own provider's programs need no consent")
        if pathway.status is not PathwayStatus.DRAFT:
            raise FailedPreconditionError(
                f"consent is asked for a DRAFT pathway only (is {pathway.status})"
            )
        return cls(
            id=str(uuid.uuid4()),
            pathway_id=pathway.id,
            program_id=program.id,
            requester_id=pathway.provider_id,
            provider_id=program.provider_id,
        )

    def _touch(self, by: str) -> None:
        self.decided_by = by
        self.version += 1
        self.updated_at = datetime.now(UTC)

    def cancel(self, pathway: Pathway) -> bool:
        """The requester's edit took the program out of the draft: an open (PENDING or
        GRANTED) request is CANCELLED; True when it changed."""
        if self.program_id in pathway.spec.program_ids:
            raise FailedPreconditionError(f"pathway {pathway.id} still names {self.program_id}")
        if self.status not in (ConsentStatus.PENDING, ConsentStatus.GRANTED):
            return False
        if pathway.status is not PathwayStatus.DRAFT:
            raise FailedPreconditionError(
                f"consent is cancelled for a DRAFT pathway only (is {pathway.status})"
            )
        self.status = ConsentStatus.CANCELLED
        self._touch("")
        return True

    def ask_again(self, pathway: Pathway) -> bool:
        """The requester asks once more: a refused or withdrawn request is PENDING again
        while the pathway is a draft. An open or granted one stays; True when it changed."""
        if self.status in (ConsentStatus.PENDING, ConsentStatus.GRANTED):
            return False
        if pathway.status is not PathwayStatus.DRAFT:
            raise FailedPreconditionError(
                f"consent is asked for a DRAFT pathway only (is {pathway.status})"
            )
        self.status = ConsentStatus.PENDING
        self._touch("")
        return True

    def decide(self, decision: ConsentDecision, pathway: Pathway, by: str) -> None:
        """The program's provider grants, refuses or withdraws; a withdrawal archives the
        pathway if it is published (its events then say so)."""
        needed, becomes = _DECISIONS[decision]
        if self.status is not needed:
            raise FailedPreconditionError(
                f"only a {needed} consent can be {becomes.lower()} (is {self.status})"
            )
        if decision is ConsentDecision.GRANT and pathway.status is not PathwayStatus.DRAFT:
            raise FailedPreconditionError(
                f"the pathway is {pathway.status}: there is nothing to consent to"
            )
        self.status = becomes
        self._touch(by)
        if decision is ConsentDecision.WITHDRAW and pathway.status is PathwayStatus.PUBLISHED:
            pathway.archive()


def reconcile_consents(
    pathway: Pathway, programs: Mapping[str, ProgramRef], consents: Mapping[str, Consent]
) -> tuple[list[Consent], list[Consent]]:
    """After an edit of a DRAFT: the requests to add and the existing ones changed.
    `programs`: the catalog's programs among the spec's; `consents`: the pathway's
    requests by program id. A foreign program named with no request asks for one, with a
    CANCELLED request asks again; a request whose program is no longer named is cancelled."""
    added: list[Consent] = []
    changed: list[Consent] = []
    for ref in pathway.foreign_programs(dict(programs)):
        found = consents.get(ref.id)
        if found is None:
            added.append(Consent.request(pathway, ref))
        elif found.status is ConsentStatus.CANCELLED and found.ask_again(pathway):
            changed.append(found)
    for program_id, consent in consents.items():
        if program_id not in pathway.spec.program_ids and consent.cancel(pathway):
            changed.append(consent)
    return added, changed
