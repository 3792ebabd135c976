-- Refunds of a seat pack's unassigned seats: the seats go back to the program at once
-- (seat_packs.seats drops), and each row is the partial refund payments owes for them,
-- its id the refund's idempotency key, so a request interrupted before payments answered
-- is re-sent, never doubled or lost.
ALTER TABLE seat_packs ADD COLUMN seats_refunded integer NOT NULL DEFAULT 0;

CREATE TABLE seat_pack_refunds (
    id           uuid PRIMARY KEY,
    seat_pack_id uuid NOT NULL REFERENCES seat_packs (id),
    seats        integer NOT NULL CHECK (seats > 0),
    amount_minor bigint NOT NULL CHECK (amount_minor >= 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- Set once payments accepted it (its refund worker then returns the money).
    refund_id    uuid,
    sent_at      timestamptz
);
CREATE INDEX seat_pack_refunds_unsent ON seat_pack_refunds (seat_pack_id) WHERE sent_at IS NULL;
