-- Stripe Connect: each provider's connected (payout) account, and, per payment, where its
-- money goes (a destination charge) and the platform's application fee, fixed when the
-- payment is opened so a retried checkout asks for the very same charge.
CREATE TABLE payout_accounts (
    provider_id uuid PRIMARY KEY,
    account_id  text NOT NULL UNIQUE,
    gateway     text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE payments
    ADD COLUMN destination_account text NOT NULL DEFAULT '',
    ADD COLUMN application_fee_minor bigint NOT NULL DEFAULT 0
        CHECK (application_fee_minor >= 0);

-- The local provider keeps the same on its sessions, as Stripe does on the PaymentIntent.
ALTER TABLE local_checkout_sessions
    ADD COLUMN destination_account text NOT NULL DEFAULT '',
    ADD COLUMN application_fee_minor bigint NOT NULL DEFAULT 0;
