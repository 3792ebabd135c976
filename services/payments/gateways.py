"""The one seam between payments and a payment gateway: opening a hosted checkout.

Everything after that (paid, expired) comes back as a signed Stripe-shaped webhook, from
Stripe itself or from the local provider, so both share the same verification and handling.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


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


@dataclass(frozen=True)
class GatewaySession:
    id: str  # cs_...
    url: str


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
