"""Payments settings from the environment; a missing or bad one fails start-up by name."""

from __future__ import annotations

from dataclasses import dataclass

from services.common import settings

LOCAL = "local"
STRIPE = "stripe"

# Stripe refuses a Checkout Session whose expires_at is less than 30 minutes after its
# creation. Our expires_at is fixed when the payment is created (an idempotent retry must
# send the very same parameters), so keep five minutes of slack for a retried create.
STRIPE_MIN_TTL_SECONDS = 35 * 60
STRIPE_MAX_TTL_SECONDS = 24 * 3600


@dataclass(frozen=True)
class PaymentsSettings:
    provider: str
    webhook_secret: str
    stripe_api_key: str
    stripe_api_base: str
    checkout_ttl_seconds: int
    public_base_url: str
    local_webhook_url: str
    platform_fee_bps: int
    # Charges count as pending in a provider's earnings while they may still be refunded.
    refund_window_days: int = 14

    @classmethod
    def from_env(cls) -> PaymentsSettings:
        provider = settings.choice("PAYMENTS_PROVIDER", LOCAL, (LOCAL, STRIPE))
        # Both modes verify webhooks with it; the local provider also signs with it.
        webhook_secret = settings.required(
            "STRIPE_WEBHOOK_SECRET", "the webhook signing secret (whsec_...)"
        )
        api_key = (
            settings.required("STRIPE_API_KEY", "the Stripe secret key (sk_...)")
            if provider == STRIPE
            else settings.optional("STRIPE_API_KEY")
        )
        ttl = settings.integer("CHECKOUT_TTL_SECONDS", 1800, minimum=1)
        if provider == STRIPE and ttl > STRIPE_MAX_TTL_SECONDS:
            raise settings.ConfigError(
                f"setting CHECKOUT_TTL_SECONDS must be <= {STRIPE_MAX_TTL_SECONDS} with Stripe"
            )
        fee_bps = settings.integer("PLATFORM_FEE_BPS", 1000, minimum=0)
        if fee_bps > 10_000:
            raise settings.ConfigError(f"setting PLATFORM_FEE_BPS must be <= 10000, got {fee_bps}")
        public_base_url = settings.optional("PUBLIC_BASE_URL", "http://127.0.0.1:8080").rstrip("/")
        return cls(
            provider=provider,
            webhook_secret=webhook_secret,
            stripe_api_key=api_key,
            stripe_api_base=settings.optional("STRIPE_API_BASE").rstrip("/"),
            checkout_ttl_seconds=ttl,
            public_base_url=public_base_url,
            local_webhook_url=settings.optional(
                "LOCAL_WEBHOOK_URL", f"{public_base_url}/webhooks/stripe"
            ),
            platform_fee_bps=fee_bps,
            refund_window_days=settings.integer("REFUND_WINDOW_DAYS", 14, minimum=0),
        )

    @property
    def effective_ttl_seconds(self) -> int:
        """How long a new checkout stays open at the chosen gateway."""
        if self.provider == STRIPE:
            return max(self.checkout_ttl_seconds, STRIPE_MIN_TTL_SECONDS)
        return self.checkout_ttl_seconds
