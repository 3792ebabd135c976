"""The payments domain: a payment's lifecycle, the checks on a paid checkout, the fee split.

No I/O here. A Payment records the events its transitions raise; the repository writes
them to the outbox in the same transaction as the new state.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from services.common.errors import FailedPreconditionError

# Stable reasons carried by PaymentFailed; consumers may branch on them.
REASON_CHECKOUT_EXPIRED = "checkout_expired"
REASON_ASYNC_PAYMENT_FAILED = "async_payment_failed"
REASON_CHECKOUT_NOT_OPENED = "checkout_not_opened"
# Stable reasons of refunds that were not asked through our API.
REASON_GATEWAY_REFUND = "gateway_refund"  # made at the gateway (e.g. Stripe's dashboard)
REASON_DISPUTE_LOST = "dispute_lost"  # a chargeback the learner's bank decided against us


class PaymentStatus(StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"
    REFUNDED = "REFUNDED"


@dataclass(frozen=True)
class Money:
    amount_minor: int
    currency: str  # ISO 4217, upper case


@dataclass(frozen=True)
class SeatPackOrder:
    """An employer's seat pack being paid for: invoices and receipts name the employer and
    the seats, and the amount is always `seats` times `price_per_seat_minor`."""

    employer_id: str
    employer_name: str
    seats: int
    price_per_seat_minor: int

    def violations(self, amount: Money) -> list[str]:
        if self.seats < 1:
            return ["seat_pack.seats must be at least 1"]
        if not self.employer_name.strip():
            return ["seat_pack.employer_name must not be blank"]
        if self.seats * self.price_per_seat_minor != amount.amount_minor:
            return [
                f"amount {amount.amount_minor} is not {self.seats} seats at "
                f"{self.price_per_seat_minor}"
            ]
        return []


@dataclass(frozen=True)
class CheckoutOrder:
    """What the enrollment service asks to be charged; amount comes from its price snapshot."""

    enrollment_id: str
    learner_id: str
    learner_email: str
    provider_id: str
    amount: Money
    description: str
    success_url: str
    cancel_url: str
    program_id: str = ""
    seat_pack: SeatPackOrder | None = None


@dataclass(frozen=True)
class PaidCheckout:
    """What a gateway says was paid, as read from its (verified) event."""

    session_id: str
    client_reference_id: str
    metadata_enrollment_id: str
    amount_minor: int
    currency: str  # upper case, as we store it
    payment_intent: str


@dataclass(frozen=True)
class LedgerEntry:
    """A provider payout line: what the learner paid, the platform's cut, the provider's net."""

    payment_id: str
    provider_id: str
    currency: str
    gross_minor: int
    fee_minor: int
    net_minor: int
    fee_bps: int


@dataclass(frozen=True)
class PaymentSucceededEvent:
    payment_id: str
    enrollment_id: str
    learner_id: str
    amount: Money
    gateway: str
    gateway_payment_id: str
    occurred_at: datetime


@dataclass(frozen=True)
class PaymentFailedEvent:
    payment_id: str
    enrollment_id: str
    reason: str
    occurred_at: datetime


@dataclass(frozen=True)
class PaymentRefundedEvent:
    payment_id: str
    enrollment_id: str
    learner_id: str
    provider_id: str
    refund_id: str
    gateway_refund_id: str
    amount: Money
    reason: str
    full_refund: bool
    gateway: str
    occurred_at: datetime


DomainEvent = PaymentSucceededEvent | PaymentFailedEvent | PaymentRefundedEvent


class RefundStatus(StrEnum):
    PENDING = "PENDING"  # recorded; the gateway has not confirmed it yet
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"  # the gateway refused it for good: an operator must act


@dataclass
class Refund:
    """Money going back for one payment. Created PENDING in the transaction that decides
    it; the refund worker then asks the gateway (its id is the Idempotency-Key)."""

    id: str
    payment_id: str
    idempotency_key: str
    amount: Money
    reason: str
    full_refund: bool
    gateway: str
    status: RefundStatus = RefundStatus.PENDING
    gateway_refund_id: str = ""
    attempts: int = 0
    last_error: str = ""
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    completed_at: datetime | None = None
    # Of the payment, for whoever lists refunds.
    enrollment_id: str = ""
    learner_id: str = ""
    provider_id: str = ""
    note: str = ""


@dataclass(frozen=True)
class Dispute:
    """A chargeback the gateway reported (dp_...), as last reported."""

    id: str
    gateway_dispute_id: str
    payment_id: str
    amount: Money
    reason: str
    status: str  # Stripe's: warning_needs_response, needs_response, under_review, won, lost
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    enrollment_id: str = ""
    provider_id: str = ""

    @property
    def lost(self) -> bool:
        return self.status == "lost"


def split_fee(gross_minor: int, fee_bps: int) -> tuple[int, int]:
    """(platform fee, provider net) in minor units; the fee rounds half up, net gets the rest,
    so the two always add up to what was paid."""
    fee = (gross_minor * fee_bps + 5_000) // 10_000
    return fee, gross_minor - fee


def destination_fee(gross_minor: int, fee_bps: int) -> int:
    """A destination charge's application fee: the platform's cut, the same split as the
    ledger's. A charge to the platform's own account has none."""
    return split_fee(gross_minor, fee_bps)[0]


def fee_returned(charge_gross: int, charge_fee: int, refunded_before: int, amount: int) -> int:
    """The part of the platform's fee a refund of `amount` gives back, after refunds of
    `refunded_before` of the same charge. Computed on the running total, so partial refunds
    that add up to the whole charge give back exactly the whole fee (no cent lost)."""
    if not 0 < amount <= charge_gross - refunded_before:
        raise ValueError(f"refund of {amount} does not fit a charge of {charge_gross}")

    def share(refunded: int) -> int:
        return (charge_fee * refunded * 2 + charge_gross) // (charge_gross * 2)  # half up

    return share(refunded_before + amount) - share(refunded_before)


@dataclass
class Payment:
    id: str
    enrollment_id: str
    learner_id: str
    learner_email: str
    provider_id: str
    amount: Money
    description: str
    gateway: str
    status: PaymentStatus
    success_url: str
    cancel_url: str
    expires_at: datetime
    checkout_session_id: str = ""
    checkout_url: str = ""
    gateway_payment_id: str = ""
    failure_reason: str = ""
    program_id: str = ""
    # Stripe Connect: the provider's connected account the money goes to (a destination
    # charge) and the platform's application fee; empty and 0 without one.
    destination_account: str = ""
    application_fee_minor: int = 0
    # Set when this is an employer's seat pack (its enrollment_id is the pack's id).
    seat_pack: SeatPackOrder | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # Money already returned (refunds the gateway made), kept by the repository.
    refunded_minor: int = 0
    events: list[DomainEvent] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def open(
        cls,
        order: CheckoutOrder,
        *,
        gateway: str,
        ttl_seconds: int,
        destination_account: str = "",
        fee_bps: int = 0,
    ) -> Payment:
        """A payment to collect; with `destination_account`, a destination charge whose
        application fee is the platform's cut (the same split as the ledger's)."""
        now = datetime.now(UTC)
        fee = destination_fee(order.amount.amount_minor, fee_bps) if destination_account else 0
        return cls(
            id=str(uuid.uuid4()),
            enrollment_id=order.enrollment_id,
            learner_id=order.learner_id,
            learner_email=order.learner_email,
            provider_id=order.provider_id,
            amount=order.amount,
            description=order.description,
            gateway=gateway,
            status=PaymentStatus.PENDING,
            success_url=order.success_url,
            cancel_url=order.cancel_url,
            program_id=order.program_id,
            destination_account=destination_account,
            application_fee_minor=fee,
            seat_pack=order.seat_pack,
            # Fixed once, here: a retried gateway call must send identical parameters.
            expires_at=now + timedelta(seconds=ttl_seconds),
            created_at=now,
            updated_at=now,
        )

    def check_same_order(self, order: CheckoutOrder) -> None:
        """A retried CreateCheckout must ask for the very same charge as the first one."""
        differences = [
            name
            for name, ours, theirs in (
                ("amount", self.amount, order.amount),
                ("learner_id", self.learner_id, order.learner_id),
                ("provider_id", self.provider_id, order.provider_id),
                ("seat_pack", self.seat_pack, order.seat_pack),
            )
            if ours != theirs
        ]
        if differences:
            raise FailedPreconditionError(
                f"enrollment {self.enrollment_id} already has payment {self.id} with a different "
                f"{', '.join(differences)}"
            )

    @property
    def has_session(self) -> bool:
        return bool(self.checkout_session_id)

    def mismatches(self, paid: PaidCheckout) -> list[str]:
        """Why `paid` is not the payment of this checkout; empty when it is."""
        problems = []
        if self.checkout_session_id and paid.session_id != self.checkout_session_id:
            problems.append(
                f"session {paid.session_id!r} is not this payment's {self.checkout_session_id!r}"
            )
        if paid.client_reference_id != self.enrollment_id:
            problems.append(
                f"client_reference_id {paid.client_reference_id!r} is not enrollment "
                f"{self.enrollment_id}"
            )
        if paid.metadata_enrollment_id and paid.metadata_enrollment_id != self.enrollment_id:
            problems.append(
                f"metadata.enrollment_id {paid.metadata_enrollment_id!r} is not enrollment "
                f"{self.enrollment_id}"
            )
        if paid.amount_minor != self.amount.amount_minor or paid.currency != self.amount.currency:
            problems.append(
                f"paid {paid.amount_minor} {paid.currency}, expected "
                f"{self.amount.amount_minor} {self.amount.currency}"
            )
        return problems

    def succeed(self, paid: PaidCheckout, *, fee_bps: int) -> LedgerEntry:
        """PENDING -> SUCCEEDED, only for a checkout that matches (see `mismatches`)."""
        if self.status is not PaymentStatus.PENDING:
            raise FailedPreconditionError(f"payment {self.id} is {self.status}, not PENDING")
        if problems := self.mismatches(paid):
            raise FailedPreconditionError("; ".join(problems))
        now = datetime.now(UTC)
        self.status = PaymentStatus.SUCCEEDED
        self.gateway_payment_id = paid.payment_intent
        self.checkout_session_id = self.checkout_session_id or paid.session_id
        self.updated_at = now
        self.events.append(
            PaymentSucceededEvent(
                payment_id=self.id,
                enrollment_id=self.enrollment_id,
                learner_id=self.learner_id,
                amount=self.amount,
                gateway=self.gateway,
                gateway_payment_id=paid.payment_intent,
                occurred_at=now,
            )
        )
        fee, net = split_fee(self.amount.amount_minor, fee_bps)
        return LedgerEntry(
            payment_id=self.id,
            provider_id=self.provider_id,
            currency=self.amount.currency,
            gross_minor=self.amount.amount_minor,
            fee_minor=fee,
            net_minor=net,
            fee_bps=fee_bps,
        )

    def close_unpaid(self, status: PaymentStatus, reason: str) -> None:
        """PENDING -> EXPIRED or FAILED: the checkout ended without money moving."""
        if status not in (PaymentStatus.EXPIRED, PaymentStatus.FAILED):
            raise ValueError(f"close_unpaid cannot move a payment to {status}")
        if self.status is not PaymentStatus.PENDING:
            raise FailedPreconditionError(f"payment {self.id} is {self.status}, not PENDING")
        now = datetime.now(UTC)
        self.status = status
        self.failure_reason = reason
        self.updated_at = now
        self.events.append(
            PaymentFailedEvent(
                payment_id=self.id,
                enrollment_id=self.enrollment_id,
                reason=reason,
                occurred_at=now,
            )
        )

    @property
    def refundable_minor(self) -> int:
        return self.amount.amount_minor - self.refunded_minor

    def full_refund(self, *, reason: str, idempotency_key: str, note: str = "") -> Refund:
        """A refund of everything this (succeeded) payment took; not yet made."""
        return self.refund(
            reason=reason, idempotency_key=idempotency_key, amount_minor=None, note=note
        )

    def refund(
        self,
        *,
        reason: str,
        idempotency_key: str,
        amount_minor: int | None,
        note: str = "",
        pending_minor: int = 0,
    ) -> Refund:
        """A refund (None: of everything still refundable), not yet made. It is "full" when
        it returns the rest of the payment: only that may close what the payment bought.
        `pending_minor` is asked for already, on its way back."""
        if self.status is not PaymentStatus.SUCCEEDED:
            raise FailedPreconditionError(
                f"payment {self.id} is {self.status}: there is nothing left to refund"
            )
        left = self.refundable_minor - pending_minor
        amount = left if amount_minor is None else amount_minor
        if not 0 < amount <= left:
            raise FailedPreconditionError(
                f"payment {self.id} has {left} {self.amount.currency} left to refund, not {amount}"
            )
        return Refund(
            id=str(uuid.uuid4()),
            payment_id=self.id,
            idempotency_key=idempotency_key,
            amount=Money(amount, self.amount.currency),
            reason=reason,
            note=note,
            full_refund=amount == left and pending_minor == 0,
            gateway=self.gateway,
            enrollment_id=self.enrollment_id,
            learner_id=self.learner_id,
            provider_id=self.provider_id,
        )

    def refunded(self, refund: Refund, gateway_refund_id: str) -> None:
        """The gateway returned the money of `refund`: SUCCEEDED -> REFUNDED once all of the
        payment is back (a partial refund leaves it SUCCEEDED)."""
        if refund.payment_id != self.id:
            raise ValueError(f"refund {refund.id} is not for payment {self.id}")
        if self.status is not PaymentStatus.SUCCEEDED:
            raise FailedPreconditionError(f"payment {self.id} is {self.status}, not SUCCEEDED")
        if refund.amount.amount_minor > self.refundable_minor:
            raise FailedPreconditionError(
                f"refund {refund.id} of {refund.amount.amount_minor} exceeds the "
                f"{self.refundable_minor} left on payment {self.id}"
            )
        now = datetime.now(UTC)
        refund.status = RefundStatus.SUCCEEDED
        refund.gateway_refund_id = gateway_refund_id
        refund.completed_at = now
        self.refunded_minor += refund.amount.amount_minor
        # Full when nothing is left, however many refunds it took.
        refund.full_refund = self.refundable_minor == 0
        if refund.full_refund:
            self.status = PaymentStatus.REFUNDED
        self.updated_at = now
        self.events.append(
            PaymentRefundedEvent(
                payment_id=self.id,
                enrollment_id=self.enrollment_id,
                learner_id=self.learner_id,
                provider_id=self.provider_id,
                refund_id=refund.id,
                gateway_refund_id=gateway_refund_id,
                amount=refund.amount,
                reason=refund.reason,
                full_refund=refund.full_refund,
                gateway=self.gateway,
                occurred_at=now,
            )
        )

    def pull_events(self) -> list[DomainEvent]:
        collected, self.events = self.events, []
        return collected

    collect_events = pull_events
