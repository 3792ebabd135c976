-- Issue 10: employers buy seat packs; each redeemed seat is an ACTIVE enrollment paid by
-- the pack. Enrollment owns them because it owns seats: a pack's seats are counted with
-- single purchases under the same program_seats lock (services/enrollment/seats.py).

CREATE TABLE employers (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE employer_members (
    employer_id uuid NOT NULL REFERENCES employers (id),
    subject     text NOT NULL,
    email       text NOT NULL DEFAULT '',
    role        text NOT NULL CHECK (role IN ('OWNER', 'MANAGER')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (employer_id, subject)
);
CREATE INDEX employer_members_subject ON employer_members (subject);

CREATE TABLE employer_invitations (
    id          uuid PRIMARY KEY,
    employer_id uuid NOT NULL REFERENCES employers (id),
    email       text NOT NULL,
    invited_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    accepted_at timestamptz,
    accepted_by text
);
CREATE UNIQUE INDEX employer_invitations_open ON employer_invitations (employer_id, email)
    WHERE accepted_at IS NULL;

CREATE TABLE seat_packs (
    id           uuid PRIMARY KEY,
    employer_id  uuid NOT NULL REFERENCES employers (id),
    program_id   uuid NOT NULL,
    provider_id  uuid NOT NULL,
    -- upskill.enrollment.v1.ProgramSnapshot at purchase (price per seat, template, skills).
    snapshot     bytea NOT NULL,
    -- Seats held; drops as unassigned seats are refunded (to 0 when none was redeemed).
    seats        integer NOT NULL CHECK (seats >= 0),
    total_minor  bigint NOT NULL CHECK (total_minor >= 0),
    currency     char(3) NOT NULL,
    status       text NOT NULL CHECK (status IN
                     ('PENDING_PAYMENT', 'PAID', 'EXPIRED', 'CANCELLED', 'REFUNDED')),
    payment_id   uuid UNIQUE,
    checkout_url text NOT NULL DEFAULT '',
    bought_by    text NOT NULL,
    bought_by_email text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX seat_packs_employer ON seat_packs (employer_id, created_at DESC, id DESC);
-- Packs that hold seats of a program (counted by reserve_seat).
CREATE INDEX seat_packs_program_live ON seat_packs (program_id)
    WHERE status IN ('PENDING_PAYMENT', 'PAID');

CREATE TABLE seat_invitations (
    id            uuid PRIMARY KEY,
    seat_pack_id  uuid NOT NULL REFERENCES seat_packs (id),
    email         text NOT NULL,
    -- sha256 of the one-time code: the code itself is shown once, to the manager.
    code_hash     text NOT NULL UNIQUE,
    expires_at    timestamptz NOT NULL,
    redeemed_at   timestamptz,
    -- A revoked code no longer works (it never held a seat: only redemptions do).
    revoked_at    timestamptz,
    enrollment_id uuid UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (seat_pack_id, email)
);

-- A sponsored enrollment: its seat is the pack's (not counted again), its price to the
-- learner nothing; at most one per invitation.
ALTER TABLE enrollments
    ADD COLUMN seat_pack_id       uuid,
    ADD COLUMN seat_invitation_id uuid UNIQUE;
CREATE INDEX enrollments_seat_pack ON enrollments (seat_pack_id) WHERE seat_pack_id IS NOT NULL;
