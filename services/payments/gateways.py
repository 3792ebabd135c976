"""The one seam between payments and a payment gateway: opening a hosted checkout,
closing one that must no longer be paid, and returning money.

Everything after that (paid, expired) comes back as a signed Stripe-shaped webhook, from
Stripe itself or from the local provider, so both share the same verification and handling.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from services.payments.domain import SeatPackOrder


@dataclass(frozen=True)
class SessionRequest:
    """A checkout session to open for one payment (all of it comes from the stored payment)."""

    payment_id: str
    enrollment_id: str
    customer_email: str
    amount_minor: int
    currency: str  # ISO 4217 upper case; gateways lower-case it as Stripe does
    description: str
    success_url: str
    cancel_url: str
    expires_at: datetime
    # Stripe Connect: a destination charge to this connected account, keeping the fee.
    destination_account: str = ""
    application_fee_minor: int = 0
    # An employer's seat pack: `seats` line items at the price per seat, naming the employer.
    seat_pack: SeatPackOrder | None = None


@dataclass(frozen=True)
class GatewaySession:
    id: str  # cs_...
    url: str


@dataclass(frozen=True)
class RefundRequest:
    """Return `amount_minor` of a paid checkout's PaymentIntent."""

    refund_id: str  # ours; also the Idempotency-Key, so a retry never refunds twice
    payment_id: str
    enrollment_id: str
    payment_intent: str  # pi_...
    amount_minor: int
    currency: str
    reason: str  # ours, e.g. enrollment_cancelled; kept in the refund's metadata
    # A destination charge: take the money back from the connected account too, and give
    # back the application fee in proportion.
    reverse_transfer: bool = False


@dataclass(frozen=True)
class GatewayRefund:
    id: str  # re_...
    status: str  # Stripe's: succeeded, pending, ...


# What expire_session reports: the session is closed now, or it was paid before we got there.
SESSION_EXPIRED = "expired"
SESSION_COMPLETE = "complete"


class GatewayError(Exception):
    """The gateway refused the request; retrying the same request will not help."""


class GatewayUnavailableError(Exception):
    """The gateway could not be reached or failed; the same request may be retried."""


class CheckoutGateway(Protocol):
    name: str

    async def create_session(self, request: SessionRequest) -> GatewaySession:
        """Open (or, for a payment seen before, return) its hosted checkout session.

        Must be idempotent per payment: a retry never opens a second session.
        """
        ...

    async def expire_session(self, session_id: str) -> str:
        """Close an open session so it can no longer be paid (Stripe then sends
        checkout.session.expired). SESSION_EXPIRED when it is closed (also if it already
        was), SESSION_COMPLETE when it was paid first: that money comes back as a
        payment the enrollment rejects, and is refunded."""
        ...

    async def refund(self, request: RefundRequest) -> GatewayRefund:
        """Return money; idempotent on request.refund_id."""
        ...

    async def create_payout_account(self, provider_id: str) -> str:
        """A connected account for the provider's payouts (acct_...); idempotent per
        provider."""
        ...

    async def onboarding_link(self, account_id: str, refresh_url: str, return_url: str) -> str:
        """A short-lived link where the provider completes the account's onboarding."""
        ...
