"""What payments asks Stripe for a destination charge, and the fee it keeps."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from services.payments.domain import CheckoutOrder, Money, Payment, SeatPackOrder, split_fee
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


def test_a_seat_pack_is_its_seats_at_the_price_per_seat_naming_the_employer() -> None:
    pack = SeatPackOrder(
        employer_id="emp-1", employer_name="Initech", seats=3, price_per_seat_minor=4000
    )
    params = session_params(replace(request("acct_1", 500), amount_minor=12000, seat_pack=pack))
    [item] = params["line_items"]
    assert (item["quantity"], item["price_data"]["unit_amount"]) == (3, 4000)
    for metadata in (params["metadata"], params["payment_intent_data"]["metadata"]):
        assert metadata["employer_name"] == "Initech"
        assert metadata["employer_id"] == "emp-1"
        assert metadata["seats"] == "3"
    assert params["payment_intent_data"]["description"] == "Course"
    assert params["payment_intent_data"]["transfer_data"] == {"destination": "acct_1"}
    # A single purchase is one line at the whole amount, with no employer.
    single = session_params(request())
    assert single["line_items"][0]["quantity"] == 1
    assert "employer_name" not in single["metadata"]


def test_a_seat_pack_order_must_add_up() -> None:
    pack = SeatPackOrder(
        employer_id="e", employer_name="Initech", seats=3, price_per_seat_minor=4000
    )
    assert pack.violations(Money(12000, "USD")) == []
    assert pack.violations(Money(12001, "USD"))
    assert replace(pack, employer_name="  ").violations(Money(12000, "USD"))
    assert replace(pack, seats=0, price_per_seat_minor=0).violations(Money(0, "USD"))
