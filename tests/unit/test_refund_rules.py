"""Who may refund when (seats.decide_refund), how a refund closes an enrollment, and how
refunds split the platform fee (payments.domain)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.common.errors import FailedPreconditionError
from services.enrollment.domain import Enrollment, Price, Refunded
from services.enrollment.seats import (
    IncomingPayment,
    RefundActor,
    RefundVerdict,
    Status,
    Verdict,
    decide_payment,
    decide_refund,
)
from services.payments.domain import (
    CheckoutOrder,
    Money,
    PaidCheckout,
    Payment,
    PaymentStatus,
    fee_returned,
    split_fee,
)

NOW = datetime(2026, 1, 20, tzinfo=UTC)
WINDOW = timedelta(days=14)


def decide(
    actor: RefundActor, status: Status, *, days: float = 1, paid: bool = True, partial: bool = False
) -> RefundVerdict:
    return decide_refund(
        actor=actor,
        status=status,
        paid=paid,
        enrolled_at=NOW - timedelta(days=days),
        now=NOW,
        window=WINDOW,
        partial=partial,
    ).verdict


@pytest.mark.parametrize("actor", list(RefundActor))
def test_a_free_enrollment_is_never_refundable(actor: RefundActor) -> None:
    assert decide(actor, Status.ACTIVE, paid=False) is RefundVerdict.NOT_REFUNDABLE


@pytest.mark.parametrize("status", [Status.PENDING_PAYMENT, Status.EXPIRED, Status.CANCELLED])
def test_unpaid_or_closed_enrollments_hold_nothing_to_refund(status: Status) -> None:
    assert decide(RefundActor.ADMIN, status) is RefundVerdict.NOT_REFUNDABLE


def test_the_learner_within_the_window_before_completion_in_full() -> None:
    assert decide(RefundActor.LEARNER, Status.ACTIVE, days=13.9) is RefundVerdict.ALLOW
    assert decide(RefundActor.LEARNER, Status.ACTIVE, days=14.1) is RefundVerdict.FORBIDDEN
    assert decide(RefundActor.LEARNER, Status.COMPLETED) is RefundVerdict.FORBIDDEN
    assert decide(RefundActor.LEARNER, Status.ACTIVE, partial=True) is RefundVerdict.FORBIDDEN
    # Asking again after it was refunded is answered with the refund already made.
    assert decide(RefundActor.LEARNER, Status.REFUNDED, days=30) is RefundVerdict.ALLOW


@pytest.mark.parametrize("actor", [RefundActor.ADMIN, RefundActor.PROVIDER])
def test_staff_may_refund_any_time_and_in_part(actor: RefundActor) -> None:
    assert decide(actor, Status.COMPLETED, days=400, partial=True) is RefundVerdict.ALLOW


def test_the_reason_names_who_asked() -> None:
    decision = decide_refund(
        actor=RefundActor.PROVIDER,
        status=Status.ACTIVE,
        paid=True,
        enrolled_at=NOW,
        now=NOW,
        window=WINDOW,
        partial=False,
    )
    assert decision.reason == "requested_by_provider"


def enrollment(status: Status, payment_id: str = "pay-1") -> Enrollment:
    e = Enrollment.open(
        learner_id="alice",
        learner_email="",
        program_id="prog",
        provider_id="prov",
        price=Price(4900, "USD"),
        snapshot=b"",
    )
    e.payment_id = payment_id
    e.status = status
    return e


@pytest.mark.parametrize("status", [Status.PENDING_PAYMENT, Status.ACTIVE, Status.COMPLETED])
def test_a_full_refund_of_its_own_payment_makes_it_refunded_once(status: Status) -> None:
    e = enrollment(status)
    e.payment_refunded("pay-1", refund_id="r1", reason="requested_by_admin", full_refund=True)
    assert e.status is Status.REFUNDED
    assert e.pull_events() == [Refunded(e.id, "pay-1", "r1", "requested_by_admin")]
    e.payment_refunded("pay-1", refund_id="r1", reason="requested_by_admin", full_refund=True)
    assert e.pull_events() == []
    # The payment delivered after its refund is a copy already applied.
    decision = decide_payment(
        status=e.status,
        own_payment_id="pay-1",
        price_minor=4900,
        currency="USD",
        payment=IncomingPayment("pay-1", 4900, "USD"),
    )
    assert decision.verdict is Verdict.ALREADY_APPLIED


@pytest.mark.parametrize(
    ("status", "payment_id", "full"),
    [
        (Status.ACTIVE, "pay-1", False),  # partial
        (Status.ACTIVE, "other", True),  # a payment it rejected
        (Status.CANCELLED, "pay-1", True),  # closed before the money came: returned already
    ],
)
def test_other_refunds_change_nothing(status: Status, payment_id: str, full: bool) -> None:
    e = enrollment(status)
    e.payment_refunded(payment_id, refund_id="r1", reason="x", full_refund=full)
    assert e.status is status
    assert e.pull_events() == []


@pytest.mark.parametrize("gross", [1, 3, 777, 1234, 4999, 100_000_001])
@pytest.mark.parametrize("bps", [0, 1, 333, 1000, 10_000])
def test_partial_refunds_give_back_exactly_the_whole_fee(gross: int, bps: int) -> None:
    fee, _ = split_fee(gross, bps)
    parts = [p for p in (gross // 3, gross // 7, 1) if p > 0]
    parts.append(gross - sum(parts))
    parts = [p for p in parts if p > 0]
    returned, before = 0, 0
    for part in parts:
        share = fee_returned(gross, fee, before, part)
        assert 0 <= share <= part
        returned += share
        before += part
    assert before == gross
    assert returned == fee


def test_a_refund_larger_than_what_is_left_is_refused() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        fee_returned(100, 10, 90, 11)


def paid_payment() -> Payment:
    payment = Payment.open(
        CheckoutOrder("e1", "alice", "", "prov", Money(4900, "USD"), "Course", "u", "c"),
        gateway="local",
        ttl_seconds=60,
    )
    payment.succeed(PaidCheckout("", "e1", "", 4900, "USD", "pi_1"), fee_bps=1000)
    payment.collect_events()
    return payment


def test_partial_refunds_leave_the_payment_succeeded_until_all_is_back() -> None:
    payment = paid_payment()
    first = payment.refund(reason="r", idempotency_key="a", amount_minor=900)
    assert first.full_refund is False
    payment.refunded(first, "re_1")
    assert payment.status is PaymentStatus.SUCCEEDED
    rest = payment.refund(reason="r", idempotency_key="b", amount_minor=None)
    assert rest.amount == Money(4000, "USD")
    payment.refunded(rest, "re_2")
    assert payment.status is PaymentStatus.REFUNDED
    events = payment.collect_events()
    assert [e.full_refund for e in events] == [False, True]
    with pytest.raises(FailedPreconditionError):
        payment.refund(reason="r", idempotency_key="c", amount_minor=None)


def test_a_refund_beyond_what_is_left_or_pending_is_refused() -> None:
    payment = paid_payment()
    with pytest.raises(FailedPreconditionError):
        payment.refund(reason="r", idempotency_key="a", amount_minor=4901)
    with pytest.raises(FailedPreconditionError):
        payment.refund(reason="r", idempotency_key="a", amount_minor=100, pending_minor=4900)
    with pytest.raises(FailedPreconditionError):
        payment.refund(reason="r", idempotency_key="a", amount_minor=0)
