"""Stripe Checkout through stripe-python; the only code that calls Stripe's API."""

from __future__ import annotations

import logging

import stripe
from stripe.params.checkout import SessionCreateParams

from services.payments.gateways import (
    GatewayError,
    GatewaySession,
    GatewayUnavailableError,
    SessionRequest,
)

log = logging.getLogger(__name__)

HTTP_TIMEOUT_SECONDS = 20.0
MAX_NETWORK_RETRIES = 2


def session_params(request: SessionRequest) -> SessionCreateParams:
    metadata = {"payment_id": request.payment_id, "enrollment_id": request.enrollment_id}
    params: SessionCreateParams = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": request.currency.lower(),
                    "unit_amount": request.amount_minor,
                    "product_data": {"name": request.description},
                },
            }
        ],
        "client_reference_id": request.enrollment_id,
        "metadata": metadata,
        # Also on the PaymentIntent, so a refund or dispute made in the dashboard can be
        # traced back to its payment.
        "payment_intent_data": {"metadata": metadata},
        "success_url": request.success_url,
        "cancel_url": request.cancel_url,
        "expires_at": int(request.expires_at.timestamp()),
    }
    if request.customer_email:
        params["customer_email"] = request.customer_email
    return params


class StripeGateway:
    name = "stripe"

    def __init__(self, api_key: str, api_base: str = "") -> None:
        self._client = stripe.StripeClient(
            api_key,
            # Tests point this at a fake Stripe; in production it stays Stripe's own.
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=MAX_NETWORK_RETRIES,
            http_client=stripe.HTTPXClient(timeout=HTTP_TIMEOUT_SECONDS),
        )

    async def create_session(self, request: SessionRequest) -> GatewaySession:
        try:
            session = await self._client.v1.checkout.sessions.create_async(
                session_params(request),
                # One checkout per enrollment, even when our caller or stripe-python retries.
                {"idempotency_key": request.enrollment_id},
            )
        except (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError) as exc:
            raise GatewayUnavailableError(f"Stripe is unavailable: {exc.user_message}") from exc
        except (stripe.AuthenticationError, stripe.PermissionError) as exc:
            log.error("Stripe refused our API key; check STRIPE_API_KEY: %s", exc.user_message)
            raise GatewayUnavailableError("the payment gateway is misconfigured") from exc
        except stripe.StripeError as exc:
            raise GatewayError(f"Stripe refused the checkout: {exc.user_message}") from exc
        if not session.id or not session.url:
            raise GatewayError(f"Stripe returned session {session.id!r} without a URL")
        return GatewaySession(id=session.id, url=session.url)
