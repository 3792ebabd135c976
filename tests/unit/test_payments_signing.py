"""Stripe's webhook signature scheme, as the local provider signs and the handler verifies.

stripe-python is the reference: what we sign must pass its construct_event, and what it
rejects must be rejected before the handler touches anything.
"""

from __future__ import annotations

import json
import time

import pytest
import stripe

from services.common.errors import InvalidArgumentError
from services.payments.stripe_events import (
    CHECKOUT_COMPLETED,
    build_event,
    signature_header,
)
from services.payments.webhooks import TOLERANCE_SECONDS, verify

SECRET = "whsec_unit_test_secret"


def event_payload() -> str:
    return build_event(
        CHECKOUT_COMPLETED, {"id": "cs_test_1", "object": "checkout.session"}
    ).payload


def test_our_header_is_the_one_stripe_python_would_make() -> None:
    payload = event_payload()
    now = int(time.time())

    ours = signature_header(payload, SECRET, now)

    assert ours == stripe.WebhookSignature.generate_signature_header(payload, SECRET, now)
    assert ours.startswith(f"t={now},v1=")


def test_a_signed_event_round_trips_through_stripe_construct_event() -> None:
    payload = event_payload()

    event = stripe.Webhook.construct_event(payload, signature_header(payload, SECRET), SECRET)

    assert event.type == CHECKOUT_COMPLETED
    assert event.data.object.id == "cs_test_1"


def test_verify_returns_the_event_for_a_good_signature() -> None:
    payload = event_payload()

    event = verify(payload.encode(), signature_header(payload, SECRET), SECRET)

    assert event["type"] == CHECKOUT_COMPLETED
    assert event["id"].startswith("evt_")


@pytest.mark.parametrize(
    ("mutate", "why"),
    [
        (lambda p, s: (p.replace("cs_test_1", "cs_test_2"), s), "tampered body"),
        (lambda p, s: (p, signature_header(p, "whsec_someone_else")), "wrong secret"),
        (
            lambda p, s: (p, signature_header(p, SECRET, int(time.time()) - TOLERANCE_SECONDS - 5)),
            "expired timestamp",
        ),
        (lambda p, s: (p, s.replace("v1=", "v0=")), "no v1 signature"),
        (lambda p, s: (p, "garbage"), "unparseable header"),
    ],
)
def test_verify_rejects_what_stripe_rejects(mutate, why: str) -> None:
    payload = event_payload()
    body, header = mutate(payload, signature_header(payload, SECRET))

    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, header, SECRET, tolerance=TOLERANCE_SECONDS)
    with pytest.raises(InvalidArgumentError, match="signature verification failed") as rejected:
        verify(body.encode(), header, SECRET)
    assert rejected.value.violations[0].field == "signature", why


def test_a_timestamp_just_inside_the_tolerance_is_accepted() -> None:
    payload = event_payload()
    header = signature_header(payload, SECRET, int(time.time()) - TOLERANCE_SECONDS + 30)

    assert verify(payload.encode(), header, SECRET)["object"] == "event"


def test_rotated_secrets_any_matching_v1_signature_is_enough() -> None:
    payload = event_payload()
    t = int(time.time())
    old = signature_header(payload, "whsec_old", t).split(",")[1]
    header = f"{signature_header(payload, SECRET, t)},{old}"

    assert verify(payload.encode(), header, SECRET)["id"]


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe not utf-8",
        b"not json at all",
        b"[1, 2, 3]",
        json.dumps({"object": "event", "id": "evt_1", "type": "x", "data": {}}).encode(),
        json.dumps({"object": "event", "type": "x", "data": {"object": {}}}).encode(),
    ],
)
def test_a_correctly_signed_body_that_is_not_an_event_is_invalid(body: bytes) -> None:
    text = body.decode("utf-8", errors="replace")
    with pytest.raises(InvalidArgumentError) as rejected:
        verify(body, signature_header(text, SECRET), SECRET)
    assert rejected.value.violations[0].field == "payload"


SIGNED_AT = 1_800_000_000  # a fixed signing time: the tolerance is checked against `now`


@pytest.mark.parametrize(
    "offset",
    [-TOLERANCE_SECONDS, 0, TOLERANCE_SECONDS],
    ids=["oldest-accepted", "now", "newest-accepted"],
)
def test_a_timestamp_within_the_tolerance_either_way_is_accepted(offset: int) -> None:
    payload = event_payload()
    header = signature_header(payload, SECRET, SIGNED_AT + offset)

    event = verify(payload.encode(), header, SECRET, now=lambda: float(SIGNED_AT))

    assert event["type"] == CHECKOUT_COMPLETED


@pytest.mark.parametrize(
    "offset",
    [-TOLERANCE_SECONDS - 1, TOLERANCE_SECONDS + 1, 10 * 365 * 24 * 3600],
    ids=["just-too-old", "just-too-new", "ten-years-ahead"],
)
def test_a_timestamp_beyond_the_tolerance_either_way_is_refused(offset: int) -> None:
    payload = event_payload()
    header = signature_header(payload, SECRET, SIGNED_AT + offset)

    with pytest.raises(InvalidArgumentError, match="tolerance") as rejected:
        verify(payload.encode(), header, SECRET, now=lambda: float(SIGNED_AT))
    assert rejected.value.violations[0].field == "signature"


def test_a_future_timestamp_is_refused_against_the_real_clock_too() -> None:
    payload = event_payload()
    header = signature_header(payload, SECRET, int(time.time()) + 10 * 365 * 24 * 3600)

    with pytest.raises(InvalidArgumentError, match="tolerance"):
        verify(payload.encode(), header, SECRET)
