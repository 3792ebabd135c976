-- Payments: one per enrollment. enrollment_id is UNIQUE because it is CreateCheckout's
-- idempotency key: a retried call finds this row instead of opening a second checkout.
CREATE TABLE payments (
    id                  uuid PRIMARY KEY,
    enrollment_id       uuid NOT NULL UNIQUE,
    learner_id          text NOT NULL,
    learner_email       text NOT NULL DEFAULT '',
    provider_id         uuid NOT NULL,
    amount_minor        bigint NOT NULL CHECK (amount_minor > 0),
    currency            text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    description         text NOT NULL,
    status              text NOT NULL
                        CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED', 'EXPIRED', 'REFUNDED')),
    gateway             text NOT NULL CHECK (gateway IN ('local', 'stripe')),
    checkout_session_id text UNIQUE,
    checkout_url        text NOT NULL DEFAULT '',
    success_url         text NOT NULL,
    cancel_url          text NOT NULL,
    gateway_payment_id  text NOT NULL DEFAULT '',
    failure_reason      text NOT NULL DEFAULT '',
    expires_at          timestamptz NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX payments_learner ON payments (learner_id);

-- Provider payouts ledger: one 'charge' line per succeeded payment (UNIQUE, so a replayed
-- webhook cannot book it twice); refunds will add reversing lines of another kind.
CREATE TABLE payout_ledger (
    id                 bigserial PRIMARY KEY,
    payment_id         uuid NOT NULL REFERENCES payments (id),
    provider_id        uuid NOT NULL,
    kind               text NOT NULL CHECK (kind IN ('charge')),
    currency           text NOT NULL,
    gross_amount_minor bigint NOT NULL,
    platform_fee_minor bigint NOT NULL,
    provider_net_minor bigint NOT NULL,
    fee_bps            integer NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (payment_id, kind),
    CHECK (platform_fee_minor + provider_net_minor = gross_amount_minor)
);

CREATE INDEX payout_ledger_provider ON payout_ledger (provider_id, created_at);

-- Inbox of gateway webhooks: the primary key on Stripe's event id, inserted in the same
-- transaction as the event's effect, makes a redelivered webhook a no-op.
CREATE TABLE webhook_events (
    event_id    text PRIMARY KEY,
    event_type  text NOT NULL,
    payment_id  uuid,
    outcome     text NOT NULL,
    payload     jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- Webhooks that were authentic but did not fit the payment (wrong amount, currency,
-- session or enrollment; paid after the payment closed): kept for an operator, never applied.
CREATE TABLE payment_anomalies (
    id         bigserial PRIMARY KEY,
    payment_id uuid REFERENCES payments (id),
    event_id   text NOT NULL REFERENCES webhook_events (event_id),
    kind       text NOT NULL,
    detail     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The local provider: this service plays Stripe's part in development and tests. Its
-- tables stand for Stripe's own state, so nothing references payments from here.
CREATE TABLE local_checkout_sessions (
    id               text PRIMARY KEY,
    -- The local stand-in for Stripe's Idempotency-Key: one session per payment.
    payment_id       uuid NOT NULL UNIQUE,
    enrollment_id    uuid NOT NULL,
    description      text NOT NULL,
    amount_minor     bigint NOT NULL,
    currency         text NOT NULL,
    customer_email   text NOT NULL DEFAULT '',
    success_url      text NOT NULL,
    cancel_url       text NOT NULL,
    status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'complete', 'expired')),
    payment_status   text NOT NULL DEFAULT 'unpaid' CHECK (payment_status IN ('unpaid', 'paid')),
    payment_intent   text NOT NULL DEFAULT '',
    failed_attempts  integer NOT NULL DEFAULT 0,
    last_decline     text NOT NULL DEFAULT '',
    expires_at       timestamptz NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    closed_at        timestamptz
);

CREATE INDEX local_checkout_sessions_open ON local_checkout_sessions (expires_at)
    WHERE status = 'open';

-- Webhooks the local provider owes the gateway, written in the same transaction as the
-- session change so none is lost; the body is stored verbatim and signed at each attempt.
CREATE TABLE local_webhook_deliveries (
    id              bigserial PRIMARY KEY,
    event_id        text NOT NULL UNIQUE,
    event_type      text NOT NULL,
    payload         text NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_status     integer,
    last_error      text NOT NULL DEFAULT '',
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX local_webhook_deliveries_due ON local_webhook_deliveries (next_attempt_at)
    WHERE delivered_at IS NULL;

CREATE FUNCTION local_webhook_delivery_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('payments_webhook_delivery', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER local_webhook_delivery_notify AFTER INSERT ON local_webhook_deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION local_webhook_delivery_notify();
