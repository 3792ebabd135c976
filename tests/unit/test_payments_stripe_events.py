"""The local provider's events have Stripe's shape, so the same handler reads both."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import stripe

from services.payments import stripe_events
from services.payments.stripe_events import (
    _ALPHABET,
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


def test_id_characters_are_uniform_over_the_alphabet() -> None:
    """Drawn from bytes at once by rejection sampling: every character of the alphabet,
    about equally often (secrets.choice's distribution), and no other."""
    drawn = "".join(stripe_id("", 40) for _ in range(5000))
    counts = {c: drawn.count(c) for c in _ALPHABET}
    assert set(drawn) == set(_ALPHABET)
    assert len(drawn) == 200_000
    expected = len(drawn) / len(_ALPHABET)
    # Chi-square with 61 degrees of freedom: above 110 once in ~10,000 runs for a uniform draw.
    assert sum((n - expected) ** 2 / expected for n in counts.values()) < 110


def test_id_bytes_beyond_the_uniform_range_are_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bytes 248-255 would favour the first 8 characters: they are dropped, and more drawn."""
    draws = iter([bytes([255, 248, 0, 61, 62]), bytes([1, 2, 3, 4, 5])])
    monkeypatch.setattr(stripe_events.secrets, "token_bytes", lambda n: next(draws))

    assert stripe_events.stripe_id("x_", 5) == "x_A9ABC"
