"""Stripe-shaped webhook events and Stripe's signature scheme, for the local provider.

The local provider sends exactly what Stripe would, so the webhook handler cannot tell the
two apart and one code path (stripe-python's own verification included) serves both.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import stripe

CHECKOUT_COMPLETED = "checkout.session.completed"
CHECKOUT_EXPIRED = "checkout.session.expired"
CHECKOUT_ASYNC_SUCCEEDED = "checkout.session.async_payment_succeeded"
CHECKOUT_ASYNC_FAILED = "checkout.session.async_payment_failed"
CHARGE_REFUNDED = "charge.refunded"
REFUND_CREATED = "refund.created"
REFUND_UPDATED = "refund.updated"
DISPUTE_CREATED = "charge.dispute.created"
DISPUTE_UPDATED = "charge.dispute.updated"
DISPUTE_CLOSED = "charge.dispute.closed"

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


# Random bytes below this map onto the alphabet uniformly (b % 62); the others are dropped.
_UNIFORM_BELOW = 256 - 256 % len(_ALPHABET)


def stripe_id(prefix: str, length: int = 24) -> str:
    """An id in Stripe's style, e.g. evt_1Nq..., with enough randomness to be unguessable:
    each character uniform over the alphabet, from the OS's CSPRNG, as secrets.choice drew
    them. The bytes are read at once and mapped by rejection sampling: secrets.choice asks
    the OS once per character, 39 us for a session's 40 (now 3.4 us)."""
    chars = ""
    while len(chars) < length:
        chars += "".join(
            [
                _ALPHABET[b % len(_ALPHABET)]
                for b in secrets.token_bytes(length + 8)
                if b < _UNIFORM_BELOW
            ]
        )
    return prefix + chars[:length]


def signature_header(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<payload>")>."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode("utf-8"), f"{t}.{payload}".encode(), hashlib.sha256)
    return f"t={t},v1={mac.hexdigest()}"


@dataclass(frozen=True)
class SessionSnapshot:
    """A local checkout session as Stripe's checkout.session object describes it."""

    id: str
    payment_id: str
    enrollment_id: str
    description: str
    amount_minor: int
    currency: str
    customer_email: str
    status: str  # open | complete | expired
    payment_status: str  # unpaid | paid
    payment_intent: str
    success_url: str
    cancel_url: str
    created_at: datetime
    expires_at: datetime
    # A destination charge's connected account and application fee (Stripe Connect).
    destination_account: str = ""
    application_fee_minor: int = 0


def checkout_session_object(session: SessionSnapshot) -> dict[str, Any]:
    return {
        "id": session.id,
        "object": "checkout.session",
        "amount_subtotal": session.amount_minor,
        "amount_total": session.amount_minor,
        "cancel_url": session.cancel_url,
        "client_reference_id": session.enrollment_id,
        "created": int(session.created_at.timestamp()),
        # Stripe reports currencies in lower case.
        "currency": session.currency.lower(),
        "customer_email": session.customer_email or None,
        "expires_at": int(session.expires_at.timestamp()),
        "livemode": False,
        "metadata": {"payment_id": session.payment_id, "enrollment_id": session.enrollment_id},
        "mode": "payment",
        "payment_intent": session.payment_intent or None,
        "payment_status": session.payment_status,
        "status": session.status,
        "success_url": session.success_url,
        "url": None,
    }


@dataclass(frozen=True)
class LocalRefund:
    id: str  # re_...
    amount_minor: int
    metadata: dict[str, str]
    created: int


def refund_object(
    session: SessionSnapshot, refund: LocalRefund, *, charge_id: str
) -> dict[str, Any]:
    """A refund as Stripe's refund object (and a charge's `refunds` list) shows it."""
    return {
        "id": refund.id,
        "object": "refund",
        "amount": refund.amount_minor,
        "charge": charge_id,
        "created": refund.created,
        "currency": session.currency.lower(),
        "metadata": refund.metadata,
        "payment_intent": session.payment_intent,
        "reason": "requested_by_customer",
        "status": "succeeded",
    }


def refunded_charge_object(
    session: SessionSnapshot,
    *,
    charge_id: str,
    amount_refunded: int,
    created: int,
    refunds: list[LocalRefund] | None = None,
) -> dict[str, Any]:
    """The charge behind a paid local session, as Stripe's charge.refunded event shows it
    (with its `refunds` list expanded, as older API versions send it)."""
    metadata = {"payment_id": session.payment_id, "enrollment_id": session.enrollment_id}
    listed = [refund_object(session, r, charge_id=charge_id) for r in refunds or []]
    return {
        "id": charge_id,
        "object": "charge",
        "amount": session.amount_minor,
        "amount_captured": session.amount_minor,
        "amount_refunded": amount_refunded,
        "captured": True,
        "created": created,
        "currency": session.currency.lower(),
        "livemode": False,
        "metadata": metadata,
        "paid": True,
        "payment_intent": session.payment_intent,
        "receipt_email": session.customer_email or None,
        "refunded": amount_refunded >= session.amount_minor,
        "application_fee_amount": session.application_fee_minor or None,
        "transfer_data": (
            {"amount": None, "destination": session.destination_account}
            if session.destination_account
            else None
        ),
        "refunds": {
            "object": "list",
            "data": listed,
            "has_more": False,
            "total_count": len(listed),
            "url": f"/v1/charges/{charge_id}/refunds",
        },
        "status": "succeeded",
    }


@dataclass(frozen=True)
class StripeEvent:
    id: str
    type: str
    payload: str  # the exact JSON body that is signed and sent


def build_event(
    event_type: str, data_object: dict[str, Any], *, created: int | None = None
) -> StripeEvent:
    """A Stripe event of `event_type` about `data_object`, serialised once: the signature
    covers these exact bytes, so they are stored and re-sent verbatim."""
    event_id = stripe_id("evt_")
    payload = _envelope(event_id, event_type, data_object, created)
    return StripeEvent(event_id, event_type, payload)


def _envelope(event_id: str, event_type: str, data_object: Any, created: int | None) -> str:
    event = {
        "id": event_id,
        "object": "event",
        "api_version": stripe.api_version,
        "created": int(time.time()) if created is None else created,
        "data": {"object": data_object},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    return json.dumps(event, separators=(",", ":"))


@dataclass(frozen=True)
class EventAround:
    """A Stripe event whose data object the database writes (CHECKOUT_SESSION_OBJECT_SQL):
    its payload is `before`, the object's JSON, then `after`; the rest is build_event's."""

    id: str
    type: str
    before: str
    after: str


_HOLE = "\x00data.object\x00"


def event_around(event_type: str, *, created: int | None = None) -> EventAround:
    event_id = stripe_id("evt_")
    before, hole, after = _envelope(event_id, event_type, _HOLE, created).partition(
        json.dumps(_HOLE)
    )
    assert hole, "the envelope holds the data object's place once"
    return EventAround(event_id, event_type, before, after)


# checkout_session_object in SQL, over a local_checkout_sessions row `s` (json, its keys in
# the same order): the local provider's pay writes it with the session's change, in one
# statement. tests/integration/test_payments_local_pay.py holds the two equal.
CHECKOUT_SESSION_OBJECT_SQL = """json_build_object(
        'id', s.id,
        'object', 'checkout.session',
        'amount_subtotal', s.amount_minor,
        'amount_total', s.amount_minor,
        'cancel_url', s.cancel_url,
        'client_reference_id', s.enrollment_id::text,
        'created', trunc(extract(epoch FROM s.created_at))::bigint,
        'currency', lower(s.currency),
        'customer_email', NULLIF(s.customer_email, ''),
        'expires_at', trunc(extract(epoch FROM s.expires_at))::bigint,
        'livemode', false,
        'metadata', json_build_object('payment_id', s.payment_id::text,
                                      'enrollment_id', s.enrollment_id::text),
        'mode', 'payment',
        'payment_intent', NULLIF(s.payment_intent, ''),
        'payment_status', s.payment_status,
        'status', s.status,
        'success_url', s.success_url,
        'url', NULL)"""
