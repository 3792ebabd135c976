"""The catalog's domain: programs and their publishing lifecycle. No I/O here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum

from services.common import volume_tiers
from services.common.currency import INVALID_CURRENCY_MESSAGE, is_currency
from services.common.errors import (
    ConflictError,
    FailedPreconditionError,
    FieldViolation,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
)
from services.common.volume_tiers import VolumeTier

BLANK_MESSAGE = "must not be empty or only whitespace"


def ensure_may_change(
    kind: str, resource_id: str, owner: str, *, caller: str, admin: bool, visible: bool
) -> None:
    """Who may change a program or a pathway: the provider that owns it, or an admin.
    Another provider learns nothing of what it may not see (a draft): 404, not 403."""
    if admin or owner == caller:
        return
    if not visible:
        raise NotFoundError(f"{kind} {resource_id} not found")
    raise PermissionDeniedError(f"only the owning provider may change this {kind}")


class ProgramStatus(StrEnum):
    DRAFT = "DRAFT"
    PUBLISHED = "PUBLISHED"
    ARCHIVED = "ARCHIVED"


class Issuance(StrEnum):
    ON_COMPLETION = "ON_COMPLETION"
    ON_PAYMENT = "ON_PAYMENT"


# A program that names no policy issues its credential on completion (the design's default).
DEFAULT_ISSUANCE = Issuance.ON_COMPLETION


@dataclass(frozen=True)
class CredentialTemplate:
    name: str
    description: str
    criteria: str
    issuance: Issuance = DEFAULT_ISSUANCE
    valid_for_days: int | None = None


@dataclass(frozen=True)
class Provider:
    id: str
    name: str
    website: str = ""
    email: str = ""
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class ProgramSpec:
    """What a provider writes; everything else about a program is the server's."""

    title: str
    summary: str
    description: str
    skills: tuple[str, ...]
    duration_hours: int
    price_minor: int
    currency: str
    capacity: int | None
    credential: CredentialTemplate
    # Seat pack prices by size (services/common/volume_tiers.py); none: the list price.
    volume_tiers: tuple[VolumeTier, ...] = ()

    def violations(self) -> list[FieldViolation]:
        """The catalog's own rules for a whole spec, beyond each field's wire rules
        (protovalidate): text that is blank once stripped, a program of no duration, a
        currency that is not ISO 4217. Paths are those of the `spec` field of the
        requests that carry one."""
        found = []
        texts = {
            "spec.title": self.title,
            "spec.credential.name": self.credential.name,
            "spec.credential.description": self.credential.description,
            "spec.credential.criteria": self.credential.criteria,
        }
        texts |= {f"spec.skills[{i}]": skill for i, skill in enumerate(self.skills)}
        for path, text in texts.items():
            if not text.strip():
                found.append(FieldViolation(path, BLANK_MESSAGE))
        if len({skill.strip() for skill in self.skills}) != len(self.skills):
            found.append(FieldViolation("spec.skills", "must not repeat a skill"))
        if self.duration_hours < 1:
            found.append(FieldViolation("spec.duration_hours", "must be at least 1 hour"))
        if not is_currency(self.currency):
            found.append(FieldViolation("spec.price.currency", INVALID_CURRENCY_MESSAGE))
        found += volume_tiers.violations(self.price_minor, self.volume_tiers)
        return found

    def check(self) -> ProgramSpec:
        """This spec, or InvalidArgumentError naming every field that breaks a rule."""
        found = self.violations()
        if found:
            summary = "; ".join(f"{v.field}: {v.message}" for v in found)
            raise InvalidArgumentError(f"invalid program: {summary}", found)
        return self


def provider_name(name: str) -> str:
    """A provider's name as stored (stripped); InvalidArgumentError when it is blank."""
    if not name.strip():
        raise InvalidArgumentError(
            f"invalid provider: name: {BLANK_MESSAGE}", [FieldViolation("name", BLANK_MESSAGE)]
        )
    return name.strip()


# Fields of ProgramSpec that an update mask may name (credential.* count as "credential").
UPDATABLE = frozenset(
    {
        "title",
        "summary",
        "description",
        "skills",
        "duration_hours",
        "price",
        "capacity",
        "credential",
        "volume_tiers",
    }
)


@dataclass(frozen=True)
class Published:
    """The program went on sale."""

    program_id: str


@dataclass(frozen=True)
class Archived:
    """The program was withdrawn for good."""

    program_id: str


ProgramEvent = Published | Archived


@dataclass
class Program:
    id: str
    provider_id: str
    provider_name: str
    spec: ProgramSpec
    status: ProgramStatus = ProgramStatus.DRAFT
    version: int = 1
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    events: list[ProgramEvent] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def draft(cls, provider: Provider, spec: ProgramSpec) -> Program:
        return cls(
            id=str(uuid.uuid4()),
            provider_id=provider.id,
            provider_name=provider.name,
            spec=spec.check(),
        )

    def _touch(self) -> None:
        self.version += 1
        self.updated_at = datetime.now(UTC)

    def update(self, expected_version: int, spec: ProgramSpec) -> None:
        if expected_version != self.version:
            raise ConflictError(
                f"program {self.id} is at version {self.version}, not {expected_version}"
            )
        if self.status is ProgramStatus.ARCHIVED:
            raise FailedPreconditionError("an archived program cannot be edited")
        self.spec = spec.check()
        self._touch()

    def publish(self) -> None:
        if self.status is not ProgramStatus.DRAFT:
            raise FailedPreconditionError(
                f"only a DRAFT program can be published (is {self.status})"
            )
        self.status = ProgramStatus.PUBLISHED
        self._touch()
        self.events.append(Published(self.id))

    def archive(self) -> None:
        if self.status is ProgramStatus.ARCHIVED:
            raise FailedPreconditionError("program is already archived")
        self.status = ProgramStatus.ARCHIVED
        self._touch()
        self.events.append(Archived(self.id))

    def pull_events(self) -> list[ProgramEvent]:
        events, self.events = self.events, []
        return events

    def visible_to(self, provider_id: str, privileged: bool) -> bool:
        """Drafts and archived programs are their owner's business; published ones are public."""
        return (
            self.status is ProgramStatus.PUBLISHED or privileged or provider_id == self.provider_id
        )


def merge(current: ProgramSpec, patch: ProgramSpec, paths: list[str]) -> ProgramSpec:
    """`current` with the masked fields taken from `patch`."""
    changes: dict[str, object] = {}
    for path in paths:
        top = path.split(".", 1)[0]
        if top == "price":
            changes["price_minor"] = patch.price_minor
            changes["currency"] = patch.currency
        elif top == "credential" and "." in path:
            sub = path.split(".", 1)[1]
            base = changes.get("credential", current.credential)
            assert isinstance(base, CredentialTemplate)
            changes["credential"] = replace(base, **{sub: getattr(patch.credential, sub)})
        else:
            changes[top] = getattr(patch, top)
    return replace(current, **changes)  # type: ignore[arg-type]
