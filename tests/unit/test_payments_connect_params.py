"""What payments asks Stripe for a destination charge, and the fee it keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.payments.domain import CheckoutOrder, Money, Payment, split_fee
from services.payments.gateways import SessionRequest
from services.payments.stripe_gateway import session_params


def request(destination: str = "", fee: int = 0) -> SessionRequest:
    return SessionRequest(
        payment_id="p1",
        enrollment_id="e1",
        customer_email="",
        amount_minor=4999,
        currency="USD",
        description="Course",
        success_url="https://u.example/ok",
        cancel_url="https://u.example/no",
        expires_at=datetime.now(UTC) + timedelta(hours=1),
        destination_account=destination,
        application_fee_minor=fee,
    )


def test_a_plain_charge_asks_for_no_transfer() -> None:
    params = session_params(request())
    assert "transfer_data" not in params["payment_intent_data"]
    assert "application_fee_amount" not in params["payment_intent_data"]


def test_a_destination_charge_keeps_the_fee_and_sends_the_rest() -> None:
    params = session_params(request("acct_1", 500))
    intent = params["payment_intent_data"]
    assert intent["transfer_data"] == {"destination": "acct_1"}
    assert intent["application_fee_amount"] == 500
    assert intent["metadata"] == {"payment_id": "p1", "enrollment_id": "e1"}


def test_the_application_fee_is_the_ledgers_fee() -> None:
    order = CheckoutOrder("e1", "l", "", "prov", Money(4999, "USD"), "Course", "u", "c")
    connected = Payment.open(
        order, gateway="stripe", ttl_seconds=60, destination_account="acct_1", fee_bps=1234
    )
    assert connected.application_fee_minor == split_fee(4999, 1234)[0] == 617
    plain = Payment.open(order, gateway="stripe", ttl_seconds=60, fee_bps=1234)
    assert (plain.destination_account, plain.application_fee_minor) == ("", 0)
