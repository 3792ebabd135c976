"""Stripe Checkout through stripe-python; the only code that calls Stripe's API."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import stripe
from stripe.params import RefundCreateParams
from stripe.params.checkout import SessionCreateParams

from services.payments.gateways import (
    SESSION_COMPLETE,
    SESSION_EXPIRED,
    GatewayError,
    GatewayRefund,
    GatewaySession,
    GatewayUnavailableError,
    RefundRequest,
    SessionRequest,
)

log = logging.getLogger(__name__)

HTTP_TIMEOUT_SECONDS = 20.0
MAX_NETWORK_RETRIES = 2


def session_params(request: SessionRequest) -> SessionCreateParams:
    metadata = {"payment_id": request.payment_id, "enrollment_id": request.enrollment_id}
    quantity, unit_amount = 1, request.amount_minor
    pack = request.seat_pack
    if pack is not None:
        # A seat pack: Stripe's page and receipt show the seats at their price per seat and
        # the employer (in the metadata too, for whoever reads the payment at Stripe).
        quantity, unit_amount = pack.seats, pack.price_per_seat_minor
        metadata |= {
            "seat_pack_id": request.enrollment_id,
            "employer_id": pack.employer_id,
            "employer_name": pack.employer_name[:500],
            "seats": str(pack.seats),
        }
    params: SessionCreateParams = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": quantity,
                "price_data": {
                    "currency": request.currency.lower(),
                    "unit_amount": unit_amount,
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
    if request.destination_account:
        # A destination charge: the provider's connected account receives the payment less
        # the platform's application fee.
        params["payment_intent_data"] = {
            "metadata": metadata,
            "application_fee_amount": request.application_fee_minor,
            "transfer_data": {"destination": request.destination_account},
        }
    if pack is not None:
        # The PaymentIntent's description is what Stripe's receipt email names.
        params["payment_intent_data"]["description"] = request.description
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
        with _translated_errors("the checkout"):
            session = await self._client.v1.checkout.sessions.create_async(
                session_params(request),
                # One checkout per enrollment, even when our caller or stripe-python retries.
                {"idempotency_key": request.enrollment_id},
            )
        if not session.id or not session.url:
            raise GatewayError(f"Stripe returned session {session.id!r} without a URL")
        return GatewaySession(id=session.id, url=session.url)

    async def expire_session(self, session_id: str) -> str:
        try:
            with _translated_errors("expiring the checkout"):
                await self._client.v1.checkout.sessions.expire_async(session_id)
            return SESSION_EXPIRED
        except GatewayError:
            # Stripe expires only open sessions: find out whether it was paid or closed.
            with _translated_errors("reading the checkout"):
                session = await self._client.v1.checkout.sessions.retrieve_async(session_id)
            if session.status == "open":
                raise
            return SESSION_COMPLETE if session.status == "complete" else SESSION_EXPIRED

    async def refund(self, request: RefundRequest) -> GatewayRefund:
        params: RefundCreateParams = {
            "payment_intent": request.payment_intent,
            "amount": request.amount_minor,
            # Stripe's closest reason; ours (e.g. enrollment_cancelled) is metadata.
            "reason": "requested_by_customer",
            "metadata": {
                "refund_id": request.refund_id,
                "payment_id": request.payment_id,
                "enrollment_id": request.enrollment_id,
                "reason": request.reason,
            },
        }
        if request.reverse_transfer:
            # A destination charge: the connected account gives its share back, and the
            # platform its application fee, both in proportion to the refund.
            params["reverse_transfer"] = True
            params["refund_application_fee"] = True
        with _translated_errors("the refund"):
            refund = await self._client.v1.refunds.create_async(
                params,
                # One refund per refund row, however often the worker or stripe-python retry.
                {"idempotency_key": f"refund-{request.refund_id}"},
            )
        if refund.status in ("failed", "canceled"):
            raise GatewayError(f"Stripe refund {refund.id} is {refund.status}")
        return GatewayRefund(id=refund.id, status=refund.status or "")

    async def create_payout_account(self, provider_id: str) -> str:
        with _translated_errors("the payout account"):
            account = await self._client.v1.accounts.create_async(
                {"type": "express", "metadata": {"provider_id": provider_id}},
                # One connected account per provider, however often it is asked for.
                {"idempotency_key": f"account-{provider_id}"},
            )
        return account.id

    async def onboarding_link(self, account_id: str, refresh_url: str, return_url: str) -> str:
        with _translated_errors("the onboarding link"):
            link = await self._client.v1.account_links.create_async(
                {
                    "account": account_id,
                    "refresh_url": refresh_url,
                    "return_url": return_url,
                    "type": "account_onboarding",
                }
            )
        return link.url


@contextlib.contextmanager
def _translated_errors(what: str) -> Iterator[None]:
    """stripe-python's errors as ours: worth retrying (GatewayUnavailableError) or not."""
    try:
        yield
    except (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError) as exc:
        raise GatewayUnavailableError(f"Stripe is unavailable: {exc.user_message}") from exc
    except (stripe.AuthenticationError, stripe.PermissionError) as exc:
        log.error("Stripe refused our API key; check STRIPE_API_KEY: %s", exc.user_message)
        raise GatewayUnavailableError("the payment gateway is misconfigured") from exc
    except stripe.StripeError as exc:
        raise GatewayError(f"Stripe refused {what}: {exc.user_message}") from exc
