"""The enrollment's messages, built in place (the snapshot parsed straight into the
message, the times set on it, the status by a table), are the messages built before: the
snapshot parsed into a message of its own and assigned, Timestamps assigned, the status
looked up by name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from upskill.enrollment.v1 import enrollment_pb2, events_pb2
from upskill.type.v1 import money_pb2

from services.common.protos import set_time, timestamp
from services.enrollment.domain import (
    Activated,
    Completed,
    Enrollment,
    PaymentRejected,
    Price,
    Status,
)
from services.enrollment.messages import enrollment_to_pb, event_to_pb, snapshot_of

SNAPSHOT = enrollment_pb2.ProgramSnapshot(
    program_id="8a3c2f0e-0000-4000-8000-000000000001",
    provider_id="8a3c2f0e-0000-4000-8000-000000000002",
    provider_name="Acme",
    title="Welding",
    price=money_pb2.Money(amount_minor=1999, currency="EUR"),
    skills=["welding", "safety"],
    program_version=3,
).SerializeToString()


def _old_enrollment_to_pb(e: Enrollment) -> enrollment_pb2.Enrollment:
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


def _enrollments() -> list[Enrollment]:
    cet = timezone(timedelta(hours=1))
    found = []
    for status in Status:
        for snapshot in (SNAPSHOT, b""):
            found.append(
                Enrollment(
                    id="0c1f0e2a-0000-4000-8000-00000000000a",
                    learner_id="learner-1",
                    learner_email="l@example.com",
                    program_id="8a3c2f0e-0000-4000-8000-000000000001",
                    provider_id="8a3c2f0e-0000-4000-8000-000000000002",
                    price=Price(1999, "EUR"),
                    status=status,
                    payment_id="pay-1" if status is not Status.PENDING_PAYMENT else "",
                    checkout_url="https://pay.example/c/1",
                    credential_id="cred-1" if status is Status.COMPLETED else "",
                    grade="A" if status is Status.COMPLETED else "",
                    snapshot=snapshot,
                    created_at=datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC),
                    updated_at=datetime(2026, 3, 2, 9, 30, 0, 5, tzinfo=cet),
                )
            )
    return found


@pytest.mark.parametrize("e", _enrollments(), ids=lambda e: f"{e.status}-{len(e.snapshot)}")
def test_enrollment_message_is_the_one_built_before(e: Enrollment) -> None:
    old = _old_enrollment_to_pb(e)
    new = enrollment_to_pb(e)
    assert new == old
    assert new.SerializeToString(deterministic=True) == old.SerializeToString(deterministic=True)
    assert new.HasField("program")
    assert new.HasField("create_time")
    # Into a response's field: the same message, in place.
    into = enrollment_pb2.Enrollment()
    assert enrollment_to_pb(e, into) is into
    assert into == old


@pytest.mark.parametrize("e", _enrollments(), ids=lambda e: f"{e.status}-{len(e.snapshot)}")
def test_events_carry_the_snapshot_as_before(e: Enrollment) -> None:
    old_activated = events_pb2.EnrollmentActivated(
        enrollment_id=e.id,
        learner_id=e.learner_id,
        learner_email=e.learner_email,
        program=snapshot_of(e),
        payment_id="pay-1",
        occur_time=timestamp(e.updated_at),
    )
    assert event_to_pb(e, Activated(e.id, payment_id="pay-1")) == old_activated
    old_completed = events_pb2.EnrollmentCompleted(
        enrollment_id=e.id,
        learner_id=e.learner_id,
        learner_email=e.learner_email,
        program=snapshot_of(e),
        payment_id=e.payment_id,
        grade=e.grade,
        evidence_url=e.evidence_url,
        occur_time=timestamp(e.updated_at),
    )
    assert event_to_pb(e, Completed(e.id)) == old_completed
    rejected = event_to_pb(e, PaymentRejected(e.id, "pay-2", "closed", e.status))
    assert isinstance(rejected, events_pb2.EnrollmentPaymentRejected)
    assert rejected.enrollment_status == enrollment_pb2.EnrollmentStatus.Value(
        f"ENROLLMENT_STATUS_{e.status.value}"
    )


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 11, 26, 19, 45, 1, 123456, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 30, 0, 999999, tzinfo=timezone(timedelta(hours=-11, minutes=-30))),
        datetime(1969, 12, 31, 23, 59, 59, 1, tzinfo=UTC),
        datetime(1, 1, 1, 12, 0, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 6, 1, 8, 0, 0, 5),  # naive: local time, as astimezone() reads it
    ],
)
def test_set_time_is_from_datetime(value: datetime) -> None:
    expected = Timestamp()
    expected.FromDatetime(value.astimezone(UTC))
    got = Timestamp()
    set_time(got, value)
    assert (got.seconds, got.nanos) == (expected.seconds, expected.nanos)
