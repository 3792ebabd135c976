"""Issue a credential when an enrollment meets its program's issuance policy; revoke it
(reason `refunded`) when the enrollment's payment comes back."""

from __future__ import annotations

import uuid

import asyncpg
from google.protobuf.message import Message
from upskill.enrollment.v1 import events_pb2 as enrollment_events

from services.common.consumer import ContractViolationError, Subscription
from services.common.events import Envelope
from services.credentials.domain import REVOCATION_REFUNDED
from services.credentials.issuer import Issuer, earns_credential_on


def subscriptions(issuer: Issuer) -> list[Subscription]:
    async def issue_if_earned(conn: asyncpg.Connection, event: Message, _: Envelope) -> None:
        assert isinstance(
            event, enrollment_events.EnrollmentActivated | enrollment_events.EnrollmentCompleted
        )
        if not event.enrollment_id or not event.program.program_id or not event.learner_id:
            raise ContractViolationError("enrollment event lacks enrollment, program or learner id")
        moment = (
            "activated" if isinstance(event, enrollment_events.EnrollmentActivated) else "completed"
        )
        if earns_credential_on(event.program, moment):
            await issuer.issue(
                conn,
                enrollment_id=event.enrollment_id,
                learner_id=event.learner_id,
                learner_email=event.learner_email,
                snapshot=event.program,
            )

    async def revoke_refunded(conn: asyncpg.Connection, event: Message, _: Envelope) -> None:
        assert isinstance(event, enrollment_events.EnrollmentRefunded)
        try:
            uuid.UUID(event.enrollment_id)
        except ValueError:
            raise ContractViolationError(
                f"EnrollmentRefunded names no enrollment: {event.enrollment_id!r}"
            ) from None
        await issuer.withdraw(conn, event.enrollment_id, REVOCATION_REFUNDED)

    return [
        Subscription(enrollment_events.EnrollmentActivated, issue_if_earned),
        Subscription(enrollment_events.EnrollmentCompleted, issue_if_earned),
        Subscription(enrollment_events.EnrollmentRefunded, revoke_refunded),
    ]
