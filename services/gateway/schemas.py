"""The JSON shapes of the public API (DESIGN.md, "Public HTTP API").

Request models are strict: unknown fields are refused and types are not coerced, so a
client bug is a 422 with field errors rather than a silent guess. Their limits mirror
the wire types and protovalidate rules in protos/ (an int32 field is bounded by int32,
an int64 one by int64, and each by its domain), so the OpenAPI document states them and
no number the services cannot carry gets past the edge; the services stay the authority
and re-check everything. Every text field follows services.common.text's rule.
"""

from __future__ import annotations

import re
import types
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from services.common.currency import INVALID_CURRENCY_MESSAGE, currency_codes, is_currency
from services.common.text import ALLOWED_TEXT_PATTERN, REFUSED_TEXT_MESSAGE, is_clean
from services.common.volume_tiers import MAX_PACK_SEATS, MAX_TIERS, MIN_TIER_SEATS

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

# The protobuf wire types' ranges: a value past them cannot even be put in a message.
INT32_MAX = 2**31 - 1
# int64's bound as the API states it: JSON Schema numbers go through doubles (FastAPI's
# OpenAPI model and most clients), and 2**63 - 1 would be published as 2**63, a value the
# server refuses. 2**63 - 1024 is the largest int64 a double holds exactly.
INT64_MAX = 2**63 - 1024


def _refuse_controls(value: str) -> str:
    if not is_clean(value):
        raise ValueError(REFUSED_TEXT_MESSAGE)
    return value


def _iso_currency(value: str) -> str:
    if not is_currency(value):
        raise ValueError(INVALID_CURRENCY_MESSAGE)
    return value


# RFC 3339's date-time, the format the document gives every instant the API takes. Checked
# before pydantic reads it: its lax datetime would also take a number as Unix seconds ("0.5"
# was 1970-01-01T00:00:00.5Z, accepted where the document promised a 422) or a bare date.
# The offset may be left out where a route says how it reads an instant without one.
_RFC3339_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})?"
)
INVALID_INSTANT_MESSAGE = "must be an RFC 3339 date-time, such as 2026-01-31T00:00:00Z"


def is_rfc3339_date_time(text: str) -> bool:
    return _RFC3339_DATE_TIME.fullmatch(text) is not None


def _rfc3339(value: object) -> object:
    if isinstance(value, str) and not is_rfc3339_date_time(value):
        raise ValueError(INVALID_INSTANT_MESSAGE)
    return value


Instant = Annotated[datetime, BeforeValidator(_rfc3339)]


# Text as every service accepts it (services.common.text); the pattern documents the rule.
Text = Annotated[
    str,
    AfterValidator(_refuse_controls),
    Field(json_schema_extra={"pattern": ALLOWED_TEXT_PATTERN}),
]
# Text the services refuse when it is blank once stripped (names, titles, a credential's
# words, skills): Text's rule and at least one character that is not whitespace, as the one
# pattern the document gives (whitespace that is no control, then a visible character, then
# any text: linear to match).
NON_BLANK_PATTERN = (
    r"^[^\S\x00-\x08\x0b\x0c\x0e-\x1f]*[^\s\x00-\x08\x0b\x0c\x0e-\x1f]"
    r"[^\x00-\x08\x0b\x0c\x0e-\x1f]*$"
)
# (min_length before the validator: pydantic then checks it as a string's length, with its
# "String should have at least 1 character", not a generic length after validation.)
NonBlank = Annotated[
    str,
    Field(min_length=1),
    AfterValidator(_refuse_controls),
    Field(json_schema_extra={"pattern": NON_BLANK_PATTERN}),
]
Skill = Annotated[NonBlank, Field(max_length=100)]
# A list the services refuse with a repeated item (protovalidate's repeated.unique: exact
# strings, so "SQL" and "sql" are two), which the document says with uniqueItems.
DISTINCT: dict[str, Any] = {"uniqueItems": True}
# Formats are shown where a service enforces them (protovalidate's email, uri and uuid
# rules); the gateway leaves the check to that one place and answers its INVALID_ARGUMENT
# as 422. An empty string matches no format, so it is refused here (send null or nothing
# for "none"), where the services would take it for "absent".
EmailText = Annotated[Text, Field(min_length=1, json_schema_extra={"format": "email"})]
UriText = Annotated[Text, Field(min_length=1, json_schema_extra={"format": "uri"})]
UuidText = Annotated[Text, Field(min_length=1, json_schema_extra={"format": "uuid"})]
CurrencyCode = Annotated[
    str,
    AfterValidator(_iso_currency),
    Field(
        description="ISO 4217 code of a currency with minor units",
        examples=["USD"],
        json_schema_extra={"enum": currency_codes()},
    ),
]


# JSON has one kind of number, and JSON Schema's "integer" is any number without a
# fraction: 3.0 is the integer 3. Exact in a double only up to 2**53 (RFC 7493's range for
# interoperable integers); past it a float may already be another number than the one sent,
# so it is refused as any other non-integer is, not rounded into a price.
EXACT_FLOAT_INT_MAX = 2**53


def integral(value: float) -> int | float:
    """`value` as the int it equals, when it is whole and exact; else unchanged."""
    if value.is_integer() and abs(value) <= EXACT_FLOAT_INT_MAX:
        return int(value)
    return value


def _int_field(annotation: Any) -> bool:
    """An int field, or an optional one (`int | None`)."""
    return annotation is int or (
        isinstance(annotation, types.UnionType) and set(get_args(annotation)) == {int, type(None)}
    )


class StrictModel(BaseModel):
    """A request body: unknown fields refused, types not coerced (a string is not a number,
    nor true one), except that an integer field takes an integral JSON number (3.0)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @classmethod
    @cache
    def _integer_keys(cls) -> frozenset[str]:
        return frozenset(
            field.alias or name
            for name, field in cls.model_fields.items()
            if _int_field(field.annotation)
        )

    @model_validator(mode="before")
    @classmethod
    def _integral_numbers(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        whole = {
            key: integral(value)
            for key in cls._integer_keys()
            if isinstance(value := data.get(key), float)
        }
        return data | whole if whole else data


# ---------------------------------------------------------------- shared


class MoneyIn(StrictModel):
    amount_minor: int = Field(
        ge=0, le=INT64_MAX, description="Amount in the currency's minor unit (cents)"
    )
    currency: CurrencyCode


class Money(BaseModel):
    amount_minor: int = Field(description="Amount in the currency's minor unit (cents)")
    currency: str = Field(description="ISO 4217 code", examples=["USD"])


class Page(BaseModel):
    next_page_token: str | None = Field(
        default=None, description="Pass as page_token for the next page; null on the last page"
    )


# ---------------------------------------------------------------- dev tokens


class DevTokenRequest(StrictModel):
    role: TokenRole
    sub: Text = Field(min_length=1, max_length=200, description="Subject: the learner id etc.")
    email: Text | None = Field(default=None, max_length=320)
    provider_id: Text | None = Field(default=None, max_length=64)

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
    name: NonBlank = Field(max_length=200, description="Not blank")
    website: UriText | None = Field(default=None, max_length=500)
    email: EmailText | None = Field(default=None, max_length=320)


class Provider(BaseModel):
    id: str
    name: str
    website: str | None
    email: str | None
    created_at: datetime | None


class ProviderList(BaseModel):
    providers: list[Provider]


_NO_POLICY: Any = None


class CredentialTemplateIn(StrictModel):
    name: NonBlank = Field(max_length=200, description="The badge's name; not blank")
    description: NonBlank = Field(max_length=4000, description="Not blank")
    criteria: NonBlank = Field(max_length=4000, description="What earns the badge; not blank")
    # Absent (None, never validated; typed Any so the schema shows no null): the catalog's
    # default policy (ON_COMPLETION), decided there, not here.
    issuance: Issuance = Field(
        default=_NO_POLICY,
        description="When the credential is issued; absent: the catalog's default",
    )
    valid_for_days: int | None = Field(
        default=None, ge=1, le=36500, description="null: the credential never expires"
    )

    @field_validator("issuance", mode="before")
    @classmethod
    def _issuance_not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null")
        return value


class VolumeTierIn(StrictModel):
    min_seats: int = Field(
        ge=MIN_TIER_SEATS, le=MAX_PACK_SEATS, description="Packs of at least this many seats"
    )
    unit_amount_minor: int = Field(
        ge=0,
        le=INT64_MAX,
        description="Price per seat in the program's currency; below the price and the tier before",
    )


class VolumeTier(BaseModel):
    """A stored tier: the catalog checked it (services/common/volume_tiers.py)."""

    min_seats: int = Field(
        ge=MIN_TIER_SEATS, le=MAX_PACK_SEATS, description="Packs of at least this many seats"
    )
    unit_amount_minor: int = Field(
        ge=0,
        le=INT64_MAX,
        description="Price per seat in the program's currency; below the price and the tier before",
    )


VOLUME_TIERS_DESCRIPTION = (
    "Seat pack prices by size, ascending in min_seats and descending in price, each below"
    " the program's price (in its currency); [] for none"
)


class ProgramCreate(StrictModel):
    title: NonBlank = Field(max_length=200, description="Not blank")
    summary: Text = Field(default="", max_length=500)
    description: Text = Field(default="", max_length=20000)
    skills: list[Skill] = Field(
        default_factory=list,
        max_length=50,
        description="Distinct, none blank",
        json_schema_extra=DISTINCT,
    )
    duration_hours: int = Field(default=1, ge=1, le=10000)
    price: MoneyIn
    capacity: int | None = Field(
        default=None, ge=1, le=INT32_MAX, description="Seats; null = unlimited"
    )
    credential: CredentialTemplateIn
    volume_tiers: list[VolumeTierIn] = Field(
        default_factory=list, max_length=MAX_TIERS, description=VOLUME_TIERS_DESCRIPTION
    )


# PATCH fields that may be absent but never null: the Python default None means
# "absent" (it is never validated, and the schema shows these fields as not nullable),
# and a null sent for one is refused by a `_not_null` validator, before its type check.
_NOT_NULL = "may not be null"
_ABSENT: Any = None  # typed Any: the field's type says what a present value is


def _refuse_null(value: Any) -> Any:
    if value is None:
        raise ValueError(_NOT_NULL)
    return value


class CredentialTemplatePatch(StrictModel):
    """Only the fields present change; valid_for_days may be null (never expires)."""

    name: NonBlank = Field(default=_ABSENT, max_length=200)
    description: NonBlank = Field(default=_ABSENT, max_length=4000)
    criteria: NonBlank = Field(default=_ABSENT, max_length=4000)
    issuance: Issuance = Field(default=_ABSENT)
    valid_for_days: int | None = Field(default=None, ge=1, le=36500)

    _not_null = field_validator("name", "description", "criteria", "issuance", mode="before")(
        _refuse_null
    )


class ProgramPatch(StrictModel):
    """A JSON merge-style patch: present fields change (they form the update mask), absent
    ones stay; capacity and credential.valid_for_days may be set to null."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})  # {} changes nothing

    title: NonBlank = Field(default=_ABSENT, max_length=200)
    summary: Text = Field(default=_ABSENT, max_length=500)
    description: Text = Field(default=_ABSENT, max_length=20000)
    skills: list[Skill] = Field(default=_ABSENT, max_length=50, json_schema_extra=DISTINCT)
    duration_hours: int = Field(default=_ABSENT, ge=1, le=10000)
    price: MoneyIn = Field(default=_ABSENT)
    capacity: int | None = Field(default=None, ge=1, le=INT32_MAX)
    credential: CredentialTemplatePatch = Field(default=_ABSENT)
    volume_tiers: list[VolumeTierIn] = Field(
        default=_ABSENT, max_length=MAX_TIERS, description=VOLUME_TIERS_DESCRIPTION
    )

    _not_null = field_validator(
        "title",
        "summary",
        "description",
        "skills",
        "duration_hours",
        "price",
        "credential",
        "volume_tiers",
        mode="before",
    )(_refuse_null)


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
    volume_tiers: list[VolumeTier] = Field(
        max_length=MAX_TIERS, description=VOLUME_TIERS_DESCRIPTION
    )
    status: ProgramStatus
    version: int = Field(description="Send as If-Match to PATCH; also the ETag")
    created_at: datetime | None
    updated_at: datetime | None


class ProgramList(Page):
    programs: list[Program]


# ---------------------------------------------------------------- enrollment


class EnrollmentCreate(StrictModel):
    program_id: UuidText = Field(min_length=1, max_length=64)


class RefundRequest(StrictModel):
    reason: Text | None = Field(
        default=None, max_length=500, description="Why, in the caller's words; kept with it"
    )
    amount_minor: int | None = Field(
        default=None,
        ge=1,
        le=99_999_999_999,
        description=(
            "Refund only this much, in the payment currency's minor unit (admin and provider"
            " only; needs an Idempotency-Key). Omitted: the whole payment, once."
        ),
    )


class EnrollmentComplete(StrictModel):
    grade: Text | None = Field(default=None, max_length=50)
    evidence_url: UriText | None = Field(default=None, max_length=2000)


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
    pathway_id: str | None = Field(
        default=None, description="Set on a pathway's credential (enrollment_id is then empty)"
    )
    component_credential_ids: list[str] = Field(
        default_factory=list,
        description="A pathway credential's components (GET by id only; empty in listings)",
    )


class CredentialList(Page):
    credentials: list[Credential]


class CredentialRevoke(StrictModel):
    reason: Text = Field(min_length=1, max_length=500)


class VerifyRequest(StrictModel):
    credential: Text = Field(min_length=1, max_length=65536, description="A compact VC-JWT")


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


class DependencyReport(BaseModel):
    status: Literal["ok", "degraded"] = Field(
        description="ok when every backend reports SERVING, else degraded"
    )
    dependencies: dict[str, str] = Field(
        description=(
            "Each backend service's grpc.health.v1 status (SERVING, NOT_SERVING while it"
            " cannot reach its PostgreSQL or NATS), or the gRPC code that prevented an answer"
            " (UNAVAILABLE, DEADLINE_EXCEEDED)"
        )
    )


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


class Dispute(BaseModel):
    id: str
    gateway_dispute_id: str = Field(description="The gateway's dispute id (dp_...)")
    payment_id: str
    enrollment_id: str
    provider_id: str
    amount: Money
    reason: str = Field(description="The gateway's reason, e.g. fraudulent")
    status: str = Field(description="The gateway's status: needs_response, won, lost, ...")
    created_at: datetime | None
    updated_at: datetime | None


class DisputeList(Page):
    disputes: list[Dispute]


# ---------------------------------------------------------------- earnings


class EarningsTotal(BaseModel):
    currency: str
    program_id: str | None = Field(description="null in the per-currency totals")
    gross_minor: int = Field(description="What learners paid (charges)")
    platform_fee_minor: int = Field(description="The platform's fees, net of fees returned")
    refunds_minor: int = Field(description="Money refunded (positive)")
    disputes_minor: int = Field(description="Money lost to disputes (positive)")
    net_minor: int = Field(
        description="The provider's earnings: gross - refunds - disputes - platform_fee"
    )
    available_minor: int = Field(description="Net of charges older than the refund window")
    pending_minor: int = Field(description="Net of charges that may still be refunded")
    charges: int


class Earnings(BaseModel):
    provider_id: str
    from_: datetime | None = Field(alias="from", serialization_alias="from")
    to: datetime | None
    totals: list[EarningsTotal] = Field(description="One per currency")
    programs: list[EarningsTotal] = Field(description="One per program and currency")

    model_config = ConfigDict(populate_by_name=True)


class PayoutAccountLink(BaseModel):
    account_id: str = Field(description="The provider's connected account (acct_...)")
    url: str = Field(description="Where the provider completes onboarding; short-lived")


# ---------------------------------------------------------------- provider staff

MemberRole = Literal["OWNER", "STAFF"]


class InvitationCreate(StrictModel):
    email: EmailText = Field(
        min_length=3,
        max_length=320,
        description="Whoever signs in with this address (verified by the identity provider)"
        " may accept",
    )
    role: MemberRole = Field(default="STAFF", description="Owners may also invite")


class MemberCreate(StrictModel):
    subject: Text = Field(
        min_length=1,
        max_length=200,
        description="The identity's `sub` at the issuer: for an API client, its client id",
    )
    role: MemberRole = "STAFF"


class Invitation(BaseModel):
    id: str = Field(json_schema_extra={"format": "uuid"})
    provider_id: str = Field(json_schema_extra={"format": "uuid"})
    email: str
    role: MemberRole
    invited_by: str
    created_at: datetime | None
    accepted_at: datetime | None = Field(description="null until accepted")
    accepted_by: str | None


class Member(BaseModel):
    provider_id: str = Field(json_schema_extra={"format": "uuid"})
    subject: str = Field(description="The member's identity (the token's sub)")
    email: str | None
    role: MemberRole
    created_at: datetime | None


class MemberList(BaseModel):
    members: list[Member]
    invitations: list[Invitation] = Field(description="Open (not yet accepted) invitations")
