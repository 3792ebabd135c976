-- Issue 10: learners see what their employer sees, and a credential they earned on their
-- own (an enrollment they paid for, not a seat of a pack) reaches an employer's team view
-- only while they share it. The consent lives here, beside the team view that applies it
-- (services/enrollment/employers.py `seen_by`): one rule, no cross-service reads.
CREATE TABLE employer_credential_shares (
    employer_id   uuid NOT NULL REFERENCES employers (id),
    learner_id    text NOT NULL,
    enrollment_id uuid NOT NULL REFERENCES enrollments (id),
    credential_id uuid NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (employer_id, enrollment_id)
);
CREATE INDEX employer_credential_shares_learner ON employer_credential_shares (learner_id);

-- Keyset listings: a pack's invitations and a person's employers, newest first.
CREATE INDEX seat_invitations_pack_listing
    ON seat_invitations (seat_pack_id, created_at DESC, id DESC);
CREATE INDEX employers_listing ON employers (created_at DESC, id DESC);
