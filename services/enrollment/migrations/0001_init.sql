CREATE TABLE enrollments (
    id              uuid PRIMARY KEY,
    learner_id      text NOT NULL,
    learner_email   text NOT NULL DEFAULT '',
    program_id      uuid NOT NULL,
    provider_id     uuid NOT NULL,
    -- upskill.enrollment.v1.ProgramSnapshot: what was bought, frozen at enrollment time.
    snapshot        bytea NOT NULL,
    price_minor     bigint NOT NULL CHECK (price_minor >= 0),
    currency        char(3) NOT NULL,
    status          text NOT NULL CHECK (status IN
                        ('PENDING_PAYMENT', 'ACTIVE', 'COMPLETED', 'EXPIRED', 'CANCELLED', 'REFUNDED')),
    payment_id      uuid,
    checkout_url    text NOT NULL DEFAULT '',
    credential_id   uuid,
    grade           text NOT NULL DEFAULT '',
    evidence_url    text NOT NULL DEFAULT '',
    idempotency_key text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- A retried CreateEnrollment with the same key finds the first one.
CREATE UNIQUE INDEX enrollments_idempotency ON enrollments (learner_id, idempotency_key)
    WHERE idempotency_key <> '';
-- One live enrollment per learner and program.
CREATE UNIQUE INDEX enrollments_one_live ON enrollments (learner_id, program_id)
    WHERE status IN ('PENDING_PAYMENT', 'ACTIVE', 'COMPLETED');
CREATE UNIQUE INDEX enrollments_payment ON enrollments (payment_id) WHERE payment_id IS NOT NULL;
CREATE INDEX enrollments_learner ON enrollments (learner_id, created_at DESC, id DESC);
CREATE INDEX enrollments_provider ON enrollments (provider_id, created_at DESC, id DESC);
CREATE INDEX enrollments_program_seats ON enrollments (program_id)
    WHERE status IN ('PENDING_PAYMENT', 'ACTIVE', 'COMPLETED');

-- One row per program, locked while seats are counted, so concurrent enrollments in
-- a program with a capacity cannot oversell it.
CREATE TABLE program_seats (
    program_id uuid PRIMARY KEY
);
