"""The enrollment aggregate: the purchase saga's state machine. No I/O here.

Every transition is guarded; an illegal one raises FailedPreconditionError. Transitions
that the saga may see twice (a redelivered or out-of-order event) are idempotent and
record no second event. The states, which of them hold a seat, and whether a payment may
be taken are decided in services/enrollment/seats.py.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from services.common.errors import FailedPreconditionError
from services.enrollment.seats import (
    ALLOWED,
    SEAT_HOLDING,
    IncomingPayment,
    Status,
    Verdict,
    decide_payment,
)


@dataclass(frozen=True)
class Price:
    amount_minor: int
    currency: str

    @property
    def is_free(self) -> bool:
        return self.amount_minor == 0


@dataclass(frozen=True)
class Activated:
    enrollment_id: str
    payment_id: str


@dataclass(frozen=True)
class Completed:
    enrollment_id: str


@dataclass(frozen=True)
class Expired:
    enrollment_id: str
    reason: str


@dataclass(frozen=True)
class Cancelled:
    enrollment_id: str


@dataclass(frozen=True)
class PaymentRejected:
    """A payment arrived that this enrollment may not take; the money must go back."""

    enrollment_id: str
    payment_id: str
    reason: str
    status: Status


@dataclass(frozen=True)
class Refunded:
    """The enrollment's payment came back in full: the seat is free, the credential goes."""

    enrollment_id: str
    payment_id: str
    refund_id: str
    reason: str


DomainEvent = Activated | Completed | Expired | Cancelled | PaymentRejected | Refunded


@dataclass
class Enrollment:
    id: str
    learner_id: str
    learner_email: str
    program_id: str
    provider_id: str
    price: Price
    status: Status
    payment_id: str = ""
    checkout_url: str = ""
    credential_id: str = ""
    grade: str = ""
    evidence_url: str = ""
    idempotency_key: str = ""
    # The serialized ProgramSnapshot: opaque to the domain, frozen at enrollment time.
    snapshot: bytes = b""
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    @classmethod
    def open(
        cls,
        *,
        learner_id: str,
        learner_email: str,
        program_id: str,
        provider_id: str,
        price: Price,
        snapshot: bytes,
        idempotency_key: str = "",
    ) -> Enrollment:
        """A new enrollment: waiting for payment, or active at once when the program is free."""
        enrollment = cls(
            id=str(uuid.uuid4()),
            learner_id=learner_id,
            learner_email=learner_email,
            program_id=program_id,
            provider_id=provider_id,
            price=price,
            status=Status.PENDING_PAYMENT,
            idempotency_key=idempotency_key,
            snapshot=snapshot,
        )
        if price.is_free:
            enrollment._move(Status.ACTIVE)
            enrollment.events.append(Activated(enrollment.id, payment_id=""))
        return enrollment

    @classmethod
    def sponsored(
        cls,
        *,
        learner_id: str,
        learner_email: str,
        program_id: str,
        provider_id: str,
        currency: str,
        snapshot: bytes,
    ) -> Enrollment:
        """A seat of an employer's paid pack: ACTIVE at once, and free to the learner (the
        money is the pack's; nothing of it is the learner's to have refunded)."""
        enrollment = cls(
            id=str(uuid.uuid4()),
            learner_id=learner_id,
            learner_email=learner_email,
            program_id=program_id,
            provider_id=provider_id,
            price=Price(0, currency),
            status=Status.PENDING_PAYMENT,
            snapshot=snapshot,
        )
        enrollment._move(Status.ACTIVE)
        enrollment.events.append(Activated(enrollment.id, payment_id=""))
        return enrollment

    def _move(self, target: Status) -> None:
        if target not in ALLOWED[self.status]:
            raise FailedPreconditionError(
                f"enrollment {self.id} cannot go from {self.status} to {target}"
            )
        self.status = target
        self.updated_at = datetime.now(UTC)

    def attach_checkout(self, payment_id: str, checkout_url: str) -> None:
        if self.payment_id and self.payment_id != payment_id:
            raise FailedPreconditionError(
                f"enrollment {self.id} already has payment {self.payment_id}"
            )
        self.payment_id = payment_id
        self.checkout_url = checkout_url
        self.updated_at = datetime.now(UTC)

    def payment_succeeded(self, payment_id: str, amount: Price) -> None:
        """Take the payment, or (see seats.decide_payment) ignore a copy already taken, or
        refuse it without changing anything and say so, so that payments returns it."""
        decision = decide_payment(
            status=self.status,
            own_payment_id=self.payment_id,
            price_minor=self.price.amount_minor,
            currency=self.price.currency,
            payment=IncomingPayment(payment_id, amount.amount_minor, amount.currency),
        )
        if decision.verdict is Verdict.ALREADY_APPLIED:
            return
        if decision.verdict is Verdict.REJECT:
            self.events.append(PaymentRejected(self.id, payment_id, decision.reason, self.status))
            return
        self._move(Status.ACTIVE)
        self.payment_id = payment_id
        self.events.append(Activated(self.id, payment_id))

    def payment_failed(self, reason: str) -> None:
        if self.status is not Status.PENDING_PAYMENT:
            return  # paid, cancelled or already expired: nothing to release
        self._move(Status.EXPIRED)
        self.events.append(Expired(self.id, reason))

    def cancel(self) -> None:
        if self.status is not Status.PENDING_PAYMENT:
            raise FailedPreconditionError(
                f"only a pending enrollment can be cancelled (is {self.status})"
            )
        self._move(Status.CANCELLED)
        self.events.append(Cancelled(self.id))

    def complete(self, grade: str = "", evidence_url: str = "") -> None:
        if self.status is not Status.ACTIVE:
            raise FailedPreconditionError(
                f"only an ACTIVE enrollment can be completed (is {self.status})"
            )
        self._move(Status.COMPLETED)
        self.grade = grade
        self.evidence_url = evidence_url
        self.events.append(Completed(self.id))

    def payment_refunded(
        self, payment_id: str, *, refund_id: str, reason: str, full_refund: bool
    ) -> None:
        """Its own payment came back. In full: REFUNDED (from any seat-holding state, also
        pending, should the refund be delivered before the payment). In part, or another
        payment (one it rejected), or already closed: nothing changes."""
        if not full_refund or not payment_id or payment_id != self.payment_id:
            return
        if self.status not in SEAT_HOLDING:
            return  # already refunded (a redelivery), or closed before the money came
        self._move(Status.REFUNDED)
        self.events.append(Refunded(self.id, payment_id, refund_id, reason))

    def pull_events(self) -> list[DomainEvent]:
        events, self.events = self.events, []
        return events
