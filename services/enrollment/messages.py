"""Enrollment domain objects and events -> protobuf messages."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.message import Message
from upskill.enrollment.v1 import enrollment_pb2, events_pb2

from services.common.protos import set_time, timestamp
from services.enrollment.domain import (
    Activated,
    Cancelled,
    Completed,
    DomainEvent,
    Enrollment,
    Expired,
    PaymentRejected,
    Refunded,
    Status,
)

# Each state's enum number, looked up once (not by name on every message).
_STATUS: dict[Status, enrollment_pb2.EnrollmentStatus] = {
    s: enrollment_pb2.EnrollmentStatus.Value(f"ENROLLMENT_STATUS_{s.value}") for s in Status
}


def snapshot_of(e: Enrollment) -> enrollment_pb2.ProgramSnapshot:
    snapshot = enrollment_pb2.ProgramSnapshot()
    snapshot.ParseFromString(e.snapshot)
    return snapshot


def _parse_snapshot_into(program: enrollment_pb2.ProgramSnapshot, e: Enrollment) -> None:
    """`e`'s snapshot parsed into a message's (empty) `program` field, which is present
    even when the snapshot is empty, as when a parsed snapshot was assigned to it."""
    program.SetInParent()
    program.MergeFromString(e.snapshot)


def enrollment_to_pb(
    e: Enrollment, message: enrollment_pb2.Enrollment | None = None
) -> enrollment_pb2.Enrollment:
    """The enrollment as a message; filled into `message` (a response's field, empty) when
    given, so that nothing is built twice and copied. The snapshot is parsed straight into
    the message's `program` and the times set in place: a poll's conversion had the
    snapshot parsed into a message of its own, then copied, and two Timestamps likewise."""
    if message is None:
        message = enrollment_pb2.Enrollment()
    message.id = e.id
    message.learner_id = e.learner_id
    message.learner_email = e.learner_email
    _parse_snapshot_into(message.program, e)
    message.status = _STATUS[e.status]
    message.payment_id = e.payment_id
    message.checkout_url = e.checkout_url
    message.credential_id = e.credential_id
    message.grade = e.grade
    message.evidence_url = e.evidence_url
    if e.created_at is not None:
        set_time(message.create_time, e.created_at)
    if e.updated_at is not None:
        set_time(message.update_time, e.updated_at)
    return message


def event_to_pb(e: Enrollment, event: DomainEvent) -> Message:
    """The integration event for a domain event; each carries what its consumers need."""
    now = timestamp(e.updated_at)
    match event:
        case Activated(payment_id=payment_id):
            activated = events_pb2.EnrollmentActivated(
                enrollment_id=e.id,
                learner_id=e.learner_id,
                learner_email=e.learner_email,
                payment_id=payment_id,
                occur_time=now,
            )
            _parse_snapshot_into(activated.program, e)
            return activated
        case Completed():
            completed = events_pb2.EnrollmentCompleted(
                enrollment_id=e.id,
                learner_id=e.learner_id,
                learner_email=e.learner_email,
                payment_id=e.payment_id,
                grade=e.grade,
                evidence_url=e.evidence_url,
                occur_time=now,
            )
            _parse_snapshot_into(completed.program, e)
            return completed
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
                enrollment_status=_STATUS[status],
                occur_time=timestamp(datetime.now(UTC)),
            )
        case Refunded(payment_id=payment_id, refund_id=refund_id, reason=reason):
            return events_pb2.EnrollmentRefunded(
                enrollment_id=e.id,
                learner_id=e.learner_id,
                program_id=e.program_id,
                payment_id=payment_id,
                refund_id=refund_id,
                reason=reason,
                occur_time=now,
            )
    raise TypeError(f"unknown domain event {event!r}")
