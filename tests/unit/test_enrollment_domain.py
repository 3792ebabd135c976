"""The enrollment state machine: guarded transitions, idempotent saga steps, events."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common.errors import FailedPreconditionError
from services.enrollment.domain import (
    ALLOWED,
    Activated,
    Cancelled,
    Completed,
    Enrollment,
    PaymentRejected,
    Price,
    Status,
)
from services.enrollment.seats import (
    CLOSED,
    SEAT_HOLDING,
    IncomingPayment,
    PaymentDecision,
    Verdict,
    decide_payment,
)

PRICE = Price(4900, "USD")


def pending(amount: int = 4900) -> Enrollment:
    return Enrollment.open(
        learner_id="alice",
        learner_email="alice@example.com",
        program_id="p1",
        provider_id="v1",
        price=Price(amount, "USD"),
        snapshot=b"frozen",
    )


def test_paid_program_starts_pending_without_events() -> None:
    e = pending()
    assert e.status is Status.PENDING_PAYMENT
    assert e.pull_events() == []


def test_free_program_is_active_at_once() -> None:
    e = pending(amount=0)
    assert e.status is Status.ACTIVE
    assert e.pull_events() == [Activated(e.id, payment_id="")]


def test_payment_activates_once_even_when_redelivered() -> None:
    e = pending()
    e.attach_checkout("pay-1", "http://checkout")
    e.payment_succeeded("pay-1", PRICE)
    e.payment_succeeded("pay-1", PRICE)
    assert e.status is Status.ACTIVE
    assert e.pull_events() == [Activated(e.id, "pay-1")]


def test_payment_for_another_checkout_is_rejected_and_changes_nothing() -> None:
    e = pending()
    e.attach_checkout("pay-1", "http://checkout")
    e.payment_succeeded("pay-2", PRICE)
    assert e.status is Status.PENDING_PAYMENT
    assert e.pull_events() == [
        PaymentRejected(e.id, "pay-2", "other_payment", Status.PENDING_PAYMENT)
    ]


def test_a_payment_of_another_amount_is_rejected() -> None:
    e = pending()
    e.attach_checkout("pay-1", "http://checkout")
    e.payment_succeeded("pay-1", Price(100, "USD"))
    e.payment_succeeded("pay-1", Price(4900, "EUR"))
    assert e.status is Status.PENDING_PAYMENT
    assert [ev.reason for ev in e.pull_events() if isinstance(ev, PaymentRejected)] == [
        "amount_mismatch",
        "amount_mismatch",
    ]


@pytest.mark.parametrize("how", ["expired", "cancelled"])
def test_a_payment_after_the_enrollment_closed_is_rejected_not_activated(how: str) -> None:
    # The seat was freed when the enrollment closed and may be someone else's now: the
    # late money goes back instead of reopening it (invariant 7).
    e = pending()
    e.attach_checkout("pay-1", "http://checkout")
    if how == "expired":
        e.payment_failed("checkout_expired")
    else:
        e.cancel()
    closed = e.status
    e.pull_events()
    e.payment_succeeded("pay-1", PRICE)
    assert e.status is closed
    assert e.pull_events() == [PaymentRejected(e.id, "pay-1", f"enrollment_{how}", closed)]


@pytest.mark.parametrize("closed", [Status.CANCELLED, Status.EXPIRED, Status.REFUNDED])
def test_no_way_back_to_active_from_a_closed_state(closed: Status) -> None:
    assert Status.ACTIVE not in ALLOWED[closed]
    e = pending()
    e.status = closed
    with pytest.raises(FailedPreconditionError):
        e._move(Status.ACTIVE)


def test_failure_after_success_changes_nothing() -> None:
    e = pending()
    e.payment_succeeded("pay-1", PRICE)
    e.pull_events()
    e.payment_failed("out of order expiry")
    assert e.status is Status.ACTIVE
    assert e.pull_events() == []


def test_complete_only_from_active() -> None:
    e = pending()
    with pytest.raises(FailedPreconditionError, match="only an ACTIVE"):
        e.complete()
    e.payment_succeeded("pay-1", PRICE)
    e.complete("A", "https://evidence.example/1")
    assert (e.status, e.grade, e.evidence_url) == (
        Status.COMPLETED,
        "A",
        "https://evidence.example/1",
    )
    assert e.pull_events()[-1] == Completed(e.id)
    with pytest.raises(FailedPreconditionError):
        e.complete()


def test_cancel_only_while_pending() -> None:
    e = pending()
    e.cancel()
    assert e.status is Status.CANCELLED
    assert e.pull_events() == [Cancelled(e.id)]
    with pytest.raises(FailedPreconditionError):
        e.cancel()


def test_refunded_is_terminal() -> None:
    assert ALLOWED[Status.REFUNDED] == frozenset()


@given(st.lists(st.sampled_from(["succeed", "fail", "cancel", "complete"]), max_size=12))
def test_any_sequence_keeps_the_machine_consistent(steps: list[str]) -> None:
    """Whatever order the saga's inputs arrive in, states only move along allowed edges
    and at most one Activated event is ever recorded."""
    e = pending()
    e.attach_checkout("pay-1", "http://checkout")
    activated = rejected = 0
    for step in steps:
        before = e.status
        try:
            match step:
                case "succeed":
                    e.payment_succeeded("pay-1", PRICE)
                    if before in CLOSED:
                        rejected += 1
                case "fail":
                    e.payment_failed("declined")
                case "cancel":
                    e.cancel()
                case "complete":
                    e.complete()
        except FailedPreconditionError:
            assert e.status is before
        assert e.status is before or e.status in ALLOWED[before]
        pulled = e.pull_events()
        activated += sum(isinstance(ev, Activated) for ev in pulled)
        rejected -= sum(isinstance(ev, PaymentRejected) for ev in pulled)
    assert activated <= 1
    # Every payment a closed enrollment saw was rejected (so returned), none was kept.
    assert rejected == 0
    if "succeed" in steps:
        assert e.status in (Status.ACTIVE, Status.COMPLETED) or (
            e.status in CLOSED and activated == 0
        )


def _decide(
    status: Status, own: str = "pay-1", paid: str = "pay-1", amount: int = 4900
) -> PaymentDecision:
    return decide_payment(
        status=status,
        own_payment_id=own,
        price_minor=4900,
        currency="USD",
        payment=IncomingPayment(paid, amount, "USD"),
    )


def test_the_rule_accepts_only_a_pending_enrollments_own_payment_at_its_price() -> None:
    assert _decide(Status.PENDING_PAYMENT) == PaymentDecision(Verdict.ACCEPT)
    # Before the checkout id was attached, the first matching payment is accepted.
    assert _decide(Status.PENDING_PAYMENT, own="").verdict is Verdict.ACCEPT
    assert _decide(Status.PENDING_PAYMENT, paid="pay-2").reason == "other_payment"
    assert _decide(Status.PENDING_PAYMENT, amount=4899).reason == "amount_mismatch"


@pytest.mark.parametrize("status", sorted(Status))
def test_the_rule_never_reopens_a_seat(status: Status) -> None:
    decision = _decide(status)
    if status in (Status.CANCELLED, Status.EXPIRED):
        assert decision.verdict is Verdict.REJECT
        assert decision.reason == f"enrollment_{status.value.lower()}"
    elif status is Status.PENDING_PAYMENT:
        assert decision.verdict is Verdict.ACCEPT
    else:  # ACTIVE, COMPLETED, REFUNDED with this very payment: a copy already applied
        assert decision.verdict is Verdict.ALREADY_APPLIED
    assert CLOSED.isdisjoint(SEAT_HOLDING)


def test_a_payment_for_a_free_enrollment_is_rejected() -> None:
    assert _decide(Status.ACTIVE, own="").reason == "other_payment"
