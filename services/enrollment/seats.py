"""Seats and money: the one place that decides which enrollments hold a seat, which
transitions exist, and whether an enrollment may take a payment that arrives for it.

Payments never re-decides any of this: it records the money that moved and publishes
`payment_succeeded`; the enrollment applies `decide_payment` and either activates or
publishes `EnrollmentPaymentRejected`, which payments answers with a refund. So a closed
enrollment (cancelled, expired, refunded) never becomes ACTIVE again, its seat, which may
already belong to someone else, is never sold twice, and the money comes back.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    PENDING_PAYMENT = "PENDING_PAYMENT"
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"
    REFUNDED = "REFUNDED"


# States that hold a seat (and block a second enrollment of the same learner). A pending
# enrollment holds its seat until it is paid, cancelled or expired, so a payment that finds
# it still pending always has a seat to take.
SEAT_HOLDING = frozenset({Status.PENDING_PAYMENT, Status.ACTIVE, Status.COMPLETED})

# Closed: the seat is released (or, for REFUNDED, given back) and never retaken.
CLOSED = frozenset({Status.EXPIRED, Status.CANCELLED, Status.REFUNDED})

ALLOWED: dict[Status, frozenset[Status]] = {
    Status.PENDING_PAYMENT: frozenset({Status.ACTIVE, Status.EXPIRED, Status.CANCELLED}),
    # No way back from a closed state: its seat may already be someone else's. Money that
    # arrives for it anyway is rejected (see decide_payment) and returned by payments.
    Status.EXPIRED: frozenset(),
    Status.CANCELLED: frozenset(),
    Status.ACTIVE: frozenset({Status.COMPLETED, Status.REFUNDED}),
    Status.COMPLETED: frozenset({Status.REFUNDED}),
    Status.REFUNDED: frozenset(),
}


class Verdict(StrEnum):
    ACCEPT = "accept"  # PENDING_PAYMENT -> ACTIVE
    ALREADY_APPLIED = "already_applied"  # a duplicate or late copy: change nothing
    REJECT = "reject"  # change nothing; the money must go back


# Stable rejection reasons, carried by EnrollmentPaymentRejected and PaymentRefunded.
REASON_CANCELLED = "enrollment_cancelled"
REASON_EXPIRED = "enrollment_expired"
REASON_REFUNDED = "enrollment_refunded"
REASON_OTHER_PAYMENT = "other_payment"
REASON_AMOUNT_MISMATCH = "amount_mismatch"

_CLOSED_REASON = {
    Status.CANCELLED: REASON_CANCELLED,
    Status.EXPIRED: REASON_EXPIRED,
    Status.REFUNDED: REASON_REFUNDED,
}


@dataclass(frozen=True)
class PaymentDecision:
    verdict: Verdict
    reason: str = ""


@dataclass(frozen=True)
class IncomingPayment:
    payment_id: str
    amount_minor: int
    currency: str


def decide_payment(
    *,
    status: Status,
    own_payment_id: str,
    price_minor: int,
    currency: str,
    payment: IncomingPayment,
) -> PaymentDecision:
    """May an enrollment in `status`, whose checkout is `own_payment_id` (empty before one was
    attached) at `price_minor` `currency`, take `payment`?"""
    if own_payment_id and payment.payment_id != own_payment_id:
        return PaymentDecision(Verdict.REJECT, REASON_OTHER_PAYMENT)
    if status in (Status.ACTIVE, Status.COMPLETED) or (
        status is Status.REFUNDED and own_payment_id
    ):
        if own_payment_id:
            return PaymentDecision(Verdict.ALREADY_APPLIED)
        # Active without a payment: a free enrollment; nothing was owed.
        return PaymentDecision(Verdict.REJECT, REASON_OTHER_PAYMENT)
    if (payment.amount_minor, payment.currency) != (price_minor, currency):
        return PaymentDecision(Verdict.REJECT, REASON_AMOUNT_MISMATCH)
    if status is Status.PENDING_PAYMENT:
        return PaymentDecision(Verdict.ACCEPT)
    return PaymentDecision(Verdict.REJECT, _CLOSED_REASON[status])
