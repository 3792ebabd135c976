-- Enrollments that closed (cancelled, expired): their checkout must not stay payable.
-- Written by the payments consumer of the enrollment's terminal events; the checkout
-- closer expires the gateway session and records when that is done. CreateCheckout
-- refuses to open a checkout for an enrollment listed here.
CREATE TABLE closed_enrollments (
    enrollment_id   uuid PRIMARY KEY,
    reason          text NOT NULL,
    closed_at       timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text NOT NULL DEFAULT '',
    -- When the checkout was closed (or found paid, or never opened): nothing left to do.
    settled_at      timestamptz
);

CREATE INDEX closed_enrollments_due ON closed_enrollments (next_attempt_at)
    WHERE settled_at IS NULL;

-- Money returned to a learner. Today: payments the enrollment rejected (it closed before
-- the money arrived). One row per cause (idempotency_key), so a redelivered rejection
-- cannot refund twice; the row's id is the gateway's Idempotency-Key.
CREATE TABLE refunds (
    id                uuid PRIMARY KEY,
    payment_id        uuid NOT NULL REFERENCES payments (id),
    idempotency_key   text NOT NULL UNIQUE,
    amount_minor      bigint NOT NULL CHECK (amount_minor > 0),
    currency          text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    reason            text NOT NULL,
    full_refund       boolean NOT NULL,
    status            text NOT NULL DEFAULT 'PENDING'
                      CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED')),
    gateway           text NOT NULL,
    gateway_refund_id text NOT NULL DEFAULT '',
    attempts          integer NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    last_error        text NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL DEFAULT now(),
    completed_at      timestamptz
);

CREATE INDEX refunds_due ON refunds (next_attempt_at) WHERE status = 'PENDING';
CREATE INDEX refunds_newest ON refunds (created_at DESC, id DESC);
CREATE INDEX refunds_payment ON refunds (payment_id);

-- The ledger books a refund as a line of its own that reverses the charge: one charge
-- line per payment, one line per refund.
ALTER TABLE payout_ledger
    DROP CONSTRAINT payout_ledger_kind_check,
    ADD CONSTRAINT payout_ledger_kind_check CHECK (kind IN ('charge', 'refund')),
    DROP CONSTRAINT payout_ledger_payment_id_kind_key,
    ADD COLUMN refund_id uuid REFERENCES refunds (id),
    ADD CONSTRAINT payout_ledger_refund_line CHECK ((kind = 'refund') = (refund_id IS NOT NULL));

CREATE UNIQUE INDEX payout_ledger_one_charge ON payout_ledger (payment_id) WHERE kind = 'charge';
CREATE UNIQUE INDEX payout_ledger_one_line_per_refund ON payout_ledger (refund_id)
    WHERE refund_id IS NOT NULL;

-- The local provider's refunds (its stand-in for Stripe's), one per Idempotency-Key.
CREATE TABLE local_refunds (
    id              text PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    payment_intent  text NOT NULL,
    amount_minor    bigint NOT NULL,
    currency        text NOT NULL,
    metadata        jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- The local provider finds the paid session behind a refund by its PaymentIntent.
CREATE INDEX local_checkout_sessions_payment_intent ON local_checkout_sessions (payment_intent)
    WHERE payment_intent <> '';
