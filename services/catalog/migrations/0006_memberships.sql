-- Provider staff: who may act for a provider is held here, never in a token. A member is
-- an OIDC subject; an invitation names an email that the identity provider has verified
-- for whoever accepts it.
CREATE TABLE provider_members (
    provider_id uuid NOT NULL REFERENCES providers (id),
    subject     text NOT NULL,
    email       text NOT NULL DEFAULT '',
    role        text NOT NULL CHECK (role IN ('OWNER', 'STAFF')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider_id, subject)
);
-- "Which providers is this person on?" (memberships of a subject).
CREATE INDEX provider_members_by_subject ON provider_members (subject);

CREATE TABLE provider_invitations (
    id          uuid PRIMARY KEY,
    provider_id uuid NOT NULL REFERENCES providers (id),
    email       text NOT NULL,  -- lower-cased
    role        text NOT NULL CHECK (role IN ('OWNER', 'STAFF')),
    invited_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    accepted_at timestamptz,
    accepted_by text
);
-- One open invitation per provider and address: a duplicate (even a concurrent one) is
-- refused by the database, not by a check that two requests could both pass.
CREATE UNIQUE INDEX provider_invitations_open
    ON provider_invitations (provider_id, email) WHERE accepted_at IS NULL;
