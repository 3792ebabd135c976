-- Issue 10: pathways across providers. A pathway may count another provider's program
-- only with that provider's consent: one request per (pathway, program), asked for by the
-- pathway's provider (requester_id) and decided by the program's (provider_id). The rule
-- of what a consent allows lives in services/catalog/pathways.py; this table only holds it.
CREATE TABLE pathway_consents (
    id           uuid PRIMARY KEY,
    pathway_id   uuid NOT NULL REFERENCES pathways (id),
    program_id   uuid NOT NULL REFERENCES programs (id),
    requester_id uuid NOT NULL REFERENCES providers (id),
    provider_id  uuid NOT NULL REFERENCES providers (id),
    status       text NOT NULL CHECK (status IN ('PENDING', 'GRANTED', 'REFUSED', 'WITHDRAWN')),
    decided_by   text NOT NULL DEFAULT '',
    version      bigint NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (requester_id <> provider_id),
    -- One request per pathway and program: concurrent duplicate requests meet here.
    UNIQUE (pathway_id, program_id)
);

-- The two listings of a provider's requests, newest first (keyset paging).
CREATE INDEX pathway_consents_incoming ON pathway_consents (provider_id, created_at DESC, id DESC);
CREATE INDEX pathway_consents_outgoing ON pathway_consents (requester_id, created_at DESC, id DESC);
