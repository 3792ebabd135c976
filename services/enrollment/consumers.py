"""What the enrollment service does when payments and credentials report back."""

from __future__ import annotations

import asyncpg
from google.protobuf.message import Message
from upskill.credentials.v1 import events_pb2 as credential_events
from upskill.payments.v1 import events_pb2 as payment_events

from services.common.consumer import ContractViolationError, Subscription
from services.common.errors import NotFoundError
from services.common.events import Envelope
from services.enrollment import repository, unit_of_work
from services.enrollment.domain import Enrollment, Price


async def _locked(conn: asyncpg.Connection, enrollment_id: str) -> Enrollment:
    try:
        return await repository.get(conn, enrollment_id, for_update=True)
    except NotFoundError:
        # Enrollments commit before their checkout exists, so this event names an
        # enrollment that never was: retrying cannot help.
        raise ContractViolationError(f"unknown enrollment {enrollment_id!r}") from None


async def on_payment_succeeded(conn: asyncpg.Connection, event: Message, _: Envelope) -> None:
    assert isinstance(event, payment_events.PaymentSucceeded)
    enrollment = await _locked(conn, event.enrollment_id)
    # Activates, or (a closed enrollment, another payment, another price) stages
    # EnrollmentPaymentRejected so payments returns the money: see seats.decide_payment.
    enrollment.payment_succeeded(
        event.payment_id, Price(event.amount.amount_minor, event.amount.currency)
    )
    await unit_of_work.commit(conn, enrollment)


async def on_payment_failed(conn: asyncpg.Connection, event: Message, _: Envelope) -> None:
    assert isinstance(event, payment_events.PaymentFailed)
    enrollment = await _locked(conn, event.enrollment_id)
    enrollment.payment_failed(event.reason or "payment failed")
    await unit_of_work.commit(conn, enrollment)


async def on_credential_issued(conn: asyncpg.Connection, event: Message, _: Envelope) -> None:
    assert isinstance(event, credential_events.CredentialIssued)
    enrollment = await _locked(conn, event.enrollment_id)
    enrollment.attach_credential(event.credential_id)
    await unit_of_work.commit(conn, enrollment)


SUBSCRIPTIONS = [
    Subscription(payment_events.PaymentSucceeded, on_payment_succeeded),
    Subscription(payment_events.PaymentFailed, on_payment_failed),
    Subscription(credential_events.CredentialIssued, on_credential_issued),
]
