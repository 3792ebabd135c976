"""What the enrollment service does when payments and credentials report back."""

from __future__ import annotations

import uuid

import asyncpg
from google.protobuf.message import Message
from upskill.credentials.v1 import events_pb2 as credential_events
from upskill.payments.v1 import events_pb2 as payment_events

from services.common.consumer import (
    FIRST_DELIVERY,
    ContractViolationError,
    Effect,
    OneStatement,
    Subscription,
)
from services.common.errors import NotFoundError
from services.common.events import Envelope
from services.common.protos import to_datetime
from services.enrollment import repository, unit_of_work
from services.enrollment.domain import Enrollment, Price


class UnknownEnrollmentError(ContractViolationError):
    """No enrollment has the event's id. Raised by the handlers' first statement, the
    locked read, so nothing has been written when it is: services/enrollment/
    seat_pack_events.py relies on that to try a seat pack of that id next."""


async def _locked(conn: asyncpg.Connection, enrollment_id: str) -> Enrollment:
    try:
        return await repository.get(conn, enrollment_id, for_update=True)
    except NotFoundError:
        # Enrollments commit before their checkout exists, so this event names an
        # enrollment that never was: retrying cannot help.
        raise UnknownEnrollmentError(f"unknown enrollment {enrollment_id!r}") from None


# Each payment handler starts with the locked read (_locked): see UnknownEnrollmentError.


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


async def on_payment_refunded(conn: asyncpg.Connection, event: Message, _: Envelope) -> None:
    assert isinstance(event, payment_events.PaymentRefunded)
    enrollment = await _locked(conn, event.enrollment_id)
    # A full refund of its own payment makes it REFUNDED (EnrollmentRefunded then revokes
    # the credential); a partial one, or the return of a payment it rejected, changes nothing.
    enrollment.payment_refunded(
        event.payment_id,
        refund_id=event.refund_id,
        reason=event.reason,
        full_refund=event.full_refund,
    )
    await unit_of_work.commit(conn, enrollment)


def _credential_attached(event: Message, _: Envelope) -> Effect:
    assert isinstance(event, credential_events.CredentialIssued)
    # One UPDATE (it locks the row as the locked read did); attaching raises no event, so
    # the UPDATE is the whole effect: it runs with the inbox row as one statement.
    return Effect(
        repository.attach_credential(event.enrollment_id, event.credential_id, when=FIRST_DELIVERY),
        missing=UnknownEnrollmentError(f"unknown enrollment {event.enrollment_id!r}"),
    )


on_credential_issued = OneStatement(_credential_attached)


def _uuid(value: str, what: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ContractViolationError(f"{what} {value!r} is not a uuid") from None


async def on_credential_revoked(conn: asyncpg.Connection, event: Message, _: Envelope) -> None:
    """Record the revocation by credential id, whether or not its CredentialIssued came yet
    (a revocation delivered first still wins once the credential is attached); a copy, or a
    second revocation of the same credential, keeps the first. What it changes for
    employers is decided in employers.seen_by."""
    assert isinstance(event, credential_events.CredentialRevoked)
    credential_id = _uuid(event.credential_id, "credential id")
    enrollment_id = _uuid(event.enrollment_id, "enrollment id") if event.enrollment_id else None
    await conn.execute(
        """INSERT INTO revoked_credentials
               (credential_id, enrollment_id, pathway_id, reason, revoked_at)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (credential_id) DO NOTHING""",
        credential_id,
        enrollment_id,
        event.pathway_id.replace("\x00", ""),
        event.reason.replace("\x00", ""),
        to_datetime(event.occur_time) if event.HasField("occur_time") else None,
    )


SUBSCRIPTIONS = [
    Subscription(payment_events.PaymentSucceeded, on_payment_succeeded),
    Subscription(payment_events.PaymentFailed, on_payment_failed),
    Subscription(payment_events.PaymentRefunded, on_payment_refunded),
    Subscription(credential_events.CredentialIssued, on_credential_issued),
    Subscription(credential_events.CredentialRevoked, on_credential_revoked),
]
