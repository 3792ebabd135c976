"""Public profiles as the API and the /u/{handle} page show them: the learner's own settings,
the public profile (credentials grouped by skill, each with its live verdict) and the
one-call verification of all of them. The credentials service decides what is shown and
verifies it; this module only shapes its answer, once, for the JSON and the page alike."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, Field
from upskill.credentials.v1 import credentials_pb2

from services.common.handles import SENT_HANDLE_SCHEMA
from services.common.text import SINGLE_LINE_TEXT_PATTERN
from services.gateway import mapping
from services.gateway.schemas import (
    CredentialStatus,
    StrictModel,
    Text,
    UuidText,
    VerificationCheck,
    VerificationStatus,
)

# What a handle can look like at all (any case: the service folds it); anything else is no
# profile, answered 404 without asking the service.
HANDLE_SHAPE = re.compile(r"^[A-Za-z0-9-]{1,60}$")
NO_SKILL = "Other"


class ProfileSettings(BaseModel):
    display_name: str
    show_name: bool = Field(description="Consent: display_name is shown only when true")
    handle: str | None = Field(description="The public profile's address, /u/{handle}")
    public: bool = Field(description="Whether /u/{handle} shows the profile")
    credential_ids: list[str] = Field(description="The credentials it shows, in this order")
    profile_url: str | None = Field(description="The public page, while the profile is public")
    updated_at: datetime | None


class ProfileUpdate(StrictModel):
    """The whole public profile (PUT replaces it). display_name and show_name, when sent,
    are set in the same transaction; omitted, they stay as they are."""

    handle: Text = Field(
        "",
        max_length=200,
        description="3 to 30 letters, digits and single hyphens, not a reserved word; stored"
        " lowercase and unique however it is cased; empty releases it",
        json_schema_extra=SENT_HANDLE_SCHEMA,
    )
    public: bool = False
    credential_ids: list[UuidText] = Field(
        default_factory=list,
        max_length=50,
        description="Your own credentials to show, in order (revoked ones show as REVOKED)",
    )
    display_name: Text | None = Field(
        None,
        max_length=100,
        description="One line",
        json_schema_extra={"pattern": SINGLE_LINE_TEXT_PATTERN},
    )
    show_name: bool | None = None


class CredentialVerdict(BaseModel):
    verified: bool
    status: VerificationStatus
    checks: list[VerificationCheck]


class ShownCredential(BaseModel):
    id: str
    achievement_name: str
    issuer_name: str
    program_id: str
    status: CredentialStatus
    issued_at: datetime | None
    valid_until: datetime | None
    revoked_at: datetime | None
    revocation_reason: str | None
    skills: list[str]
    url: str = Field(description="The credential's public page")
    jwt: str = Field(description="The signed OpenBadgeCredential (VC-JWT), to verify it anew")
    verification: CredentialVerdict


class SkillGroup(BaseModel):
    skill: str
    credential_ids: list[str]


class PublicProfile(BaseModel):
    handle: str
    name: str | None = Field(description="The learner's display name, shown with consent")
    url: str
    verification_url: str = Field(description="Verifies every credential shown, in one call")
    verified_at: datetime | None
    skills: list[SkillGroup] = Field(description="The credentials grouped by skill")
    credentials: list[ShownCredential]


class VerdictSummary(BaseModel):
    id: str
    achievement_name: str
    url: str
    verified: bool
    status: VerificationStatus


class ProfileVerification(BaseModel):
    handle: str
    verified_at: datetime | None
    all_valid: bool = Field(description="True when every credential shown is VALID")
    counts: dict[str, int] = Field(description="How many credentials have each status")
    credentials: list[VerdictSummary]


def profile_url(base_url: str, handle: str) -> str:
    return f"{base_url}/u/{handle}"


def settings_to_json(profile: credentials_pb2.LearnerProfile, base_url: str) -> ProfileSettings:
    return ProfileSettings(
        display_name=profile.display_name,
        show_name=profile.show_name,
        handle=profile.handle or None,
        public=profile.public,
        credential_ids=list(profile.shown_credential_ids),
        profile_url=profile_url(base_url, profile.handle) if profile.public else None,
        updated_at=mapping.timestamp(profile.update_time, profile.HasField("update_time")),
    )


def _status(value: int) -> VerificationStatus:
    status = mapping.enum_name(credentials_pb2.VerificationStatus, value, "VERIFICATION_STATUS_")
    if status not in VerificationStatus.__args__:  # type: ignore[attr-defined]
        return "MALFORMED"  # fail closed: an answer we cannot read is never VALID
    return status  # type: ignore[return-value]


def _shown(item: credentials_pb2.ShownCredential, base_url: str) -> ShownCredential:
    credential = mapping.credential_to_json(item.credential)
    status = _status(item.status)
    return ShownCredential(
        id=credential.id,
        achievement_name=credential.achievement_name,
        issuer_name=item.issuer_name,
        program_id=credential.program_id,
        status=credential.status,
        issued_at=credential.issued_at,
        valid_until=mapping.timestamp(item.valid_until, item.HasField("valid_until")),
        revoked_at=credential.revoked_at,
        revocation_reason=credential.revocation_reason,
        skills=list(item.skills),
        url=f"{base_url}/credentials/{credential.id}",
        jwt=credential.jwt,
        verification=CredentialVerdict(
            verified=item.verified and status == "VALID",
            status=status,
            checks=[
                VerificationCheck(name=c.name, passed=c.passed, detail=c.detail)
                for c in item.checks
            ],
        ),
    )


def group_by_skill(credentials: list[ShownCredential]) -> list[SkillGroup]:
    """Skills in the order they first appear (the learner's order of credentials); a
    credential sits under each of its skills, one with none under "Other"."""
    groups: dict[str, list[str]] = {}
    for credential in credentials:
        for skill in credential.skills or [NO_SKILL]:
            groups.setdefault(skill, []).append(credential.id)
    if NO_SKILL in groups:
        groups[NO_SKILL] = groups.pop(NO_SKILL)  # last
    return [SkillGroup(skill=s, credential_ids=ids) for s, ids in groups.items()]


def public_to_json(profile: credentials_pb2.PublicProfile, base_url: str) -> PublicProfile:
    credentials = [_shown(c, base_url) for c in profile.credentials]
    url = profile_url(base_url, profile.handle)
    return PublicProfile(
        handle=profile.handle,
        name=profile.display_name or None,
        url=url,
        verification_url=f"{base_url}/api/v1/profiles/{profile.handle}/verification",
        verified_at=mapping.timestamp(profile.verify_time, profile.HasField("verify_time")),
        skills=group_by_skill(credentials),
        credentials=credentials,
    )


def verification_of(profile: PublicProfile) -> ProfileVerification:
    counts: dict[str, int] = {}
    for c in profile.credentials:
        counts[c.verification.status] = counts.get(c.verification.status, 0) + 1
    return ProfileVerification(
        handle=profile.handle,
        verified_at=profile.verified_at,
        all_valid=all(c.verification.verified for c in profile.credentials),
        counts=counts,
        credentials=[
            VerdictSummary(
                id=c.id,
                achievement_name=c.achievement_name,
                url=c.url,
                verified=c.verification.verified,
                status=c.verification.status,
            )
            for c in profile.credentials
        ],
    )
