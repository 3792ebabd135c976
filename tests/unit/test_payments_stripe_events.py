"""The local provider's events have Stripe's shape, so the same handler reads both."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import stripe

from services.payments.stripe_events import (
    CHECKOUT_COMPLETED,
    SessionSnapshot,
    build_event,
    checkout_session_object,
    signature_header,
    stripe_id,
)


def session(**overrides: object) -> SessionSnapshot:
    now = datetime.now(UTC)
    fields: dict[str, object] = {
        "id": "cs_test_abc",
        "payment_id": "p-1",
        "enrollment_id": "e-1",
        "description": "Course",
        "amount_minor": 4900,
        "currency": "USD",
        "customer_email": "alice@example.com",
        "status": "complete",
        "payment_status": "paid",
        "payment_intent": "pi_1",
        "success_url": "https://example.com/ok",
        "cancel_url": "https://example.com/no",
        "created_at": now,
        "expires_at": now + timedelta(minutes=30),
    }
    fields.update(overrides)
    return SessionSnapshot(**fields)  # type: ignore[arg-type]


def test_a_completed_event_looks_like_stripes() -> None:
    event = build_event(CHECKOUT_COMPLETED, checkout_session_object(session()))
    body = json.loads(event.payload)

    assert event.id == body["id"]
    assert body["id"].startswith("evt_")
    assert body["object"] == "event"
    assert body["type"] == CHECKOUT_COMPLETED
    assert body["api_version"] == stripe.api_version
    assert isinstance(body["created"], int)
    obj = body["data"]["object"]
    assert obj["object"] == "checkout.session"
    assert (obj["id"], obj["amount_total"], obj["currency"]) == ("cs_test_abc", 4900, "usd")
    assert (obj["status"], obj["payment_status"], obj["payment_intent"]) == (
        "complete",
        "paid",
        "pi_1",
    )
    assert obj["client_reference_id"] == "e-1"
    assert obj["metadata"] == {"payment_id": "p-1", "enrollment_id": "e-1"}


def test_stripe_python_reads_our_event() -> None:
    event = build_event(CHECKOUT_COMPLETED, checkout_session_object(session()))

    parsed = stripe.Webhook.construct_event(
        event.payload, signature_header(event.payload, "whsec_x"), "whsec_x"
    )

    assert parsed.id == event.id
    assert parsed.data.object.amount_total == 4900
    assert parsed.data.object.metadata["payment_id"] == "p-1"


def test_an_open_session_has_no_payment_intent_yet() -> None:
    obj = checkout_session_object(
        session(status="open", payment_status="unpaid", payment_intent="")
    )

    assert obj["payment_intent"] is None


def test_ids_are_prefixed_and_unguessable() -> None:
    ids = {stripe_id("cs_test_", 40) for _ in range(100)}

    assert len(ids) == 100
    assert all(i.startswith("cs_test_") and len(i) == 48 and i.isascii() for i in ids)
