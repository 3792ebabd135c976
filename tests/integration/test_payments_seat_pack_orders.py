"""A seat pack's checkout in Stripe mode: the payments service (a real process) against the
fake Stripe through the real stripe-python client. The Checkout Session is the seats at
their price per seat, naming the employer in its metadata and the PaymentIntent's; the
payment keeps the order (GetPayment shows it); an order whose seats x price is not the
amount is refused before Stripe is asked."""

from __future__ import annotations

import uuid
from pathlib import Path

import grpc
import pytest
from upskill.payments.v1 import payments_pb2
from upskill.type.v1 import money_pb2

from tests.integration.test_payments_service import SERVICE, checkout_request, stripe_mode_payments
from tests.integration.test_payments_stripe_refunds import deliver_all
from tests.polling import eventually_async as eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")

EMPLOYER = str(uuid.uuid4())


def pack_order(seats: int, price: int, name: str = "Initech") -> payments_pb2.SeatPackOrder:
    return payments_pb2.SeatPackOrder(
        employer_id=EMPLOYER,
        employer_name=name,
        seats=seats,
        price_per_seat=money_pb2.Money(amount_minor=price, currency="USD"),
    )


async def test_a_pack_checkout_is_its_seats_at_their_price_naming_the_employer(
    fresh_database: str, nats_url: str, tmp_path: Path
) -> None:
    async with stripe_mode_payments(fresh_database, nats_url, tmp_path) as (service, fake):
        request = checkout_request(str(uuid.uuid4()), amount=12000)
        request.description = "3 seats: Kubernetes (Initech)"
        request.seat_pack.CopyFrom(pack_order(3, 4000))
        made = await service.stub.CreateCheckout(request, metadata=SERVICE, timeout=20)
        payment = made.payment
        assert payment.seat_pack.employer_name == "Initech"
        assert payment.seat_pack.seats == 3

        [create] = [r for r in fake.requests if r.path == "/v1/checkout/sessions"]
        [item] = create.params["line_items"]
        assert (item["quantity"], item["price_data"]["unit_amount"]) == ("3", "4000")
        session = fake.sessions[payment.checkout_session_id]
        assert session["amount_total"] == 12000
        for metadata in (session["metadata"], session["_payment_intent_data"]["metadata"]):
            assert metadata["employer_name"] == "Initech"
            assert metadata["employer_id"] == EMPLOYER
            assert metadata["seats"] == "3"
            assert metadata["seat_pack_id"] == request.enrollment_id
        assert session["_payment_intent_data"]["description"] == request.description

        # Stripe's total is the payment's amount: the paid checkout is accepted.
        fake.complete_session(payment.checkout_session_id)
        seen: set[str] = set()

        async def succeeded() -> bool:
            await deliver_all(service, fake, seen)
            found = await service.payment(payment.id)
            return found.status == payments_pb2.PAYMENT_STATUS_SUCCEEDED

        await eventually(succeeded)
        kept = await service.payment(payment.id)
        assert (kept.seat_pack.seats, kept.seat_pack.price_per_seat.amount_minor) == (3, 4000)


async def test_a_pack_order_that_does_not_add_up_is_refused(
    fresh_database: str, nats_url: str, tmp_path: Path
) -> None:
    refused_orders = [
        (pack_order(3, 4000), 12001),  # seats x price is not the amount
        (pack_order(0, 4000), 12000),  # no seat
        (pack_order(1001, 12), 12012),  # more seats than a pack holds
        (pack_order(3, 4000, name=""), 12000),
        (pack_order(3, 4000, name="x" * 201), 12000),
        (pack_order(3, 4000, name="Ini\x00tech"), 12000),
    ]
    async with stripe_mode_payments(fresh_database, nats_url, tmp_path) as (service, fake):
        for order, amount in refused_orders:
            request = checkout_request(str(uuid.uuid4()), amount=amount)
            request.seat_pack.CopyFrom(order)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await service.stub.CreateCheckout(request, metadata=SERVICE, timeout=20)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, order
        assert not [r for r in fake.requests if r.path == "/v1/checkout/sessions"]
