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

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def stripe_id(prefix: str, length: int = 24) -> str:
    """An id in Stripe's style, e.g. evt_1Nq..., with enough randomness to be unguessable."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


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


def refunded_charge_object(
    session: SessionSnapshot, *, charge_id: str, amount_refunded: int, created: int
) -> dict[str, Any]:
    """The charge behind a paid local session, as Stripe's charge.refunded event shows it."""
    metadata = {"payment_id": session.payment_id, "enrollment_id": session.enrollment_id}
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
    return StripeEvent(event_id, event_type, json.dumps(event, separators=(",", ":")))
