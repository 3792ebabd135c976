"""What payments does when an enrollment closes or refuses a payment.

It never decides whether an enrollment may take a payment: the enrollment does
(services/enrollment/seats.py `decide_payment`) and says so with its events.
- EnrollmentCancelled / EnrollmentExpired: its checkout must not stay payable; the
  CheckoutCloser (services/payments/closing.py) expires it.
- EnrollmentPaymentRejected: money arrived that the enrollment cannot take; it goes back
  in full (services/payments/refunds.py).
"""

from __future__ import annotations

import logging
import uuid

import asyncpg
from google.protobuf.message import Message
from upskill.enrollment.v1 import events_pb2 as enrollment_events

from services.common import metrics
from services.common.consumer import ContractViolationError, Subscription
from services.common.events import Envelope
from services.payments import repository
from services.payments.domain import PaymentStatus

log = logging.getLogger(__name__)

# Why a checkout was closed: the payment's failure_reason, and PaymentFailed's reason.
REASON_CANCELLED = "enrollment_cancelled"
REASON_EXPIRED = "enrollment_expired"


def _uuid(value: str, what: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ContractViolationError(f"{what} {value!r} is not a UUID") from None


async def on_enrollment_cancelled(conn: asyncpg.Connection, event: Message, _: Envelope) -> None:
    assert isinstance(event, enrollment_events.EnrollmentCancelled)
    enrollment_id = _uuid(event.enrollment_id, "enrollment_id")
    await repository.record_closed_enrollment(conn, enrollment_id, REASON_CANCELLED)


async def on_enrollment_expired(conn: asyncpg.Connection, event: Message, _: Envelope) -> None:
    assert isinstance(event, enrollment_events.EnrollmentExpired)
    enrollment_id = _uuid(event.enrollment_id, "enrollment_id")
    await repository.record_closed_enrollment(conn, enrollment_id, REASON_EXPIRED)


def rejection_key(payment_id: str) -> str:
    """One automatic refund per payment, however often its rejection is delivered."""
    return f"rejected:{payment_id}"


async def on_payment_rejected(conn: asyncpg.Connection, event: Message, _: Envelope) -> None:
    assert isinstance(event, enrollment_events.EnrollmentPaymentRejected)
    payment_id = _uuid(event.payment_id, "payment_id")
    payment = await repository.find(conn, payment_id, for_update=True)
    if payment is None or payment.enrollment_id != event.enrollment_id:
        raise ContractViolationError(
            f"payment {payment_id} is not one of enrollment {event.enrollment_id!r}"
        )
    if payment.status is PaymentStatus.REFUNDED:
        return  # returned already
    if payment.status is not PaymentStatus.SUCCEEDED:
        raise ContractViolationError(
            f"payment {payment_id} is {payment.status}: only a succeeded payment is rejected"
        )
    refund = payment.full_refund(reason=event.reason, idempotency_key=rejection_key(payment_id))
    if await repository.add_refund(conn, refund):
        log.warning(
            "enrollment %s rejected payment %s (%s): refunding %d %s",
            payment.enrollment_id,
            payment_id,
            event.reason,
            payment.amount.amount_minor,
            payment.amount.currency,
        )
        metrics.payments_returned.add(1, {"reason": event.reason, "outcome": "requested"})


SUBSCRIPTIONS = [
    Subscription(enrollment_events.EnrollmentCancelled, on_enrollment_cancelled),
    Subscription(enrollment_events.EnrollmentExpired, on_enrollment_expired),
    Subscription(enrollment_events.EnrollmentPaymentRejected, on_payment_rejected),
]
