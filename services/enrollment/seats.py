"""Seats and money: the one place that decides which enrollments hold a seat, which
transitions exist, whether an enrollment may take a payment that arrives for it, and who
may have its payment refunded when.

Payments never re-decides any of this: it records the money that moved and publishes
`payment_succeeded`; the enrollment applies `decide_payment` and either activates or
publishes `EnrollmentPaymentRejected`, which payments answers with a refund. So a closed
enrollment (cancelled, expired, refunded) never becomes ACTIVE again, its seat, which may
already belong to someone else, is never sold twice, and the money comes back.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
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
# This and PACK_SEAT_HOLDING have an SQL form, which keeps the seats taken on the program's
# seat row whoever writes (enrollment migration 0600: enrollment_holds_seat and
# seat_pack_holds_seats), and the older enrollments_one_live index predicate (0001).
# Migrations are fixed SQL, so they cannot read these sets: change both together;
# tests/integration/test_enrollment_seats_kept.py fails while they disagree.

# Closed: the seat is released (or, for REFUNDED, given back) and never retaken.
CLOSED = frozenset({Status.EXPIRED, Status.CANCELLED, Status.REFUNDED})

# Seat packs (services/enrollment/seat_packs.py) whose seats are all taken, redeemed or
# not: a pack being paid for, or paid. Its sponsored enrollments occupy those seats.
PACK_SEAT_HOLDING = frozenset({"PENDING_PAYMENT", "PAID"})

ALLOWED: dict[Status, frozenset[Status]] = {
    # REFUNDED from pending: the refund of its own payment was delivered before the payment
    # (events may come in any order); the payment, when it comes, is then already applied.
    Status.PENDING_PAYMENT: frozenset(
        {Status.ACTIVE, Status.EXPIRED, Status.CANCELLED, Status.REFUNDED}
    ),
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


# ------------------------------------------------------------------ refunds

DEFAULT_REFUND_WINDOW = timedelta(days=14)

# Stable refund reasons: who asked (payments adds its own for refunds it did not get from us).
REASON_REQUESTED_BY_ADMIN = "requested_by_admin"
REASON_REQUESTED_BY_PROVIDER = "requested_by_provider"
REASON_REQUESTED_BY_LEARNER = "requested_by_learner"


class RefundActor(StrEnum):
    """Who asks. Seeing the enrollment at all (its learner, its program's provider, an
    admin) is checked before; another caller never learns that it exists."""

    ADMIN = "admin"
    PROVIDER = "provider"  # staff of the program's own provider
    LEARNER = "learner"  # the enrollment's own learner


class RefundVerdict(StrEnum):
    ALLOW = "allow"
    FORBIDDEN = "forbidden"  # this caller may not ask (now)
    NOT_REFUNDABLE = "not_refundable"  # nobody may: there is no payment to return


@dataclass(frozen=True)
class RefundDecision:
    verdict: RefundVerdict
    reason: str = ""  # when allowed: the refund's stable reason; otherwise why not


_ASKED_BY = {
    RefundActor.ADMIN: REASON_REQUESTED_BY_ADMIN,
    RefundActor.PROVIDER: REASON_REQUESTED_BY_PROVIDER,
    RefundActor.LEARNER: REASON_REQUESTED_BY_LEARNER,
}


def decide_refund(
    *,
    actor: RefundActor,
    status: Status,
    paid: bool,
    enrolled_at: datetime,
    now: datetime,
    window: timedelta,
    partial: bool,
) -> RefundDecision:
    """May `actor` ask for (part of) the payment of an enrollment in `status` back?

    Admins at any time, the program's provider for its own programs, the learner in full,
    within `window` of enrolling and before completing. A REFUNDED enrollment may be asked
    again (payments answers with the refund it already made), so a retry is idempotent.
    """
    if not paid:
        return RefundDecision(
            RefundVerdict.NOT_REFUNDABLE, "a free enrollment has no payment to refund"
        )
    if status in (Status.PENDING_PAYMENT, Status.EXPIRED, Status.CANCELLED):
        return RefundDecision(
            RefundVerdict.NOT_REFUNDABLE,
            f"the enrollment is {status}: it holds no payment to refund",
        )
    if actor is RefundActor.LEARNER and status is not Status.REFUNDED:
        if partial:
            return RefundDecision(RefundVerdict.FORBIDDEN, "only staff may refund in part")
        if status is Status.COMPLETED:
            return RefundDecision(
                RefundVerdict.FORBIDDEN, "a completed enrollment is no longer refundable"
            )
        if now - enrolled_at > window:
            return RefundDecision(
                RefundVerdict.FORBIDDEN,
                f"the refund window of {window.days} days after enrolling has closed",
            )
    return RefundDecision(RefundVerdict.ALLOW, _ASKED_BY[actor])
