"""The seat pack aggregate: N seats of one program bought once by an employer. No I/O.

Whether a pack may take a payment is the same rule as for an enrollment
(`seats.decide_payment`): a pack being paid for takes its own checkout's payment at its
total; a paid pack ignores a copy; a closed one (expired, cancelled, refunded) rejects
the money, which payments then returns. Its seats are reserved at purchase and counted
with single purchases by `repository.reserve_seat`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from services.common.errors import FailedPreconditionError
from services.common.volume_tiers import VolumeTier, pack_total
from services.enrollment.seats import IncomingPayment, Status, Verdict, decide_payment

# A pack's states, named as the enrollment states whose payment rule they share.
PENDING_PAYMENT = "PENDING_PAYMENT"
PAID = "PAID"
EXPIRED = "EXPIRED"
CANCELLED = "CANCELLED"
REFUNDED = "REFUNDED"
_AS_ENROLLMENT = {
    PENDING_PAYMENT: Status.PENDING_PAYMENT,
    PAID: Status.ACTIVE,
    EXPIRED: Status.EXPIRED,
    CANCELLED: Status.CANCELLED,
    REFUNDED: Status.REFUNDED,
}


@dataclass(frozen=True)
class PackPaymentRejected:
    """Money arrived that this pack may not take; payments returns it."""

    payment_id: str
    reason: str
    status: Status


@dataclass(frozen=True)
class PackPaid:
    """The pack took its payment (none when it cost nothing): its seats can be redeemed."""

    payment_id: str


@dataclass(frozen=True)
class SeatsReleased:
    """Unredeemed seats went back to the program; their price is owed back."""

    seats: int
    amount_minor: int


PackEvent = PackPaymentRejected | PackPaid | SeatsReleased


@dataclass
class SeatPack:
    id: str
    employer_id: str
    program_id: str
    provider_id: str
    snapshot: bytes
    seats: int
    total_minor: int
    currency: str
    status: str
    bought_by: str
    bought_by_email: str = ""
    payment_id: str = ""
    checkout_url: str = ""
    seats_refunded: int = 0
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    events: list[PackEvent] = field(default_factory=list, repr=False)

    @classmethod
    def open(
        cls,
        *,
        employer_id: str,
        program_id: str,
        provider_id: str,
        snapshot: bytes,
        seats: int,
        price_minor: int,
        currency: str,
        bought_by: str,
        bought_by_email: str,
        volume_tiers: Sequence[VolumeTier] = (),
    ) -> SeatPack:
        """A pack at the price per seat for its size (the program's price, or its volume
        tier's) times `seats`: paid at once when that is nothing."""
        if seats < 1:
            raise FailedPreconditionError("a seat pack holds at least one seat")
        total = pack_total(price_minor, volume_tiers, seats)
        pack = cls(
            id=str(uuid.uuid4()),
            employer_id=employer_id,
            program_id=program_id,
            provider_id=provider_id,
            snapshot=snapshot,
            seats=seats,
            total_minor=total,
            currency=currency,
            status=PAID if total == 0 else PENDING_PAYMENT,
            bought_by=bought_by,
            bought_by_email=bought_by_email,
        )
        if pack.status == PAID:
            pack.events.append(PackPaid(payment_id=""))
        return pack

    def _touch(self) -> None:
        self.updated_at = datetime.now(UTC)

    def attach_checkout(self, payment_id: str, checkout_url: str) -> None:
        if self.payment_id and self.payment_id != payment_id:
            raise FailedPreconditionError(f"seat pack {self.id} already has a payment")
        self.payment_id = payment_id
        self.checkout_url = checkout_url
        self._touch()

    def payment_succeeded(self, payment: IncomingPayment) -> None:
        decision = decide_payment(
            status=_AS_ENROLLMENT[self.status],
            own_payment_id=self.payment_id,
            price_minor=self.total_minor,
            currency=self.currency,
            payment=payment,
        )
        if decision.verdict is Verdict.ALREADY_APPLIED:
            return
        if decision.verdict is Verdict.REJECT:
            self.events.append(
                PackPaymentRejected(
                    payment.payment_id, decision.reason, _AS_ENROLLMENT[self.status]
                )
            )
            return
        self.status = PAID
        self.payment_id = payment.payment_id
        self._touch()
        self.events.append(PackPaid(payment.payment_id))

    def payment_failed(self) -> None:
        """The checkout expired or failed: the seats go back to the program."""
        if self.status == PENDING_PAYMENT:
            self.status = EXPIRED
            self._touch()

    def payment_refunded(self, payment_id: str, *, full_refund: bool) -> None:
        """Its own payment came back in full: the pack's unredeemed seats go back to the
        program. (Seats already redeemed stay with their learners; refunding only the
        unassigned seats of a pack is not offered yet.)"""
        if full_refund and payment_id and payment_id == self.payment_id and self.status == PAID:
            self.status = REFUNDED
            self._touch()

    @property
    def price_per_seat(self) -> int:
        """What one seat cost: the total is always seats bought times it."""
        return self.total_minor // (self.seats + self.seats_refunded)

    def release_unassigned(self, redeemed: int) -> int:
        """Give the seats nobody redeemed back to the program; how many (their price is
        then owed back). Only a paid pack has money to return."""
        if self.status != PAID:
            raise FailedPreconditionError(
                f"only a paid pack's seats can be refunded (it is {self.status})"
            )
        unassigned = self.seats - redeemed
        if unassigned > 0:
            price = self.price_per_seat
            self.seats -= unassigned
            self.seats_refunded += unassigned
            self._touch()
            self.events.append(SeatsReleased(unassigned, unassigned * price))
        return max(unassigned, 0)

    def pull_events(self) -> list[PackEvent]:
        events, self.events = self.events, []
        return events
