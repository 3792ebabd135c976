"""The seat pack aggregate (services/enrollment/seat_packs.py): the same money rule as an
enrollment's (seats.decide_payment), at the pack's total."""

from __future__ import annotations

import uuid

import pytest

from services.common.errors import FailedPreconditionError
from services.enrollment import seat_packs
from services.enrollment.seat_packs import PackPaid, PackPaymentRejected, SeatPack, SeatsReleased
from services.enrollment.seats import (
    REASON_AMOUNT_MISMATCH,
    REASON_EXPIRED,
    IncomingPayment,
    Status,
)


def pack(seats: int = 3, price: int = 4900) -> SeatPack:
    made = SeatPack.open(
        employer_id=str(uuid.uuid4()),
        program_id=str(uuid.uuid4()),
        provider_id=str(uuid.uuid4()),
        snapshot=b"",
        seats=seats,
        price_minor=price,
        currency="USD",
        bought_by="manager",
        bought_by_email="m@example.com",
    )
    made.attach_checkout("pay-1", "http://checkout")
    return made


def test_the_total_is_price_times_seats_and_its_payment_pays_it_once() -> None:
    p = pack()
    assert (p.total_minor, p.status) == (14700, seat_packs.PENDING_PAYMENT)
    p.payment_succeeded(IncomingPayment("pay-1", 14700, "USD"))
    p.payment_succeeded(IncomingPayment("pay-1", 14700, "USD"))  # a redelivery
    assert p.status == seat_packs.PAID
    assert p.pull_events() == [PackPaid("pay-1")]  # once: the redelivery changes nothing


def test_a_wrong_amount_or_a_closed_pack_sends_the_money_back() -> None:
    p = pack()
    p.payment_succeeded(IncomingPayment("pay-1", 4900, "USD"))
    assert p.status == seat_packs.PENDING_PAYMENT
    assert p.pull_events() == [
        PackPaymentRejected("pay-1", REASON_AMOUNT_MISMATCH, Status.PENDING_PAYMENT)
    ]
    p.payment_failed()
    assert p.status == seat_packs.EXPIRED
    p.payment_succeeded(IncomingPayment("pay-1", 14700, "USD"))
    assert p.status == seat_packs.EXPIRED
    assert p.pull_events() == [PackPaymentRejected("pay-1", REASON_EXPIRED, Status.EXPIRED)]


def test_a_free_program_pack_is_paid_at_once_and_a_full_refund_closes_a_paid_one() -> None:
    free = pack(price=0)
    assert free.status == seat_packs.PAID
    assert free.pull_events() == [PackPaid("")]
    assert pack().pull_events() == []  # waiting for its payment: nothing happened yet
    p = pack()
    p.payment_succeeded(IncomingPayment("pay-1", 14700, "USD"))
    p.payment_refunded("pay-1", full_refund=False)
    assert p.status == seat_packs.PAID
    p.payment_refunded("other", full_refund=True)
    assert p.status == seat_packs.PAID
    p.payment_refunded("pay-1", full_refund=True)
    assert p.status == seat_packs.REFUNDED


def test_a_pack_needs_a_seat_and_keeps_its_checkout() -> None:
    with pytest.raises(FailedPreconditionError):
        pack(seats=0)
    p = pack()
    with pytest.raises(FailedPreconditionError):
        p.attach_checkout("pay-2", "http://other")


def test_unassigned_seats_go_back_at_the_seat_price_once_paid() -> None:
    p = pack()
    with pytest.raises(FailedPreconditionError):
        p.release_unassigned(redeemed=0)  # not paid: nothing to give back
    p.payment_succeeded(IncomingPayment("pay-1", 14700, "USD"))
    assert p.release_unassigned(redeemed=1) == 2
    assert (p.seats, p.seats_refunded, p.price_per_seat) == (1, 2, 4900)
    assert p.release_unassigned(redeemed=1) == 0


def test_a_pack_nobody_redeemed_gives_every_seat_back() -> None:
    p = pack()
    p.payment_succeeded(IncomingPayment("pay-1", 14700, "USD"))
    assert p.release_unassigned(redeemed=0) == 3
    assert (p.seats, p.seats_refunded, p.price_per_seat) == (0, 3, 4900)


def test_released_seats_are_announced_with_the_refund_they_owe() -> None:
    p = pack(seats=3)
    p.payment_succeeded(IncomingPayment("pay-1", 14700, "USD"))
    p.pull_events()
    assert p.release_unassigned(redeemed=1) == 2
    assert p.pull_events() == [SeatsReleased(seats=2, amount_minor=2 * 4900)]
    assert p.release_unassigned(redeemed=1) == 0
    assert p.pull_events() == []  # nothing left to release: no event
