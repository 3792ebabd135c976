"""The JSON shapes of the public API (DESIGN.md, "Public HTTP API").

Request models are strict: unknown fields are refused and types are not coerced, so a
client bug is a 422 with field errors rather than a silent guess. Their length and range
limits mirror the protovalidate rules in protos/ so the OpenAPI document states them; the
services stay the authority and re-check everything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ProgramStatus = Literal["DRAFT", "PUBLISHED", "ARCHIVED"]
Issuance = Literal["ON_COMPLETION", "ON_PAYMENT"]
EnrollmentStatus = Literal[
    "PENDING_PAYMENT", "ACTIVE", "COMPLETED", "EXPIRED", "CANCELLED", "REFUNDED"
]
CredentialStatus = Literal["ISSUED", "REVOKED"]
VerificationStatus = Literal[
    "VALID",
    "REVOKED",
    "EXPIRED",
    "NOT_YET_VALID",
    "INVALID_SIGNATURE",
    "UNKNOWN_KEY",
    "MALFORMED",
    "STATUS_UNAVAILABLE",
]
TokenRole = Literal["learner", "provider", "admin", "service"]
Skill = Annotated[str, Field(min_length=1, max_length=100)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# ---------------------------------------------------------------- shared


class Money(StrictModel):
    amount_minor: int = Field(ge=0, description="Amount in the currency's minor unit (cents)")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code", examples=["USD"])


class Page(BaseModel):
    next_page_token: str | None = Field(
        default=None, description="Pass as page_token for the next page; null on the last page"
    )


# ---------------------------------------------------------------- dev tokens


class DevTokenRequest(StrictModel):
    role: TokenRole
    sub: str = Field(min_length=1, max_length=200, description="Subject: the learner id etc.")
    email: str | None = Field(default=None, max_length=320)
    provider_id: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _provider_needs_provider_id(self) -> DevTokenRequest:
        if self.role == "provider" and not self.provider_id:
            raise ValueError("a provider token needs provider_id")
        return self


class DevToken(BaseModel):
    token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="Seconds until the token expires")


# ---------------------------------------------------------------- catalog


class ProviderCreate(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    website: str | None = Field(default=None, max_length=500)
    email: str | None = Field(default=None, max_length=320)


class Provider(BaseModel):
    id: str
    name: str
    website: str | None
    email: str | None
    created_at: datetime | None


class CredentialTemplateIn(StrictModel):
    name: str = Field(min_length=1, max_length=200, description="The badge's name")
    description: str = Field(min_length=1, max_length=4000)
    criteria: str = Field(min_length=1, max_length=4000, description="What earns the badge")
    issuance: Issuance = "ON_COMPLETION"
    valid_for_days: int | None = Field(
        default=None, ge=1, le=36500, description="null: the credential never expires"
    )


class ProgramCreate(StrictModel):
    title: str = Field(min_length=1, max_length=200)
    summary: str = Field(default="", max_length=500)
    description: str = Field(default="", max_length=20000)
    skills: list[Skill] = Field(default_factory=list, max_length=50)
    duration_hours: int = Field(default=0, ge=0, le=10000)
    price: Money
    capacity: int | None = Field(default=None, ge=1, description="Seats; null = unlimited")
    credential: CredentialTemplateIn


_NOT_NULL = "may not be null"


class CredentialTemplatePatch(StrictModel):
    """Only the fields present change; valid_for_days may be null (never expires)."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, min_length=1, max_length=4000)
    criteria: str | None = Field(default=None, min_length=1, max_length=4000)
    issuance: Issuance | None = None
    valid_for_days: int | None = Field(default=None, ge=1, le=36500)

    @field_validator("name", "description", "criteria", "issuance")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError(_NOT_NULL)
        return value


class ProgramPatch(StrictModel):
    """A JSON merge-style patch: present fields change (they form the update mask), absent
    ones stay; capacity and credential.valid_for_days may be set to null."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    summary: str | None = Field(default=None, max_length=500)
    description: str | None = Field(default=None, max_length=20000)
    skills: list[Skill] | None = Field(default=None, max_length=50)
    duration_hours: int | None = Field(default=None, ge=0, le=10000)
    price: Money | None = None
    capacity: int | None = Field(default=None, ge=1)
    credential: CredentialTemplatePatch | None = None

    @field_validator(
        "title", "summary", "description", "skills", "duration_hours", "price", "credential"
    )
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError(_NOT_NULL)
        return value


class CredentialTemplate(BaseModel):
    name: str
    description: str
    criteria: str
    issuance: Issuance
    valid_for_days: int | None


class Program(BaseModel):
    id: str
    provider_id: str
    provider_name: str
    title: str
    summary: str
    description: str
    skills: list[str]
    duration_hours: int
    price: Money
    capacity: int | None = Field(description="Seats on sale; null = unlimited")
    credential: CredentialTemplate
    status: ProgramStatus
    version: int = Field(description="Send as If-Match to PATCH; also the ETag")
    created_at: datetime | None
    updated_at: datetime | None


class ProgramList(Page):
    programs: list[Program]


# ---------------------------------------------------------------- enrollment


class EnrollmentCreate(StrictModel):
    program_id: str = Field(min_length=1, max_length=64)


class EnrollmentComplete(StrictModel):
    grade: str | None = Field(default=None, max_length=50)
    evidence_url: str | None = Field(default=None, max_length=2000)


class Enrollment(BaseModel):
    id: str
    program_id: str
    provider_id: str
    program_title: str
    learner_id: str
    status: EnrollmentStatus
    price: Money | None = Field(description="The price snapshotted at enrollment")
    payment_id: str | None
    checkout_url: str | None = Field(description="Where the learner pays, while pending")
    credential_id: str | None
    grade: str | None
    evidence_url: str | None
    created_at: datetime | None
    updated_at: datetime | None


class EnrollmentList(Page):
    enrollments: list[Enrollment]


# ---------------------------------------------------------------- credentials


class Credential(BaseModel):
    id: str
    enrollment_id: str
    program_id: str
    provider_id: str
    learner_id: str
    achievement_name: str
    status: CredentialStatus
    jwt: str = Field(description="The signed OpenBadgeCredential as a compact JWS (VC-JWT)")
    issued_at: datetime | None
    revoked_at: datetime | None
    revocation_reason: str | None


class CredentialList(Page):
    credentials: list[Credential]


class CredentialRevoke(StrictModel):
    reason: str = Field(min_length=1, max_length=500)


class VerifyRequest(StrictModel):
    credential: str = Field(min_length=1, max_length=65536, description="A compact VC-JWT")


class VerificationCheck(BaseModel):
    name: str
    passed: bool
    detail: str


class VerifyResult(BaseModel):
    verified: bool
    status: VerificationStatus
    checks: list[VerificationCheck]
    credential: dict[str, Any] | None = Field(
        description="The decoded credential, once its signature verified"
    )


# ---------------------------------------------------------------- webhooks and health


class WebhookAck(BaseModel):
    received: Literal[True] = True


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready"] = "ready"
    services: dict[str, str] = Field(description="grpc.health.v1 status of each service")


# ---------------------------------------------------------------- refunds

RefundStatus = Literal["PENDING", "SUCCEEDED", "FAILED"]


class Refund(BaseModel):
    id: str
    payment_id: str
    enrollment_id: str
    learner_id: str
    provider_id: str
    amount: Money
    reason: str = Field(description="Why the money went back, e.g. enrollment_cancelled")
    status: RefundStatus
    gateway: str
    gateway_refund_id: str | None = Field(description="The gateway's refund id (re_...)")
    full_refund: bool
    last_error: str | None
    created_at: datetime | None
    completed_at: datetime | None


class RefundList(Page):
    refunds: list[Refund]
