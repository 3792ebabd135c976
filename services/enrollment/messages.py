"""Enrollment domain objects and events -> protobuf messages."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.message import Message
from upskill.enrollment.v1 import enrollment_pb2, events_pb2

from services.common.protos import timestamp
from services.enrollment.domain import (
    Activated,
    Cancelled,
    Completed,
    DomainEvent,
    Enrollment,
    Expired,
    PaymentRejected,
)


def snapshot_of(e: Enrollment) -> enrollment_pb2.ProgramSnapshot:
    snapshot = enrollment_pb2.ProgramSnapshot()
    snapshot.ParseFromString(e.snapshot)
    return snapshot


def enrollment_to_pb(e: Enrollment) -> enrollment_pb2.Enrollment:
    return enrollment_pb2.Enrollment(
        id=e.id,
        learner_id=e.learner_id,
        learner_email=e.learner_email,
        program=snapshot_of(e),
        status=enrollment_pb2.EnrollmentStatus.Value(f"ENROLLMENT_STATUS_{e.status.value}"),
        payment_id=e.payment_id,
        checkout_url=e.checkout_url,
        credential_id=e.credential_id,
        grade=e.grade,
        evidence_url=e.evidence_url,
        create_time=timestamp(e.created_at),
        update_time=timestamp(e.updated_at),
    )


def event_to_pb(e: Enrollment, event: DomainEvent) -> Message:
    """The integration event for a domain event; each carries what its consumers need."""
    now = timestamp(e.updated_at)
    match event:
        case Activated(payment_id=payment_id):
            return events_pb2.EnrollmentActivated(
                enrollment_id=e.id,
                learner_id=e.learner_id,
                learner_email=e.learner_email,
                program=snapshot_of(e),
                payment_id=payment_id,
                occur_time=now,
            )
        case Completed():
            return events_pb2.EnrollmentCompleted(
                enrollment_id=e.id,
                learner_id=e.learner_id,
                learner_email=e.learner_email,
                program=snapshot_of(e),
                payment_id=e.payment_id,
                grade=e.grade,
                evidence_url=e.evidence_url,
                occur_time=now,
            )
        case Expired(reason=reason):
            return events_pb2.EnrollmentExpired(
                enrollment_id=e.id, program_id=e.program_id, reason=reason, occur_time=now
            )
        case Cancelled():
            return events_pb2.EnrollmentCancelled(
                enrollment_id=e.id, program_id=e.program_id, payment_id=e.payment_id, occur_time=now
            )
        case PaymentRejected(payment_id=payment_id, reason=reason, status=status):
            return events_pb2.EnrollmentPaymentRejected(
                enrollment_id=e.id,
                payment_id=payment_id,
                learner_id=e.learner_id,
                program_id=e.program_id,
                reason=reason,
                enrollment_status=enrollment_pb2.EnrollmentStatus.Value(
                    f"ENROLLMENT_STATUS_{status.value}"
                ),
                occur_time=timestamp(datetime.now(UTC)),
            )
    raise TypeError(f"unknown domain event {event!r}")
