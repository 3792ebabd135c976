"""The payment's lifecycle, the checks on a paid checkout, and the fee split."""

from __future__ import annotations

from dataclasses import replace

import pytest

from services.common.errors import FailedPreconditionError
from services.payments.domain import (
    CheckoutOrder,
    Money,
    PaidCheckout,
    Payment,
    PaymentFailedEvent,
    PaymentStatus,
    PaymentSucceededEvent,
    SeatPackOrder,
    split_fee,
)

ENROLLMENT = "4d5a9c1e-0000-4000-8000-000000000001"
PROVIDER = "4d5a9c1e-0000-4000-8000-0000000000aa"


def order(amount: int = 4900, currency: str = "USD", learner: str = "alice") -> CheckoutOrder:
    return CheckoutOrder(
        enrollment_id=ENROLLMENT,
        learner_id=learner,
        learner_email="alice@example.com",
        provider_id=PROVIDER,
        amount=Money(amount, currency),
        description="Course",
        success_url="https://example.com/ok",
        cancel_url="https://example.com/cancel",
    )


def pending() -> Payment:
    payment = Payment.open(order(), gateway="local", ttl_seconds=1800)
    payment.checkout_session_id = "cs_test_abc"
    return payment


def paid(**overrides: object) -> PaidCheckout:
    fields: dict[str, object] = {
        "session_id": "cs_test_abc",
        "client_reference_id": ENROLLMENT,
        "metadata_enrollment_id": ENROLLMENT,
        "amount_minor": 4900,
        "currency": "USD",
        "payment_intent": "pi_123",
    }
    fields.update(overrides)
    return PaidCheckout(**fields)  # type: ignore[arg-type]


def test_a_new_payment_is_pending_and_expires_after_the_ttl() -> None:
    payment = Payment.open(order(), gateway="local", ttl_seconds=1800)

    assert payment.status is PaymentStatus.PENDING
    assert (payment.expires_at - payment.created_at).total_seconds() == 1800
    assert payment.events == []


def test_a_retry_must_ask_for_the_same_charge() -> None:
    payment = pending()

    payment.check_same_order(order())
    for different in (order(amount=100), order(currency="EUR"), order(learner="mallory")):
        with pytest.raises(FailedPreconditionError, match="different"):
            payment.check_same_order(different)


def test_a_pack_payment_keeps_its_order_and_a_retry_must_name_the_same_one() -> None:
    pack = SeatPackOrder("emp-1", "Initech", seats=2, price_per_seat_minor=2450)
    payment = Payment.open(replace(order(), seat_pack=pack), gateway="local", ttl_seconds=60)
    assert payment.seat_pack == pack
    payment.check_same_order(replace(order(), seat_pack=pack))
    for different in (order(), replace(order(), seat_pack=replace(pack, employer_name="Other"))):
        with pytest.raises(FailedPreconditionError, match="seat_pack"):
            payment.check_same_order(different)


def test_a_matching_paid_checkout_succeeds_once_with_an_event_and_a_ledger_line() -> None:
    payment = pending()

    entry = payment.succeed(paid(), fee_bps=1000)

    assert payment.status is PaymentStatus.SUCCEEDED
    assert payment.gateway_payment_id == "pi_123"
    [event] = payment.collect_events()
    assert isinstance(event, PaymentSucceededEvent)
    assert (event.payment_id, event.enrollment_id, event.amount) == (
        payment.id,
        ENROLLMENT,
        Money(4900, "USD"),
    )
    assert (entry.gross_minor, entry.fee_minor, entry.net_minor) == (4900, 490, 4410)
    with pytest.raises(FailedPreconditionError):
        payment.succeed(paid(), fee_bps=1000)
    assert payment.collect_events() == []


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"amount_minor": 4899}, "paid 4899 USD"),
        ({"currency": "EUR"}, "paid 4900 EUR"),
        ({"session_id": "cs_test_other"}, "session"),
        ({"client_reference_id": "someone-else"}, "client_reference_id"),
        ({"metadata_enrollment_id": "someone-else"}, "metadata.enrollment_id"),
    ],
)
def test_a_paid_checkout_that_does_not_match_is_refused(
    overrides: dict[str, object], complaint: str
) -> None:
    payment = pending()

    assert any(complaint in problem for problem in payment.mismatches(paid(**overrides)))
    with pytest.raises(FailedPreconditionError, match=complaint):
        payment.succeed(paid(**overrides), fee_bps=1000)
    assert payment.status is PaymentStatus.PENDING
    assert payment.events == []


def test_closing_unpaid_raises_payment_failed_and_is_final() -> None:
    payment = pending()

    payment.close_unpaid(PaymentStatus.EXPIRED, "checkout_expired")

    assert payment.status is PaymentStatus.EXPIRED
    [event] = payment.collect_events()
    assert isinstance(event, PaymentFailedEvent)
    assert event.reason == "checkout_expired"
    with pytest.raises(FailedPreconditionError):
        payment.succeed(paid(), fee_bps=1000)
    with pytest.raises(FailedPreconditionError):
        payment.close_unpaid(PaymentStatus.FAILED, "async_payment_failed")


def test_a_succeeded_payment_cannot_be_closed_unpaid() -> None:
    payment = pending()
    payment.succeed(paid(), fee_bps=1000)

    with pytest.raises(FailedPreconditionError):
        payment.close_unpaid(PaymentStatus.EXPIRED, "checkout_expired")
    assert payment.status is PaymentStatus.SUCCEEDED


@pytest.mark.parametrize(
    ("gross", "bps", "fee"),
    [
        (4900, 1000, 490),
        (999, 1000, 100),
        (994, 1000, 99),
        (1, 1000, 0),
        (5, 1000, 1),
        (1234, 0, 0),
        (1234, 10000, 1234),
    ],
)
def test_the_fee_rounds_half_up_and_fee_plus_net_is_the_gross(
    gross: int, bps: int, fee: int
) -> None:
    platform, net = split_fee(gross, bps)

    assert platform == fee
    assert platform + net == gross
