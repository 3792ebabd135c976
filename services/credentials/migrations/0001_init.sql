-- Every key that signs or once signed: JWKS serves them all, so a rotation never
-- invalidates a credential signed by an older key.
CREATE TABLE issuer_keys (
    kid        text PRIMARY KEY,
    public_jwk jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Bitstring Status Lists: each credential owns one index in one list.
CREATE TABLE status_lists (
    id         text PRIMARY KEY,
    size       integer NOT NULL,
    next_index integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE credentials (
    id                uuid PRIMARY KEY,
    -- Exactly one credential per enrollment, however often the event is delivered.
    enrollment_id     uuid NOT NULL UNIQUE,
    program_id        uuid NOT NULL,
    provider_id       uuid NOT NULL,
    learner_id        text NOT NULL,
    achievement_name  text NOT NULL,
    status            text NOT NULL CHECK (status IN ('ISSUED', 'REVOKED')),
    jwt               text NOT NULL,
    kid               text NOT NULL REFERENCES issuer_keys (kid),
    status_list_id    text NOT NULL REFERENCES status_lists (id),
    status_index      integer NOT NULL,
    issued_at         timestamptz NOT NULL,
    revoked_at        timestamptz,
    revocation_reason text NOT NULL DEFAULT '',
    UNIQUE (status_list_id, status_index)
);

CREATE INDEX credentials_learner ON credentials (learner_id, issued_at DESC, id DESC);
CREATE INDEX credentials_provider ON credentials (provider_id, issued_at DESC, id DESC);
