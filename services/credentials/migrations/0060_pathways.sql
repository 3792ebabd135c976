-- Issue 10: pathway credentials (stackable credentials).

-- Pathway definitions as the catalog published them (PathwayPublished/PathwayArchived).
-- `version` orders the events: an older one never undoes a newer one, whatever order
-- they arrive in. A published pathway's definition never changes, so it is taken from
-- whichever event carries it; `open` follows the newest event.
CREATE TABLE pathways (
    id             uuid PRIMARY KEY,
    provider_id    uuid NOT NULL,
    provider_name  text NOT NULL DEFAULT '',
    program_ids    uuid[] NOT NULL DEFAULT '{}',
    -- How many of program_ids earn the pathway (already resolved: never 0).
    required_count integer NOT NULL DEFAULT 0,
    achievement    jsonb,
    open           boolean NOT NULL,
    version        bigint NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pathways_programs ON pathways USING gin (program_ids);

-- A credential is an enrollment's (a program's achievement) or a pathway's, never both.
-- valid_until: the credential's validUntil, so that "valid" is a query (NULL: no expiry,
-- or issued before this column; those credentials predate pathways).
ALTER TABLE credentials
    ALTER COLUMN enrollment_id DROP NOT NULL,
    ALTER COLUMN program_id DROP NOT NULL,
    ADD COLUMN pathway_id uuid,
    ADD COLUMN valid_until timestamptz,
    ADD CONSTRAINT credentials_one_source CHECK ((enrollment_id IS NULL) <> (pathway_id IS NULL)),
    ADD CONSTRAINT credentials_pathway_no_program CHECK (pathway_id IS NULL OR program_id IS NULL);

-- At most one standing pathway credential per learner and pathway; a revoked one does not
-- count, so re-earning the pathway issues a new one.
CREATE UNIQUE INDEX credentials_one_standing_pathway ON credentials (learner_id, pathway_id)
    WHERE pathway_id IS NOT NULL AND status = 'ISSUED';
-- The learner's credentials by program (what a pathway evaluation reads).
CREATE INDEX credentials_learner_program ON credentials (learner_id, program_id)
    WHERE program_id IS NOT NULL;

-- The components a pathway credential stands on (its `evidence`): revoking one revokes it.
-- No foreign keys on purpose: a key check would share-lock the component's row, which a
-- revocation holds for update while it waits for the learner's lock (a deadlock).
CREATE TABLE pathway_components (
    credential_id uuid NOT NULL,
    component_id  uuid NOT NULL,
    PRIMARY KEY (credential_id, component_id)
);
CREATE INDEX pathway_components_component ON pathway_components (component_id);

-- A pathway credential revoked by a person (not because a component was): that learner
-- is not awarded the pathway again automatically.
CREATE TABLE pathway_bars (
    learner_id text NOT NULL,
    pathway_id uuid NOT NULL,
    reason     text NOT NULL,
    barred_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (learner_id, pathway_id)
);
