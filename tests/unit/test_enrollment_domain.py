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
    Expired,
    Price,
    Status,
)


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
    e.payment_succeeded("pay-1")
    e.payment_succeeded("pay-1")
    assert e.status is Status.ACTIVE
    assert e.pull_events() == [Activated(e.id, "pay-1")]


def test_payment_for_another_checkout_is_refused() -> None:
    e = pending()
    e.attach_checkout("pay-1", "http://checkout")
    with pytest.raises(FailedPreconditionError):
        e.payment_succeeded("pay-2")
    assert e.status is Status.PENDING_PAYMENT


def test_late_payment_after_expiry_still_activates() -> None:
    # Money was taken: invariant 1 wants an active enrollment for every succeeded payment.
    e = pending()
    e.attach_checkout("pay-1", "http://checkout")
    e.payment_failed("checkout expired")
    e.payment_succeeded("pay-1")
    assert e.status is Status.ACTIVE
    assert e.pull_events() == [Expired(e.id, "checkout expired"), Activated(e.id, "pay-1")]


def test_failure_after_success_changes_nothing() -> None:
    e = pending()
    e.payment_succeeded("pay-1")
    e.pull_events()
    e.payment_failed("out of order expiry")
    assert e.status is Status.ACTIVE
    assert e.pull_events() == []


def test_complete_only_from_active() -> None:
    e = pending()
    with pytest.raises(FailedPreconditionError, match="only an ACTIVE"):
        e.complete()
    e.payment_succeeded("pay-1")
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
    activated = 0
    for step in steps:
        before = e.status
        try:
            match step:
                case "succeed":
                    e.payment_succeeded("pay-1")
                case "fail":
                    e.payment_failed("declined")
                case "cancel":
                    e.cancel()
                case "complete":
                    e.complete()
        except FailedPreconditionError:
            assert e.status is before
        assert e.status is before or e.status in ALLOWED[before]
        activated += sum(isinstance(ev, Activated) for ev in e.pull_events())
    assert activated <= 1
    if "succeed" in steps:
        assert e.status in (Status.ACTIVE, Status.COMPLETED)
