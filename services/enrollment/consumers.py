"""What the enrollment service does when payments and credentials report back."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable

import asyncpg
from google.protobuf.message import Message
from upskill.credentials.v1 import events_pb2 as credential_events
from upskill.payments.v1 import events_pb2 as payment_events

from services.common.consumer import (
    FIRST_DELIVERY,
    AtOnce,
    ContractViolationError,
    Effect,
    Inbox,
    OneStatement,
    Subscription,
)
from services.common.errors import NotFoundError
from services.common.events import Envelope
from services.common.protos import to_datetime
from services.enrollment import repository, unit_of_work
from services.enrollment.domain import Enrollment, Price


class UnknownEnrollmentError(ContractViolationError):
    """No enrollment has the event's id. Raised by the locked path's first statement, the
    locked read, so nothing has been written when it is: services/enrollment/
    seat_pack_events.py relies on that to try a seat pack of that id next. (The attempt
    without a lock writes nothing for an id it finds no enrollment of: _decided_at_once.)"""


async def _locked(conn: asyncpg.Connection, enrollment_id: str) -> Enrollment:
    try:
        return await repository.get(conn, enrollment_id, for_update=True)
    except NotFoundError:
        # Enrollments commit before their checkout exists, so this event names an
        # enrollment that never was: retrying cannot help.
        raise UnknownEnrollmentError(f"unknown enrollment {enrollment_id!r}") from None


def _decided_at_once(
    name: str, event_type: type[Message], decide: Callable[[Enrollment, Message], None]
) -> AtOnce:
    """A payment event's handler: the domain model decides (`decide`: the transition on
    the enrollment the event names, which stages its events), the unit of work saves.

    First without a transaction (the consumer's AtOnce): an unlocked read that also says
    whether the event was handled before, then the inbox row, the save and its events as
    one statement that writes only if the enrollment is still as read (two round trips;
    a redelivery, one). When that writes nothing, or no enrollment has the id (a seat
    pack's, routed by seat_pack_events, or none: the locked path raises
    UnknownEnrollmentError), the locked transaction decides as before: BEGIN with the
    inbox row, the locked read (_locked, always the first statement: see
    UnknownEnrollmentError), the save, COMMIT."""

    async def attempt(
        conn: asyncpg.Connection, inbox: Inbox, event: Message, _: Envelope
    ) -> bool | None:
        assert isinstance(event, event_type)
        seen, enrollment = await repository.peek_consumed(conn, inbox, event.enrollment_id)
        if seen:
            return False
        if enrollment is None:
            return None
        as_read = dataclasses.replace(enrollment, events=[])
        decide(enrollment, event)
        if await unit_of_work.commit_consumed(conn, enrollment, as_read, inbox):
            return True
        return None

    async def locked(conn: asyncpg.Connection, event: Message, _: Envelope) -> None:
        assert isinstance(event, event_type)
        enrollment = await _locked(conn, event.enrollment_id)
        decide(enrollment, event)
        await unit_of_work.commit(conn, enrollment)

    locked.__name__ = name
    return AtOnce(attempt, locked)


def _payment_succeeded(enrollment: Enrollment, event: Message) -> None:
    assert isinstance(event, payment_events.PaymentSucceeded)
    # Activates, or (a closed enrollment, another payment, another price) stages
    # EnrollmentPaymentRejected so payments returns the money: see seats.decide_payment.
    enrollment.payment_succeeded(
        event.payment_id, Price(event.amount.amount_minor, event.amount.currency)
    )


def _payment_failed(enrollment: Enrollment, event: Message) -> None:
    assert isinstance(event, payment_events.PaymentFailed)
    enrollment.payment_failed(event.reason or "payment failed")


def _payment_refunded(enrollment: Enrollment, event: Message) -> None:
    assert isinstance(event, payment_events.PaymentRefunded)
    # A full refund of its own payment makes it REFUNDED (EnrollmentRefunded then revokes
    # the credential); a partial one, or the return of a payment it rejected, changes nothing.
    enrollment.payment_refunded(
        event.payment_id,
        refund_id=event.refund_id,
        reason=event.reason,
        full_refund=event.full_refund,
    )


on_payment_succeeded = _decided_at_once(
    "on_payment_succeeded", payment_events.PaymentSucceeded, _payment_succeeded
)
on_payment_failed = _decided_at_once(
    "on_payment_failed", payment_events.PaymentFailed, _payment_failed
)
on_payment_refunded = _decided_at_once(
    "on_payment_refunded", payment_events.PaymentRefunded, _payment_refunded
)


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
