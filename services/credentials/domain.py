"""The credentials service's rules: when a credential is issued, when it is revoked. No I/O.

- Issued: exactly once per enrollment, at the moment the program's issuance policy names
  (ON_PAYMENT: when the enrollment is activated; ON_COMPLETION, the default: when it is
  completed), and never once the enrollment's payment has come back.
- Revoked: by the issuing provider or an admin (with their reason), or because the
  enrollment's payment came back (reason `refunded`); a revoked credential stays revoked.

Signing and the Open Badges format are in badges.py; storage in repository.py; the events
a credential raises reach the outbox through unit_of_work.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

# One reason for every way the money came back (API, dashboard, lost dispute): what a
# verifier needs to know is that the credential was not paid for.
REVOCATION_REFUNDED = "refunded"


class IssuancePolicy(StrEnum):
    ON_COMPLETION = "ON_COMPLETION"  # the design's default
    ON_PAYMENT = "ON_PAYMENT"


class Moment(StrEnum):
    """What happened to the enrollment."""

    ACTIVATED = "activated"
    COMPLETED = "completed"


def earns_credential_on(policy: IssuancePolicy, moment: str) -> bool:
    """The issuance policy: ON_PAYMENT programs issue on activation, all others on completion."""
    return moment == (Moment.ACTIVATED if policy is IssuancePolicy.ON_PAYMENT else Moment.COMPLETED)


def may_issue(*, already_issued: bool, withdrawn: bool) -> bool:
    """One credential per enrollment, and none after its payment came back."""
    return not already_issued and not withdrawn


@dataclass(frozen=True)
class Issued:
    credential_id: str


@dataclass(frozen=True)
class Revoked:
    credential_id: str
    reason: str


@dataclass(frozen=True)
class PathwayIssued:
    """A pathway's credential, standing on the component credentials named."""

    credential_id: str
    pathway_id: str
    component_ids: tuple[str, ...]


CredentialEvent = Issued | Revoked | PathwayIssued


@dataclass
class CredentialRecord:
    """An issued credential: the signed JWT and what the service keeps about it."""

    id: str
    enrollment_id: str
    program_id: str
    provider_id: str
    learner_id: str
    achievement_name: str
    status: str
    jwt: str
    kid: str
    status_list_id: str
    status_index: int
    issued_at: datetime
    revoked_at: datetime | None = None
    revocation_reason: str = ""
    # A pathway's credential (enrollment_id and program_id are then empty) and the
    # credentials it stands on.
    pathway_id: str = ""
    valid_until: datetime | None = None
    component_ids: tuple[str, ...] = ()
    events: list[CredentialEvent] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def issue(
        cls,
        *,
        id: str,
        enrollment_id: str,
        program_id: str,
        provider_id: str,
        learner_id: str,
        achievement_name: str,
        jwt: str,
        kid: str,
        status_list_id: str,
        status_index: int,
        issued_at: datetime,
        valid_until: datetime | None = None,
    ) -> CredentialRecord:
        record = cls(
            id=id,
            enrollment_id=enrollment_id,
            program_id=program_id,
            provider_id=provider_id,
            learner_id=learner_id,
            achievement_name=achievement_name,
            status="ISSUED",
            jwt=jwt,
            kid=kid,
            status_list_id=status_list_id,
            status_index=status_index,
            issued_at=issued_at,
            valid_until=valid_until,
        )
        record.events.append(Issued(id))
        return record

    @classmethod
    def issue_pathway(
        cls,
        *,
        id: str,
        pathway_id: str,
        provider_id: str,
        learner_id: str,
        achievement_name: str,
        jwt: str,
        kid: str,
        status_list_id: str,
        status_index: int,
        issued_at: datetime,
        valid_until: datetime | None,
        component_ids: tuple[str, ...],
    ) -> CredentialRecord:
        record = cls(
            id=id,
            enrollment_id="",
            program_id="",
            provider_id=provider_id,
            learner_id=learner_id,
            achievement_name=achievement_name,
            status="ISSUED",
            jwt=jwt,
            kid=kid,
            status_list_id=status_list_id,
            status_index=status_index,
            issued_at=issued_at,
            pathway_id=pathway_id,
            valid_until=valid_until,
            component_ids=component_ids,
        )
        record.events.append(PathwayIssued(id, pathway_id, component_ids))
        return record

    def revoke(self, reason: str, now: datetime | None = None) -> bool:
        """Revoke it; False (and nothing changes) when it already was."""
        if self.status == "REVOKED":
            return False
        self.status = "REVOKED"
        self.revoked_at = now or datetime.now(UTC)
        self.revocation_reason = reason
        self.events.append(Revoked(self.id, reason))
        return True

    def pull_events(self) -> list[CredentialEvent]:
        events, self.events = self.events, []
        return events
