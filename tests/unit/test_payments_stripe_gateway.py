"""The Stripe adapter, through real stripe-python, against the fake Stripe on a local port."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stripe

from services.payments.gateways import (
    SESSION_COMPLETE,
    SESSION_EXPIRED,
    GatewayError,
    GatewayUnavailableError,
    RefundRequest,
    SessionRequest,
)
from services.payments.stripe_gateway import StripeGateway
from tests.fakes.stripe_server import FakeStripe

SECRET = "whsec_unit"

# stripe-python's own HTTPX client posts with data=; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning")


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe(webhook_secret=SECRET) as server:
        yield server


def request(**overrides: object) -> SessionRequest:
    fields: dict[str, object] = {
        "payment_id": "8f0e7a52-0000-4000-8000-000000000001",
        "enrollment_id": "8f0e7a52-0000-4000-8000-0000000000e1",
        "customer_email": "alice@example.com",
        "amount_minor": 4900,
        "currency": "USD",
        "description": "Intro to Data Engineering",
        "success_url": "https://shop.example.com/ok",
        "cancel_url": "https://shop.example.com/cancel",
        "expires_at": datetime.now(UTC) + timedelta(minutes=35),
    }
    fields.update(overrides)
    return SessionRequest(**fields)  # type: ignore[arg-type]


async def test_opens_a_checkout_session_with_the_enrollment_as_idempotency_key(
    fake: FakeStripe,
) -> None:
    gateway = StripeGateway(fake.api_key, fake.api_base)

    # One request: its expiry is read from the clock, and two calls can straddle a second.
    asked = request()
    session = await gateway.create_session(asked)

    assert session.id.startswith("cs_test_")
    assert session.url == fake.sessions[session.id]["url"]
    [sent] = fake.requests
    assert sent.path == "/v1/checkout/sessions"
    assert sent.headers["idempotency-key"] == asked.enrollment_id
    assert sent.headers["authorization"] == f"Bearer {fake.api_key}"
    stored = fake.sessions[session.id]
    assert (stored["amount_total"], stored["currency"], stored["mode"]) == (4900, "usd", "payment")
    assert stored["client_reference_id"] == asked.enrollment_id
    assert stored["metadata"] == {
        "payment_id": asked.payment_id,
        "enrollment_id": asked.enrollment_id,
    }
    assert stored["expires_at"] == int(asked.expires_at.timestamp())


async def test_a_retry_returns_the_same_session(fake: FakeStripe) -> None:
    gateway = StripeGateway(fake.api_key, fake.api_base)
    first_request = request()

    first = await gateway.create_session(first_request)
    again = await gateway.create_session(first_request)

    assert again == first
    assert len(fake.sessions) == 1


async def test_the_same_key_with_another_amount_is_refused(fake: FakeStripe) -> None:
    gateway = StripeGateway(fake.api_key, fake.api_base)
    first = request()
    await gateway.create_session(first)

    with pytest.raises(GatewayError, match="same parameters"):
        await gateway.create_session(dataclasses.replace(first, amount_minor=100))


async def test_a_bad_request_is_a_gateway_error(fake: FakeStripe) -> None:
    gateway = StripeGateway(fake.api_key, fake.api_base)

    with pytest.raises(GatewayError, match="at least"):
        await gateway.create_session(request(amount_minor=10))
    with pytest.raises(GatewayError, match="expires_at"):
        await gateway.create_session(request(expires_at=datetime.now(UTC) + timedelta(minutes=5)))


async def test_a_bad_key_or_an_outage_is_unavailable(fake: FakeStripe) -> None:
    with pytest.raises(GatewayUnavailableError, match="misconfigured"):
        await StripeGateway("sk_test_wrong", fake.api_base).create_session(request())

    fake.failing = True
    with pytest.raises(GatewayUnavailableError, match="unavailable"):
        await StripeGateway(fake.api_key, fake.api_base).create_session(request())


async def test_an_unreachable_stripe_is_unavailable() -> None:
    with FakeStripe(webhook_secret=SECRET) as gone:
        base = gone.api_base
    gateway = StripeGateway("sk_test_x", base)

    with pytest.raises(GatewayUnavailableError):
        await gateway.create_session(request())


# The fake itself: it must answer stripe-python the way Stripe does.


def client(fake: FakeStripe) -> stripe.StripeClient:
    return stripe.StripeClient(
        fake.api_key, base_addresses={"api": fake.api_base}, max_network_retries=0
    )


def test_fake_reports_missing_params_as_stripe_does(fake: FakeStripe) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client(fake).v1.checkout.sessions.create(
            {"mode": "payment", "line_items": [{"quantity": 1, "price_data": {"currency": "usd"}}]}
        )
    assert missing.value.param == "line_items[0][price_data][unit_amount]"
    assert missing.value.code == "parameter_missing"
    assert missing.value.http_status == 400

    bogus: Any = {"mode": "payment", "bogus": "1"}
    with pytest.raises(stripe.InvalidRequestError, match="unknown parameter"):
        client(fake).v1.checkout.sessions.create(bogus)


def test_fake_retrieves_sessions_and_404s_unknown_ones(fake: FakeStripe) -> None:
    created = client(fake).v1.checkout.sessions.create(
        {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": "eur",
                        "unit_amount": 1500,
                        "product_data": {"name": "Course"},
                    },
                }
            ],
            "success_url": "https://example.com/ok",
        }
    )

    fetched = client(fake).v1.checkout.sessions.retrieve(created.id)

    assert (fetched.id, fetched.status, fetched.amount_total) == (created.id, "open", 1500)
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client(fake).v1.checkout.sessions.retrieve("cs_test_nope")
    assert missing.value.code == "resource_missing"
    assert missing.value.http_status == 404


def test_fake_completes_and_expires_sessions_with_signed_events(fake: FakeStripe) -> None:
    params = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 900,
                    "product_data": {"name": "A"},
                },
            }
        ],
        "client_reference_id": "e-1",
        "metadata": {"payment_id": "p-1"},
    }
    paid = client(fake).v1.checkout.sessions.create(params)  # type: ignore[arg-type]
    unpaid = client(fake).v1.checkout.sessions.create(params)  # type: ignore[arg-type]

    completed = fake.complete_session(paid.id)
    expired = fake.expire_session(unpaid.id)

    event = stripe.Webhook.construct_event(completed.payload, completed.signature, SECRET)
    assert event.type == "checkout.session.completed"
    assert event.data.object.payment_status == "paid"
    assert event.data.object.payment_intent.startswith("pi_")
    assert event.data.object.client_reference_id == "e-1"
    assert json.loads(expired.payload)["data"]["object"]["status"] == "expired"
    assert stripe.Webhook.construct_event(expired.payload, expired.signature, SECRET)
    assert client(fake).v1.checkout.sessions.retrieve(paid.id).status == "complete"
    with pytest.raises(ValueError, match="complete"):
        fake.complete_session(paid.id)


def refund_request(payment_intent: str, **overrides: object) -> RefundRequest:
    fields: dict[str, object] = {
        "refund_id": "2b1c0d9e-0000-4000-8000-0000000000f1",
        "payment_id": request().payment_id,
        "enrollment_id": request().enrollment_id,
        "payment_intent": payment_intent,
        "amount_minor": 4900,
        "currency": "USD",
        "reason": "enrollment_cancelled",
    }
    fields.update(overrides)
    return RefundRequest(**fields)  # type: ignore[arg-type]


async def test_expiring_a_session_closes_it_and_reports_one_paid_first(fake: FakeStripe) -> None:
    gateway = StripeGateway(fake.api_key, fake.api_base)
    open_one = await gateway.create_session(request())
    paid_one = await gateway.create_session(request(enrollment_id="other-enrollment"))
    fake.complete_session(paid_one.id)

    assert await gateway.expire_session(open_one.id) == SESSION_EXPIRED
    assert fake.sessions[open_one.id]["status"] == "expired"
    assert await gateway.expire_session(open_one.id) == SESSION_EXPIRED  # again: still closed
    assert await gateway.expire_session(paid_one.id) == SESSION_COMPLETE
    assert fake.sessions[paid_one.id]["status"] == "complete"
    with pytest.raises(GatewayError):
        await gateway.expire_session("cs_test_unknown")


async def test_a_refund_is_made_once_per_refund_id_and_never_beyond_the_charge(
    fake: FakeStripe,
) -> None:
    gateway = StripeGateway(fake.api_key, fake.api_base)
    session = await gateway.create_session(request())
    intent = fake.complete_session(session.id).data_object["payment_intent"]

    first = await gateway.refund(refund_request(intent))
    again = await gateway.refund(refund_request(intent))  # a retry of the same refund

    assert again.id == first.id
    assert first.id.startswith("re_")
    [made] = fake.refunds.values()
    assert (made["amount"], made["currency"], made["payment_intent"]) == (4900, "usd", intent)
    assert made["metadata"]["reason"] == "enrollment_cancelled"
    assert made["object"] == "refund"  # shaped like Stripe's own fixture
    posts = [r for r in fake.requests if r.path == "/v1/refunds"]
    assert {r.headers["idempotency-key"] for r in posts} == {f"refund-{first_id(posts)}"}
    # Another refund of money already returned is refused: nothing is left to refund.
    with pytest.raises(GatewayError):
        await gateway.refund(refund_request(intent, refund_id="another"))
    with pytest.raises(GatewayError):
        await gateway.refund(refund_request("pi_unknown", refund_id="third"))
    assert len(fake.refunds) == 1


def first_id(posts: list[Any]) -> str:
    return str(posts[0].params["metadata"]["refund_id"])
