-- Refunds from every source (our API, the gateway's dashboard, lost disputes), partial
-- refunds, disputes, and what the provider earnings need.

-- What was bought, for earnings per program (NULL for payments made before this column).
ALTER TABLE payments ADD COLUMN program_id uuid;

-- A refund the gateway reports is booked once, whichever event (charge.refunded,
-- refund.updated, a redelivery) brings it first.
CREATE UNIQUE INDEX refunds_gateway_refund ON refunds (gateway_refund_id)
    WHERE gateway_refund_id <> '';
-- Free text given with a refund asked through the API.
ALTER TABLE refunds ADD COLUMN note text NOT NULL DEFAULT '';

-- Chargebacks the gateway reports (dp_...). A lost one is booked like a full refund.
CREATE TABLE disputes (
    id           uuid PRIMARY KEY,
    gateway_dispute_id text NOT NULL UNIQUE,
    payment_id   uuid NOT NULL REFERENCES payments (id),
    amount_minor bigint NOT NULL,
    currency     text NOT NULL,
    reason       text NOT NULL DEFAULT '',
    status       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX disputes_newest ON disputes (created_at DESC, id DESC);

ALTER TABLE payout_ledger
    DROP CONSTRAINT payout_ledger_kind_check,
    ADD CONSTRAINT payout_ledger_kind_check CHECK (kind IN ('charge', 'refund', 'dispute')),
    DROP CONSTRAINT payout_ledger_refund_line,
    ADD CONSTRAINT payout_ledger_refund_line
        CHECK ((kind IN ('refund', 'dispute')) = (refund_id IS NOT NULL));
