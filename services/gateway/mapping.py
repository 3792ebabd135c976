"""Explicit, field-by-field translation between protobuf messages and the JSON API.

No generic MessageToDict: the JSON names, enums (without their proto prefix), money,
nulls for "unset" and timestamps are part of the public contract.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.protobuf import json_format, timestamp_pb2
from upskill.catalog.v1 import catalog_pb2, catalog_service_pb2
from upskill.credentials.v1 import credentials_pb2, credentials_service_pb2
from upskill.enrollment.v1 import enrollment_pb2
from upskill.payments.v1 import payments_pb2
from upskill.type.v1 import money_pb2

from services.gateway import schemas

# Proto field paths -> the JSON paths clients send, for BadRequest field violations.
PROGRAM_SPEC_FIELDS = {"spec": "", "patch": ""}
LIST_PROGRAMS_FIELDS = {"query": "q", "max_price_minor": "max_price"}
CREATE_ENROLLMENT_FIELDS = {"idempotency_key": "Idempotency-Key"}


def enum_name(enum_type: Any, value: int, prefix: str) -> str:
    """PROGRAM_STATUS_DRAFT -> DRAFT."""
    try:
        name: str = enum_type.Name(value)
    except ValueError:
        return "UNSPECIFIED"
    return name.removeprefix(prefix)


def timestamp(ts: timestamp_pb2.Timestamp, present: bool = True) -> datetime | None:
    if not present or (ts.seconds == 0 and ts.nanos == 0):
        return None
    return ts.ToDatetime(tzinfo=UTC)


def or_none(value: str) -> str | None:
    return value or None


# ---------------------------------------------------------------- money


def money_to_json(money: money_pb2.Money) -> schemas.Money:
    return schemas.Money(amount_minor=money.amount_minor, currency=money.currency)


def money_to_proto(money: schemas.MoneyIn) -> money_pb2.Money:
    return money_pb2.Money(amount_minor=money.amount_minor, currency=money.currency)


# ---------------------------------------------------------------- catalog


def provider_to_json(provider: catalog_pb2.Provider) -> schemas.Provider:
    return schemas.Provider(
        id=provider.id,
        name=provider.name,
        website=or_none(provider.website),
        email=or_none(provider.email),
        created_at=timestamp(provider.create_time, provider.HasField("create_time")),
    )


_ISSUANCE_PREFIX = "ISSUANCE_POLICY_"


def issuance_to_proto(issuance: str) -> int:
    return int(catalog_pb2.IssuancePolicy.Value(_ISSUANCE_PREFIX + issuance))


def template_to_json(template: catalog_pb2.CredentialTemplate) -> schemas.CredentialTemplate:
    issuance = enum_name(catalog_pb2.IssuancePolicy, template.issuance, _ISSUANCE_PREFIX)
    return schemas.CredentialTemplate(
        name=template.name,
        description=template.description,
        criteria=template.criteria,
        # The catalog names the policy of every program (its default when none was asked).
        issuance=issuance,  # type: ignore[arg-type]
        valid_for_days=(template.valid_for_days if template.HasField("valid_for_days") else None),
    )


def template_to_proto(template: schemas.CredentialTemplateIn) -> catalog_pb2.CredentialTemplate:
    message = catalog_pb2.CredentialTemplate(
        name=template.name, description=template.description, criteria=template.criteria
    )
    if template.issuance is not None:  # absent: unspecified, and the catalog's default applies
        message.issuance = issuance_to_proto(template.issuance)  # type: ignore[assignment]
    if template.valid_for_days is not None:
        message.valid_for_days = template.valid_for_days
    return message


def program_to_json(program: catalog_pb2.Program) -> schemas.Program:
    spec = program.spec
    return schemas.Program(
        id=program.id,
        provider_id=program.provider_id,
        provider_name=program.provider_name,
        title=spec.title,
        summary=spec.summary,
        description=spec.description,
        skills=list(spec.skills),
        duration_hours=spec.duration_hours,
        price=money_to_json(spec.price),
        capacity=spec.capacity if spec.HasField("capacity") else None,
        credential=template_to_json(spec.credential),
        volume_tiers=[
            schemas.VolumeTier(min_seats=t.min_seats, unit_amount_minor=t.unit_amount_minor)
            for t in spec.volume_tiers
        ],
        status=enum_name(catalog_pb2.ProgramStatus, program.status, "PROGRAM_STATUS_"),  # type: ignore[arg-type]
        version=program.version,
        created_at=timestamp(program.create_time, program.HasField("create_time")),
        updated_at=timestamp(program.update_time, program.HasField("update_time")),
    )


def program_spec_to_proto(body: schemas.ProgramCreate) -> catalog_pb2.ProgramSpec:
    spec = catalog_pb2.ProgramSpec(
        title=body.title,
        summary=body.summary,
        description=body.description,
        skills=body.skills,
        duration_hours=body.duration_hours,
        price=money_to_proto(body.price),
        credential=template_to_proto(body.credential),
        volume_tiers=volume_tiers_to_proto(body.volume_tiers),
    )
    if body.capacity is not None:
        spec.capacity = body.capacity
    return spec


def volume_tiers_to_proto(tiers: list[schemas.VolumeTierIn]) -> list[catalog_pb2.VolumeTier]:
    return [
        catalog_pb2.VolumeTier(min_seats=t.min_seats, unit_amount_minor=t.unit_amount_minor)
        for t in tiers
    ]


def program_patch_to_proto(
    patch: schemas.ProgramPatch,
) -> tuple[catalog_service_pb2.ProgramPatch, list[str]]:
    """The fields present in the body, as a ProgramPatch, and the update_mask naming them.
    The catalog merges them into the program (a null capacity or valid_for_days is named
    in the mask and left unset: cleared)."""
    message = catalog_service_pb2.ProgramPatch()
    paths: list[str] = []
    for name in sorted(patch.model_fields_set):
        value = getattr(patch, name)
        if name == "credential":
            paths.extend(_template_patch_to_proto(message.credential, value))
            continue
        paths.append(name)
        if name == "price":
            message.price.CopyFrom(money_to_proto(value))
        elif name == "skills":
            message.skills.extend(value)
        elif name == "volume_tiers":
            message.volume_tiers.extend(volume_tiers_to_proto(value))
        elif value is not None:
            setattr(message, name, value)
    return message, paths


def _template_patch_to_proto(
    template: catalog_service_pb2.CredentialTemplatePatch,
    patch: schemas.CredentialTemplatePatch,
) -> list[str]:
    paths = []
    for name in sorted(patch.model_fields_set):
        value = getattr(patch, name)
        paths.append(f"credential.{name}")
        if name == "issuance":
            template.issuance = issuance_to_proto(value)  # type: ignore[assignment]
        elif value is not None:
            setattr(template, name, value)
    return paths


# ---------------------------------------------------------------- enrollment


def enrollment_to_json(enrollment: enrollment_pb2.Enrollment) -> schemas.Enrollment:
    snapshot = enrollment.program
    return schemas.Enrollment(
        id=enrollment.id,
        program_id=snapshot.program_id,
        provider_id=snapshot.provider_id,
        program_title=snapshot.title,
        learner_id=enrollment.learner_id,
        status=enum_name(  # type: ignore[arg-type]
            enrollment_pb2.EnrollmentStatus, enrollment.status, "ENROLLMENT_STATUS_"
        ),
        price=money_to_json(snapshot.price) if snapshot.HasField("price") else None,
        payment_id=or_none(enrollment.payment_id),
        checkout_url=or_none(enrollment.checkout_url),
        credential_id=or_none(enrollment.credential_id),
        grade=or_none(enrollment.grade),
        evidence_url=or_none(enrollment.evidence_url),
        created_at=timestamp(enrollment.create_time, enrollment.HasField("create_time")),
        updated_at=timestamp(enrollment.update_time, enrollment.HasField("update_time")),
    )


# ---------------------------------------------------------------- credentials


def credential_to_json(credential: credentials_pb2.Credential) -> schemas.Credential:
    return schemas.Credential(
        id=credential.id,
        enrollment_id=credential.enrollment_id,
        program_id=credential.program_id,
        provider_id=credential.provider_id,
        learner_id=credential.learner_id,
        achievement_name=credential.achievement_name,
        status=enum_name(  # type: ignore[arg-type]
            credentials_pb2.CredentialStatus, credential.status, "CREDENTIAL_STATUS_"
        ),
        jwt=credential.jwt,
        issued_at=timestamp(credential.issue_time, credential.HasField("issue_time")),
        revoked_at=timestamp(credential.revoke_time, credential.HasField("revoke_time")),
        revocation_reason=or_none(credential.revocation_reason),
        pathway_id=or_none(credential.pathway_id),
        component_credential_ids=list(credential.component_credential_ids),
    )


def verification_to_json(
    response: credentials_service_pb2.VerifyCredentialResponse,
) -> schemas.VerifyResult:
    status = enum_name(credentials_pb2.VerificationStatus, response.status, "VERIFICATION_STATUS_")
    if status not in schemas.VerificationStatus.__args__:  # type: ignore[attr-defined]
        # Fail closed: an answer we cannot read is never reported as valid.
        status = "MALFORMED"
    return schemas.VerifyResult(
        verified=response.verified and status == "VALID",
        status=status,  # type: ignore[arg-type]
        checks=[
            schemas.VerificationCheck(name=c.name, passed=c.passed, detail=c.detail)
            for c in response.checks
        ],
        credential=(
            json_format.MessageToDict(response.credential)
            if response.HasField("credential")
            else None
        ),
    )


# ---------------------------------------------------------------- refunds


def refund_to_json(refund: payments_pb2.Refund) -> schemas.Refund:
    return schemas.Refund(
        id=refund.id,
        payment_id=refund.payment_id,
        enrollment_id=refund.enrollment_id,
        learner_id=refund.learner_id,
        provider_id=refund.provider_id,
        amount=money_to_json(refund.amount),
        reason=refund.reason,
        status=enum_name(  # type: ignore[arg-type]
            payments_pb2.RefundStatus, refund.status, "REFUND_STATUS_"
        ),
        gateway=refund.gateway,
        gateway_refund_id=or_none(refund.gateway_refund_id),
        full_refund=refund.full_refund,
        last_error=or_none(refund.last_error),
        created_at=timestamp(refund.create_time, refund.HasField("create_time")),
        completed_at=timestamp(refund.complete_time, refund.HasField("complete_time")),
    )


def dispute_to_json(dispute: payments_pb2.Dispute) -> schemas.Dispute:
    return schemas.Dispute(
        id=dispute.id,
        gateway_dispute_id=dispute.gateway_dispute_id,
        payment_id=dispute.payment_id,
        enrollment_id=dispute.enrollment_id,
        provider_id=dispute.provider_id,
        amount=money_to_json(dispute.amount),
        reason=dispute.reason,
        status=dispute.status,
        created_at=timestamp(dispute.create_time, dispute.HasField("create_time")),
        updated_at=timestamp(dispute.update_time, dispute.HasField("update_time")),
    )


def earnings_to_json(total: payments_pb2.EarningsTotal) -> schemas.EarningsTotal:
    return schemas.EarningsTotal(
        currency=total.currency,
        program_id=or_none(total.program_id),
        gross_minor=total.gross_minor,
        platform_fee_minor=total.platform_fee_minor,
        refunds_minor=total.refunds_minor,
        disputes_minor=total.disputes_minor,
        net_minor=total.net_minor,
        available_minor=total.available_minor,
        pending_minor=total.pending_minor,
        charges=total.charges,
    )


# ---------------------------------------------------------------- provider staff

_MEMBER_ROLE_PREFIX = "MEMBER_ROLE_"


def member_role_to_proto(role: str) -> int:
    return int(catalog_pb2.MemberRole.Value(_MEMBER_ROLE_PREFIX + role))


def _member_role(value: int) -> Any:
    return catalog_pb2.MemberRole.Name(value).removeprefix(_MEMBER_ROLE_PREFIX)


def member_to_json(member: catalog_pb2.Member) -> schemas.Member:
    return schemas.Member(
        provider_id=member.provider_id,
        subject=member.subject,
        email=or_none(member.email),
        role=_member_role(member.role),
        created_at=timestamp(member.create_time, member.HasField("create_time")),
    )


def invitation_to_json(invitation: catalog_pb2.Invitation) -> schemas.Invitation:
    return schemas.Invitation(
        id=invitation.id,
        provider_id=invitation.provider_id,
        email=invitation.email,
        role=_member_role(invitation.role),
        invited_by=invitation.invited_by,
        created_at=timestamp(invitation.create_time, invitation.HasField("create_time")),
        accepted_at=timestamp(invitation.accept_time, invitation.HasField("accept_time")),
        accepted_by=or_none(invitation.accepted_by),
    )
